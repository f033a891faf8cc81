"""Transports carry decoded protocol events; the event handling above them is transport-agnostic.

A transport opens one connection, hands every server event (a decoded JSON object) to a callback, sends
client events (dicts), and moves microphone audio the way it needs to (WebSocket: base64 in
``input_audio_buffer.append``; WebRTC: an RTP track). :class:`WebSocketRealtimeTransport` is the WebSocket
one, built on core's :class:`~realtime_core.transport.WebSocketTransport` (typed handshake errors, a receive
loop that survives malformed frames, liveness pings, connection-loss reporting).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from realtime_core import PcmData, RealtimeError, SessionCore, SessionState
from realtime_core.audio_buffers import AudioBatcher
from realtime_core.transport import CloseClassifier, WebSocketTransport

from .client_events import append_audio_frame

__all__ = ["MessageHandler", "RealtimeTransport", "WebSocketRealtimeTransport"]

log = logging.getLogger("realtime_openai_protocol.transport")
_T = TypeVar("_T")

MessageHandler = Callable[[dict[str, Any]], None]
"""Called with each decoded server event, in order, from the transport's receive task."""


class RealtimeTransport(Protocol):
    """What a session needs from a transport (WebSocket; WebRTC implements the same)."""

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

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable`` unless the connection ends first (then raise why it ended)."""
        ...

    async def close(self) -> None:
        """Close without reporting a lost connection; idempotent and safe on a dead or half-open connection."""
        ...

    @property
    def is_open(self) -> bool: ...


class WebSocketRealtimeTransport:
    """The WebSocket transport: JSON text frames both ways.

    Microphone audio goes through core's :class:`~realtime_core.audio_buffers.AudioBatcher`: coalesced into
    appends of at least ``min_append_ms`` (default 50: a mic's 20 ms chunks go out as 60 ms appends, a third
    of the frames; audio never waits longer than ``min_append_ms``, a timer flushes the tail). Chunks that
    already meet the minimum go out at once without copying the PCM (base64 straight from the sample
    buffer); chunks longer than ``max_append_ms`` are split so no single frame grows huge.
    ``min_append_ms=0`` sends every chunk as is.

    :param core: the owning session's :class:`~realtime_core.SessionCore`.
    :param classify: turns an unexpected close into the error reported to core (the dialect's
        ``classify_close``, or the handler's ``connection_closed``).
    :param hand_back_unsent: give audio this connection could not send (a failed send, or the batch still
        gathering when the connection is replaced) back to core, which replays it after the reconnection.
        A session that does so must not let the send's :class:`ConnectionFailedError` reach core's audio
        wrapper as well (core would keep the chunk a second time).
    """

    name = "websocket"

    def __init__(
        self,
        core: SessionCore,
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
        hand_back_unsent: bool = True,
    ) -> None:
        self._core = core
        self._ws = WebSocketTransport(core, classify=classify)
        self._url = url
        self._headers = dict(headers)
        self._ca_file = ca_file
        self._open_timeout = open_timeout
        self._max_size = max_frame_size
        self._batcher = AudioBatcher(sample_rate, min_ms=min_append_ms, max_ms=max_append_ms, on_due=self._flush_later)
        self._on_unsent = core.unsent_audio if hand_back_unsent else None
        self._flush_task_name = f"{core.provider_name}-audio-flush"

    def __repr__(self) -> str:  # never show headers (they hold the key)
        return f"<{type(self).__name__} open={self.is_open}>"

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
        data = self._batcher.push(pcm)
        if data is not None:
            await self._batcher.send_pieces(data, self._send_append, on_unsent=self._on_unsent)

    def _flush_later(self) -> None:
        # the batcher's timer: the tail of what the app sent has waited min_append_ms
        if self.is_open:
            self._core.spawn(self.flush_audio(), name=self._flush_task_name)

    async def flush_audio(self) -> None:
        """Send the audio held back for coalescing now (before a commit, or when the timer fires)."""
        data = self._batcher.take()
        if data is not None:
            await self._batcher.send_pieces(data, self._send_append, on_unsent=self._on_unsent)

    async def _send_append(self, piece: memoryview) -> None:
        """Send one ``input_audio_buffer.append`` (the batcher splits what it sends at ``max_append_ms``)."""
        await self._ws.send_utf8(append_audio_frame(piece))  # bytes sent as a text frame: no str round trip

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        return await self._ws.wait(awaitable)

    async def close(self) -> None:
        if self._core.state is SessionState.RECONNECTING:
            pending = self._batcher.take()
            if pending is not None and self._on_unsent is not None:
                self._on_unsent(self._batcher.to_pcm(pending))  # the coalescing buffer of a connection being replaced
        elif self.is_open:
            # close() is a barrier: the provider gets every frame the app sent before it
            with contextlib.suppress(RealtimeError):
                await self.flush_audio()
        await self._ws.close()

    @property
    def is_open(self) -> bool:
        return self._ws.is_open
