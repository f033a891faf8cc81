"""Bounded, per-consumer event queues (what ``session.events()`` returns).

Policy when the app falls behind (the queue holds ``maxsize`` events):

1. the oldest :class:`RealtimeAudioInputEvent` is dropped first (it only mirrors what the app itself sent);
2. then the oldest *streaming* event: an audio output chunk or a text/transcript delta;
3. control events (connected, disconnected, done, final transcripts, errors, tools, interruptions...) are
   never dropped; if only those remain the queue grows past ``maxsize``.

Each drop increments :attr:`EventStream.dropped` and the first one logs a warning. Output events that
became stale through an interruption are discarded at delivery (and purged from the queue at once), so a
slow consumer never plays audio from before a barge-in.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from .events import (
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioInputEvent,
    RealtimeAudioOutputEvent,
    RealtimeEvent,
    RealtimeResponseEvent,
    RealtimeUserSpeechTranscriptionEvent,
    UserTranscriptEvent,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["EventStream"]

log = logging.getLogger("realtime_core.events")


def _is_streaming(event: RealtimeEvent) -> bool:
    if isinstance(event, RealtimeAudioOutputEvent):
        return True
    if isinstance(event, RealtimeResponseEvent):
        return not event.is_complete
    if isinstance(event, (RealtimeAgentSpeechTranscriptionEvent, RealtimeUserSpeechTranscriptionEvent)):
        return event.mode == "delta"
    if isinstance(event, UserTranscriptEvent):
        return not event.is_final
    return False


class EventStream:
    """An async iterator over a session's events, from the moment it was created.

    Use ``async for event in session.events(): ...``; iteration ends after the session's final
    disconnect. ``types`` limits the stream to some event classes. Mirrors of the app's own input audio
    (:class:`RealtimeAudioInputEvent`) come only when asked for (``audio_input=True``, or ``types``
    naming them): the app already has its audio, and building 50 events a second nobody reads costs.
    Call :meth:`close` (or use ``async with``) to stop receiving early.
    """

    def __init__(
        self,
        *,
        maxsize: int,
        is_stale: Callable[[RealtimeEvent], bool],
        on_close: Callable[[EventStream], None],
        types: Iterable[type[RealtimeEvent]] | None = None,
        audio_input: bool = False,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.dropped = 0
        self._queue: deque[RealtimeEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._is_stale = is_stale
        self._on_close = on_close
        self._types = tuple(types) if types else None
        self.wants_audio_input = audio_input or (
            self._types is not None and any(issubclass(RealtimeAudioInputEvent, t) for t in self._types)
        )

    # ------------------------------------------------------------------ producer side (session)
    def push(self, event: RealtimeEvent) -> None:
        if self._ended or (self._types is not None and not isinstance(event, self._types)):
            return
        if not self.wants_audio_input and type(event) is RealtimeAudioInputEvent:
            return
        queue = self._queue
        queue.append(event)
        if len(queue) > self.maxsize:
            self._shed()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _shed(self) -> None:
        victim = self._find(lambda e: isinstance(e, RealtimeAudioInputEvent)) or self._find(_is_streaming)
        if victim is None:
            return
        self._queue.remove(victim)
        if not self.dropped:
            log.warning(
                "event consumer is falling behind (more than %d queued); dropping %s events",
                self.maxsize,
                type(victim).__name__,
            )
        self.dropped += 1

    def _find(self, predicate: Callable[[RealtimeEvent], bool]) -> RealtimeEvent | None:
        for event in self._queue:
            if predicate(event):
                return event
        return None

    def purge_stale(self) -> None:
        if any(self._is_stale(e) for e in self._queue):
            self._queue = deque(e for e in self._queue if not self._is_stale(e))

    def end(self) -> None:
        """No more events will come; iteration stops once the queue is drained."""
        self._ended = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------ consumer side (app)
    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> RealtimeEvent:
        while True:
            queue = self._queue
            while queue:
                event = queue.popleft()
                if not self._is_stale(event):
                    return event
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def get_nowait(self) -> RealtimeEvent | None:
        """The next deliverable event, or ``None`` if none is queued."""
        while self._queue:
            event = self._queue.popleft()
            if not self._is_stale(event):
                return event
        return None

    async def next(self, timeout: float | None = None) -> RealtimeEvent:
        """The next event; raises ``TimeoutError`` after ``timeout`` seconds, ``StopAsyncIteration`` at the end."""
        if timeout is None:
            return await self.__anext__()
        async with asyncio.timeout(timeout):
            return await self.__anext__()

    async def wait_for(
        self,
        event_type: type[RealtimeEvent] | tuple[type[RealtimeEvent], ...],
        predicate: Callable[[Any], bool] | None = None,
        *,
        timeout: float = 10.0,
    ) -> Any:
        """Skip events until one of ``event_type`` (matching ``predicate``) arrives; raise ``TimeoutError``."""
        async with asyncio.timeout(timeout):
            async for event in self:
                if isinstance(event, event_type) and (predicate is None or predicate(event)):
                    return event
        raise StopAsyncIteration(f"the session ended before a {event_type} event arrived")

    def __len__(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        """Stop receiving events."""
        self.end()
        self._queue.clear()
        self._on_close(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
