"""Delivering a session's events: to observer plugins (hooks), to ``events()`` streams and to ``on()`` handlers.

Order for each event: observer hooks (synchronously, in emission order), then every open stream.
Handlers registered with ``on()`` read their own stream in one task, one event at a time. After the
session's final disconnect the dispatcher is *ended*: streams finish once drained, nothing new is
delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from .events import RealtimeAudioInputEvent, RealtimeConnectedEvent, RealtimeEvent
from .hookcalls import HookCache
from .stream import EventStream

__all__ = ["EventDispatcher"]

log = logging.getLogger("realtime_core.session")

Handler = Callable[[Any], Any]


class EventDispatcher:
    """See the module docstring.

    :param session: passed to event hooks as their ``session`` argument.
    :param is_stale: whether an output event belongs to an interrupted response (streams drop those).
    :param buffer: default ``maxsize`` of each stream.
    """

    def __init__(self, session: object, *, is_stale: Callable[[RealtimeEvent], bool], buffer: int) -> None:
        self._session = session
        self._is_stale = is_stale
        self.buffer = buffer
        self.hooks = HookCache()
        self.ended = False
        self._streams: list[EventStream] = []
        self._handlers: list[tuple[type[RealtimeEvent], Handler]] = []
        self._handler_stream: EventStream | None = None
        self._handler_task: asyncio.Task[None] | None = None
        self.last_connected: RealtimeConnectedEvent | None = None

    # ------------------------------------------------------------------ delivering
    def emit(self, event: RealtimeEvent) -> None:
        calls = self.hooks.event_calls(type(event))
        if calls:
            kwargs = {"session": self._session, "event": event}
            for call in calls:
                try:
                    call(kwargs)
                except Exception:
                    log.exception("realtime observer failed on %s", event.type)
        for stream in self._streams:
            stream.push(event)

    def has_listeners(self, cls: type[RealtimeEvent]) -> bool:
        """Whether building an event of ``cls`` is worth it (the audio path skips unobserved events)."""
        return bool(self._streams) or bool(self.hooks.event_calls(cls))

    def wants_audio_input(self) -> bool:
        """Whether a stream or a hook takes mirrors of the app's input audio (50 a second per session)."""
        for stream in self._streams:  # usually zero or one stream
            if stream.wants_audio_input:
                return True
        return bool(self.hooks.event_calls(RealtimeAudioInputEvent))

    def purge_stale(self) -> None:
        for stream in self._streams:
            stream.purge_stale()

    def end(self) -> None:
        """No more events: streams end once drained."""
        self.ended = True
        for stream in self._streams:
            stream.end()

    # ------------------------------------------------------------------ streams
    def stream(
        self,
        *,
        maxsize: int | None,
        types: Iterable[type[RealtimeEvent]] | None,
        replay_connected: bool,
        audio_input: bool = False,
    ) -> EventStream:
        stream = EventStream(
            maxsize=maxsize or self.buffer, is_stale=self._is_stale, on_close=self._drop, types=types, audio_input=audio_input
        )
        if self.ended:
            stream.end()
            return stream
        if replay_connected and self.last_connected is not None:
            stream.push(self.last_connected)
        self._streams.append(stream)
        return stream

    def _drop(self, stream: EventStream) -> None:
        with contextlib.suppress(ValueError):
            self._streams.remove(stream)

    @property
    def stream_count(self) -> int:
        return len(self._streams)

    # ------------------------------------------------------------------ handlers
    def on(self, event_type: type[RealtimeEvent], handler: Handler) -> None:
        self._handlers.append((event_type, handler))
        if issubclass(event_type, RealtimeAudioInputEvent) and self._handler_stream is not None:
            self._handler_stream.wants_audio_input = True
        self.start_handlers()

    def off(self, handler: Handler) -> None:
        self._handlers = [(t, h) for t, h in self._handlers if h is not handler]

    @property
    def has_handlers(self) -> bool:
        return bool(self._handlers)

    def start_handlers(self) -> None:
        """Start the handler task (needs a running loop; ``connect()`` calls this again)."""
        if self._handler_stream is None:
            wants_input = any(issubclass(t, RealtimeAudioInputEvent) for t, _ in self._handlers)
            self._handler_stream = self.stream(maxsize=None, types=None, replay_connected=True, audio_input=wants_input)
        if self._handler_task is None or self._handler_task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._handler_task = loop.create_task(self._run_handlers(self._handler_stream), name="realtime-handlers")

    async def _run_handlers(self, stream: EventStream) -> None:
        async for event in stream:
            for event_type, handler in list(self._handlers):
                if not isinstance(event, event_type):
                    continue
                try:
                    result = handler(event)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:
                    log.exception("event handler %r failed on %s", handler, event.type)

    async def drain_handlers(self, timeout: float) -> None:
        """After :meth:`end`: let handlers finish the queued events (cancel them after ``timeout``)."""
        task = self._handler_task
        if task is None or task is asyncio.current_task() or task.done():
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(task)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
