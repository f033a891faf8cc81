"""Transports carry decoded protocol events; the event handling above them is transport-agnostic.

A transport opens one connection, hands every server event (a decoded JSON object) to a callback, sends
client events (dicts), and moves microphone audio the way it needs to (WebSocket: base64 in
``input_audio_buffer.append``; WebRTC: an RTP track). :class:`WebSocketRealtimeTransport` is the
WebSocket one, built on core's :class:`~realtime_core.transport.WebSocketTransport` (typed handshake
errors, a receive loop that survives malformed frames, connection-loss reporting).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from realtime_core import ConnectionFailedError, PcmData, SessionState
from realtime_core.transport import CloseClassifier, WebSocketTransport

from .protocol import append_audio_frame

if TYPE_CHECKING:
    from realtime_core import Realtime

__all__ = ["MessageHandler", "RealtimeTransport", "WebSocketRealtimeTransport"]

log = logging.getLogger("realtime_openai.transport")

MessageHandler = Callable[[dict[str, Any]], None]
"""Called with each decoded server event, in order, from the transport's receive task."""


class RealtimeTransport(Protocol):
    """What the session needs from a transport (WebSocket now; WebRTC can implement the same)."""

    name: str

    async def open(self, on_message: MessageHandler) -> None:
        """Connect and start delivering server events to ``on_message``."""
        ...

    async def send(self, event: Mapping[str, Any]) -> None:
        """Send one client event."""
        ...

    async def send_audio(self, pcm: PcmData) -> None:
        """Send microphone audio (PCM16 mono at the session's input rate)."""
        ...

    async def flush_audio(self) -> None:
        """Send any audio the transport holds back (before a commit)."""
        ...

    async def close(self) -> None:
        """Close without reporting a lost connection; idempotent and safe on a dead connection."""
        ...

    @property
    def is_open(self) -> bool: ...


class WebSocketRealtimeTransport:
    """The WebSocket transport: JSON text frames both ways.

    Microphone audio is coalesced into appends of at least ``min_append_ms`` (default 50: a mic's 20 ms
    chunks go out as 60 ms appends, a third of the frames; audio never waits longer than
    ``min_append_ms``, a timer flushes the tail). Chunks that already meet the minimum go out at once
    without copying the PCM (base64 straight from the sample buffer); chunks longer than
    ``max_append_ms`` are split so no single frame grows huge. ``min_append_ms=0`` sends every chunk as is.
    """

    name = "websocket"

    def __init__(
        self,
        session: Realtime,
        url: str,
        *,
        headers: Mapping[str, str],
        ca_file: str | None = None,
        open_timeout: float = 10.0,
        classify: CloseClassifier | None = None,
        sample_rate: int = 24000,
        min_append_ms: float = 50.0,
        max_append_ms: float = 1000.0,
        max_frame_size: int | None = 64 * 1024 * 1024,
    ) -> None:
        self._session = session
        self._rate = sample_rate
        self._ws = WebSocketTransport(session, classify=classify)
        self._url = url
        self._headers = dict(headers)
        self._ca_file = ca_file
        self._open_timeout = open_timeout
        self._max_size = max_frame_size
        bytes_per_ms = sample_rate * 2 / 1000
        self._min_bytes = int(min_append_ms * bytes_per_ms) // 2 * 2
        self._max_bytes = max(2, self._min_bytes, int(max_append_ms * bytes_per_ms) // 2 * 2)
        self._window = min_append_ms / 1000
        self._pending = bytearray()
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:  # never show headers (they hold the key)
        return f"<WebSocketRealtimeTransport open={self.is_open}>"

    async def open(self, on_message: MessageHandler) -> None:
        await self._ws.open(
            self._url,
            headers=self._headers,
            ca_file=self._ca_file,
            open_timeout=self._open_timeout,
            max_size=self._max_size,
        )
        self._ws.start(on_message)

    async def send(self, event: Mapping[str, Any]) -> None:
        await self._ws.send_json(event)

    async def send_audio(self, pcm: PcmData) -> None:
        samples = pcm.samples
        if samples.dtype.byteorder == ">":  # the wire is little-endian
            samples = samples.astype("<i2")
        data = memoryview(samples).cast("B")
        if not self._pending and data.nbytes >= self._min_bytes:
            await self._send_pieces(data)
            return
        # a small chunk: copy it (the caller may reuse its buffer) and send once enough has gathered
        self._pending += data
        if len(self._pending) >= self._min_bytes:
            await self.flush_audio()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._window, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        if self._pending and self.is_open:
            self._session._spawn(self.flush_audio(), name="openai-audio-flush")  # pyright: ignore[reportPrivateUsage]

    async def flush_audio(self) -> None:
        """Send the audio held back for coalescing now (before a commit, or when the timer fires)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        # swap before sending: the write happens synchronously, so appends keep their order
        pending, self._pending = self._pending, bytearray()
        await self._send_pieces(memoryview(pending))

    async def _send_pieces(self, data: memoryview) -> None:
        step = self._max_bytes
        for start in range(0, data.nbytes, step):
            try:
                # bytes sent as a text frame: no str round trip
                await self._ws.send_utf8(append_audio_frame(data[start : start + step]))
            except ConnectionFailedError:
                self._hand_back(data[start:])
                raise

    def _hand_back(self, data: memoryview | bytearray) -> None:
        """Audio this connection could not send goes back to core: replayed after the reconnection."""
        if data:
            self._session._unsent_audio(PcmData.from_bytes(bytes(data), self._rate))  # pyright: ignore[reportPrivateUsage]

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, bytearray()
        if self._session.state is SessionState.RECONNECTING:
            self._hand_back(pending)  # the coalescing buffer of a connection being replaced
        await self._ws.close()

    @property
    def is_open(self) -> bool:
        return self._ws.is_open
