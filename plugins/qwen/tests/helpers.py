"""Helpers shared by the tests: scenarios, synthetic speech, sending audio, reading the emulator's logs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from realtime_core import PcmData, Realtime, RealtimeErrorEvent, ReconnectPolicy
from realtime_core.emulator import Reply, Scenario, Turn
from realtime_core.testing import EventRecorder, client_messages, speech_tone, stream_audio
from realtime_core.testing import speak as speak_turn
from realtime_qwen import QwenRealtime
from realtime_qwen.emulator import QwenEmulator

EmulatorFactory = Callable[..., Awaitable[QwenEmulator]]
SessionFactory = Callable[..., QwenRealtime]
RecorderFactory = Callable[[Realtime], Awaitable[EventRecorder]]

USER_TEXT = "What is the weather like today?"
FAST_RECONNECT = ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.3)
PLUS = "qwen3.5-omni-plus-realtime"
FLASH35 = "qwen3.5-omni-flash-realtime"
FLASH3 = "qwen3-omni-flash-realtime"
TURBO = "qwen-omni-turbo-realtime"
FLASH38 = "qwen3.8-omni-flash-realtime"
LATENCIES = ["none", "realistic"]


def turn(text: str = "Sure, here you go.", *, audio_ms: float | None = 600, **reply: Any) -> Turn:
    return Turn(on="any", user_transcript=USER_TEXT, reply=Reply(text=text, audio_ms=audio_ms, **reply))


def long_turn(seconds: float = 6.0) -> Turn:
    """A reply streamed slowly enough (40 ms chunks every 40 ms) to be interrupted mid-way."""
    return turn(
        "This answer goes on and on so that it can be cut off.", audio_ms=seconds * 1000, chunk_ms=40, chunk_interval_ms=40
    )


def scenario(*turns: Turn, **kwargs: Any) -> Scenario:
    return Scenario(name="test", turns=list(turns), **kwargs)


def speech(ms: float, rate: int = 16000) -> PcmData:
    return speech_tone(ms, rate)


async def send(session: Realtime, pcm: PcmData, chunk_ms: float = 20) -> None:
    await stream_audio(session, pcm, chunk_ms)


async def speak(session: Realtime, speech_ms: float = 800, silence_ms: float = 1000, rate: int = 16000) -> None:
    await speak_turn(session, speech_ms, silence_ms, rate)


def client_events(emu: QwenEmulator, kind: str | None = None, connection: int | None = None) -> list[dict[str, Any]]:
    """Client events the emulator received (facts excluded), optionally of one type."""
    return client_messages(emu, kind, connection)


def server_types(emu: QwenEmulator, connection: int | None = None) -> list[str]:
    return [e["type"] for e in emu.server_events_of(connection)]


async def barrier(emu: QwenEmulator, rec: EventRecorder) -> None:
    """Return once the session handled every server event sent so far: the emulator sends an ``error`` the
    session reports as an error event (DashScope has no harmless event a session reports on its own)."""
    mark = rec.mark()
    await emu.inject({"type": "error", "error": {"type": "server_error", "code": "barrier", "message": "barrier"}})
    await rec.wait_for(RealtimeErrorEvent, lambda e: getattr(e.error, "code", None) == "barrier", after=mark)
