"""One connection to the Live API: core's :class:`~realtime_core.transport.WebSocketTransport` plus the way
Gemini takes audio.

The server sends every message as a BINARY WebSocket frame holding UTF-8 JSON; core's receive loop parses
binary and text frames alike (a malformed one becomes a ``ProtocolError`` event, never a dead loop), pings
within ``liveness_timeout`` and fails a send that cannot drain.

Gemini takes any amount of audio in one ``realtimeInput`` message, but the server closes the connection
(1009) for a frame that is too big: a long chunk is sent in pieces of at most ``max_audio_ms`` (core's
:class:`~realtime_core.audio_buffers.AudioBatcher`), in order, each its own message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from realtime_core import PcmData, SessionCore
from realtime_core.audio_buffers import AudioBatcher, pcm16_bytes
from realtime_core.transport import CloseClassifier, WebSocketTransport

from .endpoints import Endpoint
from .protocol import INPUT_RATE, audio_frame

__all__ = ["MAX_AUDIO_MS", "MAX_FRAME_BYTES", "GeminiTransport"]

MAX_AUDIO_MS = 1000.0
"""The longest audio one message carries (32 KB of PCM, about 43 KB of JSON)."""
MAX_FRAME_BYTES = 16 * 1024 * 1024
"""The largest server frame accepted; a bigger one closes the connection (1009) and core reconnects."""

Handler = Callable[[dict[str, Any]], Awaitable[None] | None]


class GeminiTransport:
    """The socket of one connection; see the module docstring. ``repr`` shows no URL or header."""

    def __init__(self, core: SessionCore, *, classify: CloseClassifier, max_audio_ms: float = MAX_AUDIO_MS) -> None:
        self._ws = WebSocketTransport(core, classify=classify)
        self._pieces = AudioBatcher(INPUT_RATE, min_ms=0, max_ms=max_audio_ms)

    def __repr__(self) -> str:
        return f"<GeminiTransport open={self.is_open}>"

    async def open(self, endpoint: Endpoint, *, ca_file: str | None, open_timeout: float, handler: Handler) -> None:
        """Open the socket and start reading: every server message goes to ``handler``, in order."""
        await self._ws.open(
            endpoint.url,
            headers=endpoint.headers,
            ca_file=ca_file,
            open_timeout=open_timeout,
            max_size=MAX_FRAME_BYTES,
        )
        self._ws.start(handler)

    async def send_json(self, message: dict[str, Any]) -> None:
        await self._ws.send_json(message)

    async def send_audio(self, pcm: PcmData) -> None:
        """Send mono PCM16 at 16 kHz as one or more ``realtimeInput.audio`` messages.

        :raises ConnectionFailedError: the connection is gone (core keeps the chunk and replays it).
        """
        data = pcm16_bytes(pcm)
        if data.nbytes <= self._pieces.max_bytes:  # a mic chunk: one frame, straight from the sample buffer
            await self._ws.send_utf8(audio_frame(data, INPUT_RATE))
        else:
            await self._pieces.send_pieces(data, self._send_piece)

    async def _send_piece(self, piece: memoryview) -> None:
        await self._ws.send_utf8(audio_frame(piece, INPUT_RATE))  # bytes as a text frame: no str round trip

    async def wait[T](self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless the connection closes first (then raise the classified close)."""
        return await self._ws.wait(awaitable)

    async def close(self) -> None:
        """Close the socket (a close frame with 1000, Gemini's only closing message) and stop reading."""
        await self._ws.close()

    @property
    def is_open(self) -> bool:
        return self._ws.is_open
