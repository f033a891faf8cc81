"""An in-process fake provider for app developers' unit tests.

:class:`FakeRealtime` behaves like a provider session without any network: it runs the emulator's
energy VAD on the audio you send and plays a :class:`~realtime_core.emulator.Scenario` (echo by default),
emitting the same events a real provider would, including barge-in, tools and reconnection. Use it to
test *your app's* event handling quickly. It is not a substitute for the provider emulators, which test
plugins over real sockets and real protocols.

    session = FakeRealtime(scenario=Scenario(turns=[Turn(reply=Reply(text="Hi!"))]))
    async with session:
        await session.simple_response("Hello")
        ...

:class:`EventRecorder` records every event a session delivers, in order, and waits on them without sleeps.
It works on any session (a fake, a provider pointed at its emulator, or the real service)::

    async with EventRecorder(session) as rec:
        await session.simple_response("Hello")
        done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
        assert rec.of(RealtimeAudioOutputEvent, lambda e: e.response_id == done.response_id)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from .audio import PcmData
from .capabilities import Capabilities
from .emulator.engine import PlannedReply, PlannedTurn, ScenarioPlayer
from .emulator.scenario import Reply, Scenario
from .emulator.server import EmulatorServer
from .emulator.vad import EnergyVad
from .errors import ConnectionFailedError
from .events import RealtimeEvent
from .reconnect import ReconnectContext
from .responses import InterruptInfo
from .session import Realtime
from .tools import ToolCall, ToolResult
from .video import VideoFrameJpeg

__all__ = [
    "EventRecorder",
    "FakeProviderLog",
    "FakeRealtime",
    "client_messages",
    "pending_tasks",
    "speak",
    "speech_tone",
    "stream_audio",
]

_ids = itertools.count(1)
E = TypeVar("E", bound=RealtimeEvent)


def pending_tasks(session: Realtime) -> list[asyncio.Task[Any]]:
    """The tasks ``session`` owns that have not finished (after ``close()``: none, or it leaks).

    Tasks a plugin started without the session (``asyncio.create_task``) are not in it: compare
    ``asyncio.all_tasks()`` before and after to catch those too.
    """
    return session._core.pending_tasks()  # pyright: ignore[reportPrivateUsage]


@dataclass
class FakeProviderLog:
    """What the fake provider received, for assertions."""

    audio_ms: float = 0.0
    texts: list[str] = field(default_factory=list[str])
    said: list[str] = field(default_factory=list[str])
    tool_results: list[list[ToolResult]] = field(default_factory=list[list[ToolResult]])
    frames: list[VideoFrameJpeg] = field(default_factory=list[VideoFrameJpeg])
    interrupts: list[InterruptInfo] = field(default_factory=list[InterruptInfo])
    connections: int = 0


class FakeRealtime(Realtime):
    """A scripted provider session that runs entirely in-process.

    :param scenario: what the fake model does (default: echo).
    :param capabilities: override the declared capabilities (default: everything on).
    :param input_sample_rate: rate the fake "provider" takes.
    :param output_sample_rate: rate of reply audio.
    :param fail_connect: make ``connect()`` fail with :class:`ConnectionFailedError`.
    """

    provider_name = "fake"

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        capabilities: Capabilities | None = None,
        input_sample_rate: int = 16000,
        output_sample_rate: int = 24000,
        fail_connect: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario or Scenario()
        self._caps_override = capabilities
        self._in_rate = input_sample_rate
        self._out_rate = output_sample_rate
        self._fail_connect = fail_connect
        self.log = FakeProviderLog()
        self._player = ScenarioPlayer(self.scenario, output_sample_rate)
        self._vad: EnergyVad | None = None
        self._playing: asyncio.Task[None] | None = None
        self._pending_after_tools: PlannedReply | None = None

    def _build_capabilities(self) -> Capabilities:
        if self._caps_override is not None:
            return self._caps_override
        return Capabilities(
            transports=("in-process",),
            transport="in-process",
            input_sample_rate=self._in_rate,
            output_sample_rate=self._out_rate,
            text_output=False,
            text_input=True,
            say=True,
            video_input=True,
            video_max_fps=2.0,
            video_max_width=640,
            video_max_height=480,
            tools=True,
            parallel_tool_calls=True,
            tool_call_cancellation=True,
            interruption=True,
            truncation=True,
            user_transcript="final",
            agent_transcript="delta",
            server_vad=True,
            manual_turns=True,
            user_speech_events=True,
            usage=True,
            session_resumption=True,
            reconnection=True,
        )

    # ------------------------------------------------------------------ provider surface
    async def connect(self) -> None:
        if self._fail_connect:
            raise ConnectionFailedError("fake provider refused the connection", provider=self.provider_name)
        self._open()
        self._emit_connected_event({"scenario": self.scenario.name}, self.capabilities)

    def _open(self) -> None:
        vad = self.scenario.vad
        self._vad = EnergyVad(
            self.capabilities.input_sample_rate,
            threshold=vad.threshold,
            silence_ms=vad.silence_ms,
            prefix_ms=vad.prefix_ms,
            min_speech_ms=vad.min_speech_ms,
        )
        self.log.connections += 1

    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        self.log.audio_ms += pcm.duration_ms
        assert self._vad is not None
        for event in self._vad.process(pcm):
            if event.kind == "start":
                self._emit_user_speech_started(audio_start_ms=event.at_ms)
                if self.responding:
                    self._core.handle_barge_in()
            else:
                self._emit_user_speech_stopped(audio_end_ms=event.at_ms)
                turn = self._player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
                if turn is not None:
                    self._play(turn)

    async def simple_response(self, text: str) -> None:
        self.log.texts.append(text)
        turn = self._player.next_turn("text", text=text)
        if turn is not None:
            self._play(turn)

    async def say(self, text: str) -> None:
        self.log.said.append(text)
        reply = self._player.render(Reply(text=text))
        self._start_reply(reply)

    async def end_user_turn(self) -> None:
        assert self._vad is not None
        event = self._vad.force_stop()
        if event is not None:
            self._emit_user_speech_stopped(audio_end_ms=event.at_ms)
            turn = self._player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
            if turn is not None:
                self._play(turn)

    async def close(self) -> None:
        await self._stop_playing()

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        self.log.interrupts.append(info)
        await self._stop_playing()

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        self.log.tool_results.append(results)
        reply, self._pending_after_tools = self._pending_after_tools, None
        if reply is not None:
            self._start_reply(reply)

    async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
        self.log.frames.append(frame)

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        self._open()
        return True

    # ------------------------------------------------------------------ test helpers
    def simulate_disconnect(self, *, recoverable: bool = True) -> None:
        """Pretend the transport dropped (core then reconnects if it can)."""
        self._core.connection_lost(
            ConnectionFailedError("simulated drop", provider=self.provider_name, recoverable=recoverable)
        )

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until the current reply finished streaming."""
        task = self._playing
        if task is not None:
            async with asyncio.timeout(timeout):
                await asyncio.shield(task)

    # ------------------------------------------------------------------ playback
    def _play(self, turn: PlannedTurn) -> None:
        if turn.trigger == "speech":  # typed text needs no transcript
            self._emit_user_speech_transcription(turn.user_transcript, mode="final")
        self._pending_after_tools = turn.after_tools
        self._start_reply(turn.reply)

    def _start_reply(self, reply: PlannedReply) -> None:
        if self._playing is not None and not self._playing.done():
            self._playing.cancel()
        self._playing = self._core.spawn(self._stream(reply, f"resp_{next(_ids):06d}"), name="fake-reply")

    async def _stop_playing(self) -> None:
        task, self._playing = self._playing, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _stream(self, reply: PlannedReply, rid: str) -> None:
        self._core.begin_response(rid)
        if reply.first_chunk_delay_ms:
            await asyncio.sleep(reply.first_chunk_delay_ms / 1000)
        for piece in reply.text_chunks():
            self._emit_agent_speech_transcription(piece, mode="delta", response_id=rid)
            await asyncio.sleep(0)
        for chunk in reply.audio_chunks():
            self._emit_audio_output_event(chunk, rid)
            await asyncio.sleep(reply.chunk_interval_ms / 1000 if reply.chunk_interval_ms else 0)
        if reply.text:
            self._emit_agent_speech_transcription(reply.text, mode="final", response_id=rid)
        self._emit_audio_output_done_event(rid)
        self._emit_usage_event(rid, input_tokens=10, output_tokens=20, total_tokens=30)
        if reply.tool_calls:
            self._core.start_tool_calls(
                [ToolCall(c.call_id, c.name, c.arguments, response_id=rid) for c in reply.tool_calls]
            )


# ====================================================================== event recorder
def _describe(
    kinds: type[Any] | tuple[type[Any], ...], predicate: Callable[[Any], bool] | None, count: int, start: int
) -> str:
    """What a wait is for, as a timeout message names it: ``2 x RealtimeAudioOutputEvent matching f after event #3``."""
    classes = kinds if isinstance(kinds, tuple) else (kinds,)
    what = f"{count} x {' | '.join(c.__name__ for c in classes)}"
    if predicate is not None:
        what += f" matching {getattr(predicate, '__qualname__', repr(predicate))}"
    if start:
        what += f" after event #{start}"
    return what


class EventRecorder:
    """Every event a session delivers, from now on, in order, with waits on them (no sleeps needed).

    Creating one (inside a running event loop) starts a task that consumes a :meth:`Realtime.events`
    stream of ``session`` into :attr:`events`. Waits look at the whole recording, so an event that arrived
    before you started waiting is found too; use :meth:`mark` (or an event) as ``after=`` to look only at
    what came later::

        rec = EventRecorder(session)
        await session.connect()
        await session.simple_response("Hello")
        first = await rec.wait_for(RealtimeAudioOutputEvent)
        mark = rec.mark()
        await session.interrupt()
        cut = await rec.wait_for(RealtimeInterruptedEvent, after=mark)
        assert not rec.of(RealtimeAudioOutputEvent, lambda e: e.response_id == first.response_id, after=cut)
        await rec.aclose()

    The recording ends by itself when the session's events end (its final disconnect, or ``close()``);
    :meth:`aclose` (or ``async with``) stops it earlier. Like any consumer it sees the session's event
    policy: output events of an interrupted response that had not been recorded yet are never delivered.

    :param session: the session to record (connected or not).
    :param timeout: default seconds for :meth:`wait_for`, :meth:`collect_until` and :meth:`wait_ended`.
    :param types: record only these event classes (default: all, mirrors of the input audio included).
    :param maxsize: the stream's bound (see :mod:`realtime_core.stream`); the default is large enough that a
        recorder never drops events in practice.
    :ivar events: the recorded events, in delivery order (the live list: do not modify it).
    :ivar ended: set once the session's event stream has ended and every event is recorded.
    """

    def __init__(
        self,
        session: Realtime,
        *,
        timeout: float = 10.0,
        types: Iterable[type[RealtimeEvent]] | None = None,
        maxsize: int = 1_000_000,
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.events: list[RealtimeEvent] = []
        self.ended = asyncio.Event()
        self._waiters: list[asyncio.Future[None]] = []
        self._stream = session.events(maxsize=maxsize, types=types, audio_input=True)
        self._task = asyncio.get_running_loop().create_task(self._record(), name="realtime-event-recorder")

    async def _record(self) -> None:
        try:
            async for event in self._stream:
                self.events.append(event)
                self._wake()
        finally:
            self.ended.set()
            self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _changed(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    # ------------------------------------------------------------------ reading the recording
    @property
    def dropped(self) -> int:
        """Events the stream had to drop because the recorder fell behind (see :mod:`realtime_core.stream`)."""
        return self._stream.dropped

    def mark(self) -> int:
        """The index the next event will get: pass it as ``after=`` to look only at later events."""
        return len(self.events)

    def index_of(self, event: RealtimeEvent) -> int:
        """The position of ``event`` (this very object) in :attr:`events`; ``ValueError`` if not recorded."""
        events = self.events
        for i in range(len(events) - 1, -1, -1):
            if events[i] is event:
                return i
        raise ValueError(f"{event.type} event not recorded")

    def _start(self, after: int | RealtimeEvent) -> int:
        if isinstance(after, RealtimeEvent):
            return self.index_of(after) + 1
        if after < 0:
            raise ValueError("after must be an index >= 0 or a recorded event")
        return after

    def of(
        self,
        cls: type[E] | tuple[type[E], ...],
        predicate: Callable[[E], bool] | None = None,
        *,
        after: int | RealtimeEvent = 0,
    ) -> list[E]:
        """The recorded events of ``cls`` (matching ``predicate``), in order.

        :param after: an index (as from :meth:`mark`): only events from there on; or a recorded event:
            only the events that came after it.
        """
        start = self._start(after)
        return [e for e in self.events[start:] if isinstance(e, cls) and (predicate is None or predicate(e))]

    # ------------------------------------------------------------------ waiting
    async def wait_for(
        self,
        cls: type[E] | tuple[type[E], ...],
        predicate: Callable[[E], bool] | None = None,
        *,
        count: int = 1,
        after: int | RealtimeEvent = 0,
        timeout: float | None = None,
    ) -> E:
        """Wait until ``count`` events of ``cls`` (matching ``predicate``) are recorded after ``after`` and
        return the ``count``-th of them (at once if they already are).

        :param after: an index (as from :meth:`mark`) or a recorded event (look only at what came after it).
        :param timeout: seconds (default: the recorder's ``timeout``).
        :raises TimeoutError: if they do not arrive in time, or the session's events end first; the message
            names what was missing, how many were found and the last events recorded.
        """
        index = await self._find(cls, predicate, count=count, start=self._start(after), timeout=timeout)
        event: Any = self.events[index]
        return event

    async def collect_until(
        self,
        cls: type[RealtimeEvent] | tuple[type[RealtimeEvent], ...],
        predicate: Callable[[Any], bool] | None = None,
        *,
        after: int | RealtimeEvent = 0,
        timeout: float | None = None,
    ) -> list[RealtimeEvent]:
        """Wait for the first event of ``cls`` (matching ``predicate``) after ``after`` and return every event
        from ``after`` up to and including it (all types, in order). Raises ``TimeoutError`` as
        :meth:`wait_for` does."""
        start = self._start(after)
        index = await self._find(cls, predicate, count=1, start=start, timeout=timeout)
        return self.events[start : index + 1]

    async def wait_ended(self, timeout: float | None = None) -> list[RealtimeEvent]:
        """Wait until the session's events ended (after its final disconnect or ``close()``); return them all.

        :raises TimeoutError: if they have not ended within ``timeout`` seconds (default: the recorder's).
        """
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                await self.ended.wait()
        except TimeoutError:
            raise TimeoutError(
                f"the session's events did not end within {limit:g} s; {self._tail()}"
            ) from None
        return self.events

    async def _find(
        self,
        cls: type[Any] | tuple[type[Any], ...],
        predicate: Callable[[Any], bool] | None,
        *,
        count: int,
        start: int,
        timeout: float | None,
    ) -> int:
        """The index of the ``count``-th match at or after ``start``, once it is recorded."""
        if count < 1:
            raise ValueError("count must be at least 1")
        limit = self.timeout if timeout is None else timeout
        events = self.events
        found = 0
        scanned = start
        try:
            async with asyncio.timeout(limit):
                while True:
                    while scanned < len(events):
                        event = events[scanned]
                        scanned += 1
                        if isinstance(event, cls) and (predicate is None or predicate(event)):
                            found += 1
                            if found == count:
                                return scanned - 1
                    if self.ended.is_set():
                        break
                    await self._changed()
        except TimeoutError:
            raise TimeoutError(
                f"timed out after {limit:g} s waiting for {_describe(cls, predicate, count, start)}; "
                f"{self._tail(found)}"
            ) from None
        raise TimeoutError(
            f"the session's events ended before {_describe(cls, predicate, count, start)}; {self._tail(found)}"
        )

    def _tail(self, found: int | None = None, last: int = 10) -> str:
        recent = ", ".join(e.type for e in self.events[-last:]) or "none"
        head = f"found {found} among " if found is not None else ""
        return f"{head}{len(self.events)} recorded events; the last: {recent}"

    # ------------------------------------------------------------------ lifecycle
    async def aclose(self) -> None:
        """Stop recording: events already delivered to the recorder are kept; later ones are not recorded.
        Safe to call more than once."""
        self._stream.end()
        if self._task is not asyncio.current_task():
            await asyncio.shield(self._task)
        self._stream.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "ended" if self.ended.is_set() else "recording"
        return f"<EventRecorder {state} events={len(self.events)} session={self.session!r}>"


# ---------------------------------------------------------------------------------------------- audio helpers
def speech_tone(ms: float, rate: int = 16000, *, frequency: float = 220.0) -> PcmData:
    """A loud tone that the emulators' energy VAD hears as speech (a stand-in for a spoken phrase)."""
    return PcmData.tone(ms, rate, frequency=frequency, amplitude=0.3)


async def stream_audio(session: Realtime, pcm: PcmData, chunk_ms: float = 20) -> None:
    """Send ``pcm`` as an app would, in mic-sized chunks but faster than real time, yielding between chunks
    so the receive loop runs (the emulators' VAD works on the audio clock, not the wall clock)."""
    for chunk in pcm.chunks(chunk_ms):
        await session.simple_audio_response(chunk)
        await asyncio.sleep(0)


async def speak(session: Realtime, speech_ms: float = 800, silence_ms: float = 1000, rate: int = 16000) -> None:
    """A spoken turn: speech, then enough silence for server-side voice detection to end the turn."""
    await stream_audio(session, speech_tone(speech_ms, rate))
    if silence_ms:
        await stream_audio(session, PcmData.silence(silence_ms, rate))


def client_messages(emulator: EmulatorServer, kind: str | None = None, connection: int | None = None) -> list[Any]:
    """Payloads of the client messages an emulator received (its facts excluded), optionally filtered."""
    return [
        m.payload
        for m in emulator.received
        if not m.kind.startswith("fact:")
        and (kind is None or m.kind == kind)
        and (connection is None or m.connection == connection)
    ]


from .fault_proxy import Direction, FaultProxy, ProxyConnection, Traffic  # noqa: E402  (re-exported: the network faults of a test)

__all__ += ["Direction", "FaultProxy", "ProxyConnection", "Traffic"]
