"""Fixtures: a real Nova emulator on 127.0.0.1 (TLS, HTTP/2) and sessions pointed at it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from realtime_core import PcmData, ReconnectPolicy
from realtime_core.emulator import Reply, Scenario, Turn
from realtime_core.testing import EventRecorder, pending_tasks, stream_audio
from realtime_core.testing import speak as speak_turn
from realtime_nova import NovaRealtime
from realtime_nova.client import load_sdk_now
from realtime_nova.emulator import NovaEmulator

RATE = 16000


def turn(text: str = "Sure, here you are.", *, heard: str = "What is the weather?", **reply: Any) -> Turn:
    reply.setdefault("audio_ms", 400)
    return Turn(on="any", user_transcript=heard, reply=Reply(text=text, **reply))


def scenario(*turns: Turn, **kwargs: Any) -> Scenario:
    return Scenario(name="nova-test", turns=list(turns), **kwargs)


async def send(session: NovaRealtime, pcm: PcmData, chunk_ms: float = 20) -> None:
    await stream_audio(session, pcm, chunk_ms)


async def speak(session: NovaRealtime, speech_ms: float = 800, silence_ms: float = 800, rate: int = RATE) -> None:
    await speak_turn(session, speech_ms, silence_ms, rate)


EmulatorFactory = Callable[..., Awaitable[NovaEmulator]]
SessionFactory = Callable[..., Awaitable[tuple[NovaRealtime, EventRecorder]]]


@pytest.fixture(scope="session", autouse=True)
def _sdk_loaded() -> None:
    """Import the AWS SDK once before the tests (on a busy machine its first import alone can take longer
    than a test's connect timeout)."""
    load_sdk_now()


@pytest_asyncio.fixture
async def nova_emulator() -> AsyncIterator[EmulatorFactory]:
    started: list[NovaEmulator] = []

    async def make(scenario: Scenario | None = None, **options: Any) -> NovaEmulator:
        # NOVA_TEST_LATENCY=realistic runs every test against an emulator that answers like the service
        options.setdefault("latency", os.environ.get("NOVA_TEST_LATENCY") or None)
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
    made: list[tuple[NovaRealtime, EventRecorder]] = []

    async def make(
        emulator: NovaEmulator | None = None, *, connect: bool = True, **options: Any
    ) -> tuple[NovaRealtime, EventRecorder]:
        emulator = emulator or await nova_emulator()
        options.setdefault("reconnect", ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.5))
        session = NovaRealtime(**{**emulator.session_options(), **options})
        recorder = EventRecorder(session)
        made.append((session, recorder))
        if connect:
            await session.connect()
        return session, recorder

    yield make
    for session, recorder in made:
        await asyncio.wait_for(session.close(), 10)
        await recorder.aclose()
        leftover = pending_tasks(session)
        assert not leftover, f"tasks left running: {[t.get_name() for t in leftover]}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
