"""One WebSocket connection to DashScope: JSON events out, server events in, microphone audio coalesced.

Built on core's :class:`~realtime_core.transport.WebSocketTransport` (TLS verified, typed handshake errors, a
receive loop that survives malformed frames and reports connection loss), through realtime-openai's
WebSocket transport: DashScope's ``input_audio_buffer.append`` is OpenAI's. Audio is the hot path (about 50
chunks a second per session): core's :class:`~realtime_core.audio_buffers.AudioBatcher` gathers chunks into
appends of at least ``min_append_ms`` (never held longer than that: a timer flushes the tail), written as
UTF-8 bytes straight from the sample buffer, without ``json.dumps`` or an intermediate ``str``. Images go the
same way (``input_image_buffer.append``).

The link also remembers whether audio went out since the server last committed the input buffer: DashScope
refuses an image before any audio ("Error append image before append audio.").
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from websockets.exceptions import ConnectionClosed

from realtime_core import ConnectionFailedError, PcmData
from realtime_core.transport import CloseClassifier
from realtime_openai.protocol import append_audio_frame
from realtime_openai.transport import MessageHandler, WebSocketRealtimeTransport

from .config import INPUT_SAMPLE_RATE

if TYPE_CHECKING:
    from realtime_core import Realtime

__all__ = ["MessageHandler", "QwenLink", "image_frame"]

log = logging.getLogger("realtime_qwen.link")
_IMAGE_HEAD = b'{"type":"input_image_buffer.append","image":"'
_IMAGE_TAIL = b'"}'


def image_frame(jpeg: bytes) -> bytes:
    """The UTF-8 text frame of ``input_image_buffer.append`` for one JPEG."""
    return b"".join((_IMAGE_HEAD, base64.b64encode(jpeg), _IMAGE_TAIL))


class QwenLink(WebSocketRealtimeTransport):
    """realtime-openai's WebSocket transport (the same append frames and coalescing), plus images and the
    bookkeeping DashScope needs. See the module docstring.

    Audio that could not be sent is not handed back to core: DashScope cannot resume, so a reconnect starts a
    new conversation, and the chunk whose send failed reaches core's gap buffer through the error instead.

    :ivar audio_since_commit: audio was sent since the server's last ``input_audio_buffer.committed`` or
        ``cleared`` (so an image would be accepted).
    :ivar uncommitted_ms: audio sent since the client's last commit or clear (manual turns).
    """

    def __init__(
        self,
        session: Realtime,
        url: str,
        *,
        headers: Mapping[str, str],
        ca_file: str | None = None,
        open_timeout: float = 10.0,
        classify: CloseClassifier | None = None,
        min_append_ms: float = 50.0,
        max_append_ms: float = 1000.0,
        max_frame_size: int | None = 16 * 1024 * 1024,
    ) -> None:
        super().__init__(
            session,
            url,
            headers=headers,
            ca_file=ca_file,
            open_timeout=open_timeout,
            classify=classify,
            sample_rate=INPUT_SAMPLE_RATE,
            min_append_ms=min_append_ms,
            max_append_ms=max_append_ms,
            max_frame_size=max_frame_size,
            hand_back_unsent=False,
        )
        self.audio_since_commit = False
        self.uncommitted_ms = 0.0

    # ------------------------------------------------------------------ sending
    async def send_audio(self, pcm: PcmData) -> None:
        """Send microphone audio (PCM16 mono at 16 kHz), coalesced (see the module docstring)."""
        self.uncommitted_ms += pcm.duration_ms
        # the base class's three lines again rather than super(): one coroutine less per chunk on the hot path
        data = self._batcher.push(pcm)
        if data is not None:
            await self._batcher.send_pieces(data, self._send_append, on_unsent=self._on_unsent)

    async def _send_append(self, piece: memoryview) -> None:
        await self._send_frame(append_audio_frame(piece))
        self.audio_since_commit = True

    async def send_image(self, jpeg: bytes) -> None:
        """Send one JPEG with ``input_image_buffer.append`` (pending audio goes first)."""
        await self.flush_audio()
        await self._send_frame(image_frame(jpeg))

    async def _send_frame(self, frame: bytes) -> None:
        """Send one UTF-8 JSON frame; unlike core's ``send_utf8`` it refuses once the link is closing."""
        ws = self._ws.ws
        if ws is None or self._ws.closing:
            raise ConnectionFailedError("not connected", provider="qwen")
        try:
            await ws.send(frame, text=True)  # bytes sent as a text frame: no str round trip
        except ConnectionClosed as exc:
            raise ConnectionFailedError(
                f"the connection closed while sending (code {exc.rcvd.code if exc.rcvd else None})", provider="qwen"
            ) from None

    def buffer_committed(self) -> None:
        """The server committed or cleared its input buffer: an image now needs fresh audio first."""
        self.audio_since_commit = False

    def turn_reset(self) -> None:
        """The client committed or cleared the buffer: a new manual turn starts."""
        self.uncommitted_ms = 0.0
