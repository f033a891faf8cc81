"""The harness each clause drives: an emulator (offline) or the real service (live), optionally a fault
proxy between them, one session, and a recorder of every event the app receives."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from realtime_core import Capabilities, PcmData, Realtime, RealtimeEvent
from realtime_core.demo import bundled_speech
from realtime_core.emulator import EmulatorServer, Fact
from realtime_core.testing import EventRecorder, FaultProxy

from .clauses import not_exercised

__all__ = ["CHUNK_MS", "SPEECH_RATE", "Harness"]

E = TypeVar("E", bound=RealtimeEvent)
T = TypeVar("T")
FRAME_MS = 20.0
"""One audio frame: the tolerance of exact audio counts."""
RESAMPLER_DELAY_MS = 40.0
"""Audio core's streaming resampler (libsoxr) may hold while streaming: it releases output in blocks, up to
about 38 ms for 48 -> 24 kHz. close() and end_user_turn() send the rest."""
SPEECH_RATE = 48000  # deliberately not a provider rate: core must resample
CHUNK_MS = 20


class Harness:
    """One session under test.

    :ivar emulator: the provider's emulator (None in live mode).
    :ivar proxy: the :class:`~realtime_core.testing.FaultProxy` between session and emulator, if asked for.
    :ivar session: the session (not connected until :meth:`connect`).
    :ivar sent: every chunk the harness passed to ``simple_audio_response``, in order.
    """

    def __init__(
        self,
        session: Realtime,
        emulator: EmulatorServer | None,
        *,
        timeout: float,
        live: bool = False,
        proxy: FaultProxy | None = None,
    ) -> None:
        self.session = session
        self.emulator = emulator
        self.proxy = proxy
        self.timeout = timeout
        self.live = live
        self.sent: list[PcmData] = []
        self.closing = False
        self._recorder = EventRecorder(session, timeout=timeout)

    @property
    def caps(self) -> Capabilities:
        return self.session.capabilities

    @property
    def provider(self) -> str:
        return self.session.provider_name

    @property
    def events(self) -> list[RealtimeEvent]:
        """Every event delivered to the app so far, in order."""
        return self._recorder.events

    @property
    def ended(self) -> asyncio.Event:
        """Set once the session's event stream has ended."""
        return self._recorder.ended

    # ------------------------------------------------------------------ lifecycle
    async def connect(self) -> None:
        await self.session.connect()

    async def close(self) -> None:
        """Close the session and wait until its events ended (bounded)."""
        self.closing = True
        await self.session.close()
        with contextlib.suppress(TimeoutError):
            await self._recorder.wait_ended(self.timeout)

    async def aclose(self) -> None:
        """Tear everything down (used by the fixture; safe to call twice)."""
        self.closing = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.session.close(), self.timeout)
        await self._recorder.aclose()
        if self.proxy is not None:
            await self.proxy.stop()
        if self.emulator is not None:
            await self.emulator.stop()

    # ------------------------------------------------------------------ events
    def mark(self) -> int:
        """The index of the next event (use as ``after=`` to look only at later events)."""
        return self._recorder.mark()

    def of(self, cls: type[E], predicate: Callable[[E], bool] | None = None, *, after: int = 0) -> list[E]:
        return self._recorder.of(cls, predicate, after=after)

    def index_of(self, event: RealtimeEvent) -> int:
        return self._recorder.index_of(event)

    async def wait_for(
        self,
        cls: type[E],
        predicate: Callable[[E], bool] | None = None,
        *,
        after: int = 0,
        count: int = 1,
        timeout: float | None = None,
    ) -> E:
        """Wait until ``count`` events of ``cls`` (matching ``predicate``) arrived after index ``after``;
        return the last of them. Raises ``TimeoutError`` naming what was missing (at once if the session's
        events end first)."""
        return await self._recorder.wait_for(cls, predicate, after=after, count=count, timeout=timeout or self.timeout)

    async def wait_ended(self, timeout: float | None = None) -> None:
        """Wait until the session's events ended (its final disconnected event)."""
        await self._recorder.wait_ended(timeout or self.timeout)

    def tail(self, last: int = 8) -> str:
        """The last events, for failure messages."""
        return ", ".join(e.type for e in self.events[-last:]) or "no events"

    # ------------------------------------------------------------------ waiting on the provider's side
    def emulator_or_skip(self) -> EmulatorServer:
        if self.emulator is None:
            not_exercised("needs the emulator")
            raise AssertionError("unreachable")
        return self.emulator

    def require_observation(self, *names: str) -> EmulatorServer:
        """The emulator, if it declares every one of ``names`` in ``observes``; else the clause is not
        exercised (it cannot see what it checks, so it must not pass)."""
        emulator = self.emulator_or_skip()
        missing = [n for n in names if not emulator.can_observe(n)]
        if missing:
            declared = ", ".join(sorted(type(emulator).observes)) or "nothing"
            not_exercised(
                f"the {emulator.provider} emulator cannot observe {', '.join(missing)} "
                f"(its `observes` declares: {declared})"
            )
        return emulator

    async def bounded(self, awaitable: Awaitable[T], what: str, *, timeout: float | None = None) -> T:
        """Await ``awaitable`` within the timeout; fail at once, naming ``what``, if the session's events
        end first (a failed session will not make it happen) unless the harness is closing it."""
        limit = timeout or self.timeout
        task = asyncio.ensure_future(awaitable)
        ended = asyncio.ensure_future(self.ended.wait()) if not self.closing else None
        try:
            waits = {task} if ended is None else {task, ended}
            done, _ = await asyncio.wait(waits, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                return task.result()
            if ended is not None and ended in done:
                raise TimeoutError(f"the session ended while waiting for {what}; its last events: {self.tail()}")
            raise TimeoutError(f"{what} did not happen within {limit:g} s; the session's last events: {self.tail()}")
        finally:
            for fut in (task, ended):
                if fut is not None and not fut.done():
                    fut.cancel()
                    with contextlib.suppress(BaseException):
                        await fut

    async def wait_fact(
        self,
        name: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        connection: int | None = None,
        count: int = 1,
        timeout: float | None = None,
    ) -> Fact:
        """Wait for the ``count``-th fact ``name`` (on ``connection``, matching ``predicate``) the emulator
        notes; return it."""
        emulator = self.emulator_or_skip()
        kind = f"fact:{name}"

        def matches(m: Any) -> bool:
            return (
                m.kind == kind
                and (connection is None or m.connection == connection)
                and (predicate is None or predicate(m.payload))
            )

        where = f" on connection {connection}" if connection is not None else ""
        found = await self.bounded(
            emulator.wait_for(matches, count=count, timeout=(timeout or self.timeout) + 1),
            f"the provider to note {count} x {name!r}{where}",
            timeout=timeout,
        )
        last = found[count - 1]
        return Fact(name, last.payload, last.connection, last.at)

    def facts(self, name: str, connection: int | None = None) -> list[Fact]:
        emulator = self.emulator_or_skip()
        return [f for f in emulator.facts_named(name) if connection is None or f.connection == connection]

    async def until(self, condition: Callable[[], bool], what: str, *, timeout: float | None = None) -> None:
        """Wait until ``condition()`` holds (for state that has no event, such as an emulator's open
        connections); checked every few milliseconds."""
        limit = timeout or self.timeout
        deadline = time.monotonic() + limit
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not happen within {limit:g} s")
            await asyncio.sleep(0.01)

    def audio_in(self, connection: int | None = None) -> tuple[float, int]:
        """Milliseconds of user audio the emulator received (on ``connection``, or in all) and its rate."""
        emulator = self.emulator_or_skip()
        tallies = [t for n, t in emulator.audio_in.items() if connection is None or n == connection]
        return sum(t.ms for t in tallies), (tallies[-1].sample_rate if tallies else 0)

    # ------------------------------------------------------------------ input
    async def speak(self, speech_ms: float = 900, *, silence_ms: float = 1200) -> None:
        """Send a spoken turn: a tone the emulator's VAD hears as speech (live: real recorded speech at
        real-time pace), then silence so voice detection ends the turn."""
        if self.live:
            speech = bundled_speech()
            await self.send_audio(speech, paced=True)
            await self.send_audio(PcmData.silence(1500, speech.sample_rate), paced=True)
            return
        await self.send_audio(PcmData.tone(speech_ms, SPEECH_RATE, frequency=220.0, amplitude=0.3))
        if silence_ms:
            await self.send_audio(PcmData.silence(silence_ms, SPEECH_RATE))

    async def send_audio(self, pcm: PcmData, *, paced: bool = False) -> None:
        started = time.monotonic()
        sent = 0.0
        for chunk in pcm.chunks(CHUNK_MS):
            self.sent.append(chunk)
            await self.session.simple_audio_response(chunk)
            sent += chunk.duration_ms
            # let the receive loop run, as a real app's would (paced: a microphone's rhythm)
            await asyncio.sleep(max(0.0, started + sent / 1000 - time.monotonic()) if paced else 0)

    async def barrier(self) -> None:
        """Round trip through the provider: everything sent before this call has been received.

        Sends a little silence and waits until the emulator counted it (offline only).
        """
        emulator = self.emulator
        if emulator is None:
            return
        before = emulator.audio_received_ms
        await self.send_audio(PcmData.silence(100, SPEECH_RATE))
        wanted = before + 100 - FRAME_MS - RESAMPLER_DELAY_MS  # what the resampler may still hold is not lost
        await self.bounded(emulator.wait_audio(wanted, timeout=self.timeout + 1), "the provider to receive 100 ms of audio")
