"""One WebSocket connection to DashScope: JSON events out, server events in, microphone audio coalesced.

Built on core's :class:`~realtime_core.transport.WebSocketTransport` (TLS verified, typed handshake errors, a
receive loop that survives malformed frames and reports connection loss). Audio is the hot path (about 50
chunks a second per session): chunks are gathered into appends of at least ``min_append_ms`` (never held
longer than that: a timer flushes the tail) and written as UTF-8 bytes straight from the sample buffer,
without ``json.dumps`` or an intermediate ``str``. Images go the same way (``input_image_buffer.append``).

The link also remembers whether audio went out since the server last committed the input buffer: DashScope
refuses an image before any audio ("Error append image before append audio.").
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from realtime_core import ConnectionFailedError, PcmData
from realtime_core.transport import CloseClassifier, WebSocketTransport
from realtime_openai.protocol import append_audio_frame

from .config import INPUT_SAMPLE_RATE

if TYPE_CHECKING:
    from realtime_core import Realtime

__all__ = ["MessageHandler", "QwenLink", "image_frame"]

MessageHandler = Callable[[dict[str, Any]], None]
"""Called with each decoded server event, in order, from the receive task."""

log = logging.getLogger("realtime_qwen.link")
_IMAGE_HEAD = b'{"type":"input_image_buffer.append","image":"'
_IMAGE_TAIL = b'"}'
_BYTES_PER_MS = INPUT_SAMPLE_RATE * 2 / 1000


def image_frame(jpeg: bytes) -> bytes:
    """The UTF-8 text frame of ``input_image_buffer.append`` for one JPEG."""
    return b"".join((_IMAGE_HEAD, base64.b64encode(jpeg), _IMAGE_TAIL))


class QwenLink:
    """See the module docstring.

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
        self._session = session
        self._ws = WebSocketTransport(session, classify=classify)
        self._url = url
        self._headers = dict(headers)
        self._ca_file = ca_file
        self._open_timeout = open_timeout
        self._max_size = max_frame_size
        self._min_bytes = int(min_append_ms * _BYTES_PER_MS) // 2 * 2
        self._max_bytes = max(2, self._min_bytes, int(max_append_ms * _BYTES_PER_MS) // 2 * 2)
        self._window = min_append_ms / 1000
        self._pending = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self.audio_since_commit = False
        self.uncommitted_ms = 0.0

    def __repr__(self) -> str:  # never show headers (they hold the key)
        return f"<QwenLink open={self.is_open}>"

    async def open(self, on_message: MessageHandler) -> None:
        await self._ws.open(
            self._url, headers=self._headers, ca_file=self._ca_file, open_timeout=self._open_timeout, max_size=self._max_size
        )
        self._ws.start(on_message)

    @property
    def is_open(self) -> bool:
        return self._ws.is_open

    # ------------------------------------------------------------------ sending
    async def send(self, event: Mapping[str, Any]) -> None:
        await self._ws.send_json(event)

    async def send_audio(self, pcm: PcmData) -> None:
        """Send microphone audio (PCM16 mono at 16 kHz), coalesced (see the module docstring)."""
        samples = pcm.samples
        if samples.dtype.byteorder == ">":  # the wire is little-endian
            samples = samples.astype("<i2")
        data = memoryview(samples).cast("B")
        self.uncommitted_ms += pcm.duration_ms
        if not self._pending and data.nbytes >= self._min_bytes:
            await self._send_pieces(data)
            return
        self._pending += data  # a small chunk: copy it (the caller may reuse its buffer)
        if len(self._pending) >= self._min_bytes:
            await self.flush_audio()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._window, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        if self._pending and self.is_open:
            self._session._spawn(self.flush_audio(), name="qwen-audio-flush")

    async def flush_audio(self) -> None:
        """Send the audio held back for coalescing now (before a commit, an image, or when the timer fires)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        pending, self._pending = self._pending, bytearray()  # swapped first: appends keep their order
        await self._send_pieces(memoryview(pending))

    async def _send_pieces(self, data: memoryview) -> None:
        step = self._max_bytes
        for start in range(0, data.nbytes, step):
            await self._send_raw(append_audio_frame(data[start : start + step]))
        self.audio_since_commit = True

    async def send_image(self, jpeg: bytes) -> None:
        """Send one JPEG with ``input_image_buffer.append`` (pending audio goes first)."""
        await self.flush_audio()
        await self._send_raw(image_frame(jpeg))

    async def _send_raw(self, frame: bytes) -> None:
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

    async def close(self) -> None:
        """Close without reporting a lost connection; idempotent and safe on a dead connection."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending = bytearray()
        await self._ws.close()
