"""Fixtures: a real Nova emulator on 127.0.0.1 (TLS, HTTP/2) and sessions pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from realtime_core import PcmData, RealtimeEvent, ReconnectPolicy
from realtime_core.emulator import Reply, Scenario, Turn
from realtime_nova import NovaRealtime
from realtime_nova.emulator import NovaEmulator

E = TypeVar("E", bound=RealtimeEvent)
RATE = 16000
TIMEOUT = 10.0


def turn(text: str = "Sure, here you are.", *, heard: str = "What is the weather?", **reply: Any) -> Turn:
    reply.setdefault("audio_ms", 400)
    return Turn(on="any", user_transcript=heard, reply=Reply(text=text, **reply))


def scenario(*turns: Turn, **kwargs: Any) -> Scenario:
    return Scenario(name="nova-test", turns=list(turns), **kwargs)


class Recorder:
    """Every event of one session, in order, with waits on them (no sleeps)."""

    def __init__(self, session: NovaRealtime) -> None:
        self.session = session
        self.events: list[RealtimeEvent] = []
        self._cond = asyncio.Condition()
        self._stream = session.events(maxsize=1_000_000)
        self.ended = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for event in self._stream:
                async with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()
        finally:
            self.ended.set()
            async with self._cond:
                self._cond.notify_all()

    def mark(self) -> int:
        return len(self.events)

    def of(self, cls: type[E], predicate: Callable[[E], bool] | None = None, *, after: int = 0) -> list[E]:
        return [e for e in self.events[after:] if isinstance(e, cls) and (predicate is None or predicate(e))]

    async def wait_for(
        self,
        cls: type[E],
        predicate: Callable[[E], bool] | None = None,
        *,
        after: int = 0,
        count: int = 1,
        timeout: float = TIMEOUT,
    ) -> E:
        async with asyncio.timeout(timeout), self._cond:
            await self._cond.wait_for(lambda: len(self.of(cls, predicate, after=after)) >= count or self.ended.is_set())
        found = self.of(cls, predicate, after=after)
        if len(found) < count:
            raise AssertionError(
                f"the session ended before {count} x {cls.__name__}; last: {[e.type for e in self.events[-6:]]}"
            )
        return found[count - 1]

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def send(session: NovaRealtime, pcm: PcmData, chunk_ms: float = 20) -> None:
    """Send audio as an app would: in small chunks, letting the loop run between them."""
    for chunk in pcm.chunks(chunk_ms):
        await session.simple_audio_response(chunk)
        await asyncio.sleep(0)


async def speak(session: NovaRealtime, speech_ms: float = 800, silence_ms: float = 800, rate: int = RATE) -> None:
    """A spoken turn the emulator's energy VAD hears: a tone, then silence that ends the turn."""
    await send(session, PcmData.tone(speech_ms, rate, frequency=220.0, amplitude=0.3))
    if silence_ms:
        await send(session, PcmData.silence(silence_ms, rate))


EmulatorFactory = Callable[..., Awaitable[NovaEmulator]]
SessionFactory = Callable[..., Awaitable[tuple[NovaRealtime, Recorder]]]


@pytest_asyncio.fixture
async def nova_emulator() -> AsyncIterator[EmulatorFactory]:
    started: list[NovaEmulator] = []

    async def make(scenario: Scenario | None = None, **options: Any) -> NovaEmulator:
        emulator = NovaEmulator(scenario=scenario, **options)
        await emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        await emulator.stop()


@pytest_asyncio.fixture
async def nova_session(nova_emulator: EmulatorFactory) -> AsyncIterator[SessionFactory]:
    """``session, recorder = await nova_session(emulator, **options)`` (connected unless connect=False)."""
    made: list[tuple[NovaRealtime, Recorder]] = []

    async def make(
        emulator: NovaEmulator | None = None, *, connect: bool = True, **options: Any
    ) -> tuple[NovaRealtime, Recorder]:
        emulator = emulator or await nova_emulator()
        options.setdefault("reconnect", ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.5))
        session = NovaRealtime(**{**emulator.session_options(), **options})
        recorder = Recorder(session)
        made.append((session, recorder))
        if connect:
            await session.connect()
        return session, recorder

    yield make
    for session, recorder in made:
        await asyncio.wait_for(session.close(), 10)
        await recorder.stop()
        leftover = [t for t in session._tasks if not t.done()]  # pyright: ignore[reportPrivateUsage]
        assert not leftover, f"tasks left running: {[t.get_name() for t in leftover]}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
