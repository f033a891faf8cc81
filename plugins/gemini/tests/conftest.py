"""Shared helpers: audio to speak, an emulator fixture, an event recorder fixture (waits without sleeps)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from realtime_core import PcmData, Realtime, RealtimeErrorEvent, RealtimeEvent
from realtime_core.testing import EventRecorder, stream_audio
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator

RATE = 16000
RecorderFactory = Callable[[Realtime], Awaitable[EventRecorder]]


def speech(ms: float, rate: int = RATE, frequency: float = 300.0) -> PcmData:
    """Loud enough for the emulator's energy VAD (a stand-in for a spoken phrase)."""
    return PcmData.tone(ms, rate, frequency=frequency, amplitude=0.3)


def silence(ms: float, rate: int = RATE) -> PcmData:
    return PcmData.silence(ms, rate)


def utterance(speech_ms: float = 600, silence_ms: float = 700, rate: int = RATE) -> PcmData:
    """Speech then enough trailing silence for the server VAD to end the turn."""
    return PcmData.concat([speech(speech_ms, rate), silence(silence_ms, rate)])


async def send_audio(session: GeminiRealtime, pcm: PcmData, chunk_ms: float = 20) -> None:
    await stream_audio(session, pcm, chunk_ms)


async def server_barrier(emulator: GeminiEmulator, rec: EventRecorder) -> None:
    """Return once the session has read every server message sent so far: the emulator sends a message the
    session answers with an error event (audio labelled with a rate no client plays) and nothing else."""
    mark = rec.mark()
    bad = {"inlineData": {"mimeType": "audio/pcm;rate=1", "data": "AAAA"}}
    await emulator.connection().send({"serverContent": {"modelTurn": {"parts": [bad]}}})
    await rec.wait_for(RealtimeErrorEvent, lambda e: "rate=1" in str(e.error), after=mark)


def of(events: list[RealtimeEvent], cls: type[Any]) -> list[Any]:
    """The events of ``cls`` in a list of events (such as :meth:`EventRecorder.collect_until` returns)."""
    return [e for e in events if isinstance(e, cls)]


@pytest.fixture(autouse=True)
def _emulator_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    """``GEMINI_TEST_LATENCY=realistic`` runs every test with the emulator's realistic latency (the default:
    none): the tests must pass under both."""
    latency = os.environ.get("GEMINI_TEST_LATENCY")
    if latency:
        monkeypatch.setattr(GeminiEmulator, "default_latency", latency)


@pytest.fixture
async def emulator() -> AsyncIterator[GeminiEmulator]:
    async with GeminiEmulator() as emu:
        yield emu


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[RecorderFactory]:
    """``rec = await recorder(s)``: an :class:`EventRecorder` of ``s``'s events from now on, closed after the test."""
    async with contextlib.AsyncExitStack() as stack:
        yield lambda s: stack.enter_async_context(EventRecorder(s))


@pytest.fixture
async def session(emulator: GeminiEmulator) -> AsyncIterator[GeminiRealtime]:
    s = GeminiRealtime(**emulator.session_options())
    try:
        yield s
    finally:
        await s.close()
