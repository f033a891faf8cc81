"""Shared helpers: audio to speak, an emulator fixture, event collection without sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from realtime_core import EventStream, PcmData, RealtimeEvent
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator

RATE = 16000


def speech(ms: float, rate: int = RATE, frequency: float = 300.0) -> PcmData:
    """Loud enough for the emulator's energy VAD (a stand-in for a spoken phrase)."""
    return PcmData.tone(ms, rate, frequency=frequency, amplitude=0.3)


def silence(ms: float, rate: int = RATE) -> PcmData:
    return PcmData.silence(ms, rate)


def utterance(speech_ms: float = 600, silence_ms: float = 700, rate: int = RATE) -> PcmData:
    """Speech then enough trailing silence for the server VAD to end the turn."""
    return PcmData.concat([speech(speech_ms, rate), silence(silence_ms, rate)])


async def send_audio(session: GeminiRealtime, pcm: PcmData, chunk_ms: float = 20) -> None:
    """Stream ``pcm`` as the app would, in small chunks, faster than real time (yielding between chunks so
    the receive loop runs, as it would in a real app)."""
    for chunk in pcm.chunks(chunk_ms):
        await session.simple_audio_response(chunk)
        await asyncio.sleep(0)


async def collect_until(
    stream: EventStream,
    event_type: type[RealtimeEvent] | tuple[type[RealtimeEvent], ...],
    predicate: Callable[[Any], bool] | None = None,
    *,
    timeout: float = 10.0,
) -> list[RealtimeEvent]:
    """Every event up to and including the first ``event_type`` matching ``predicate``."""
    seen: list[RealtimeEvent] = []
    async with asyncio.timeout(timeout):
        async for event in stream:
            seen.append(event)
            if isinstance(event, event_type) and (predicate is None or predicate(event)):
                return seen
    raise AssertionError(f"the stream ended before {event_type}; saw {[type(e).__name__ for e in seen]}")


def of(events: list[RealtimeEvent], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


@pytest.fixture
async def emulator() -> AsyncIterator[GeminiEmulator]:
    async with GeminiEmulator() as emu:
        yield emu


@pytest.fixture
async def session(emulator: GeminiEmulator) -> AsyncIterator[GeminiRealtime]:
    s = GeminiRealtime(**emulator.session_options())
    try:
        yield s
    finally:
        await s.close()
