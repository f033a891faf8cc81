"""Run one spoken exchange and show it: the engine behind ``realtime demo`` and ``realtime talk``.

:func:`run_conversation` streams a clip to a session at real-time pace (20 ms chunks, then trailing
silence so server-side voice detection ends the turn), prints a timeline of events, waits for the reply
and returns the agent's audio. :func:`run_demo` does the same against a provider's bundled emulator, fully
offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from .audio import PcmData, read_wav, write_wav
from .emulator.scenario import Scenario
from .events import (
    RealtimeAudioOutputDoneEvent,
    RealtimeDisconnectedEvent,
    RealtimeEvent,
    RealtimeResponseEvent,
)
from .plugins import get_provider
from .session import Realtime, SessionState
from .timeline import Timeline

__all__ = ["ConversationResult", "bundled_speech", "run_conversation", "run_demo"]

CHUNK_MS = 20


def bundled_speech() -> PcmData:
    """The short spoken question shipped with realtime-core (16 kHz mono, about 4.7 s)."""
    ref = resources.files("realtime_core") / "data" / "hello.wav"
    with resources.as_file(ref) as path:
        return read_wav(path)


@dataclass
class ConversationResult:
    timeline: Timeline
    reply: PcmData | None
    responses: int
    output_path: Path | None = None


async def run_conversation(
    session: Realtime,
    audio: PcmData,
    *,
    out: TextIO | None = None,
    realtime_pace: bool = True,
    trailing_silence_ms: float = 1500,
    reply_timeout: float = 30.0,
    settle_s: float = 1.0,
) -> ConversationResult:
    """Connect ``session``, speak ``audio`` into it, print the timeline, collect the reply, close."""
    timeline = Timeline(out=out)
    done = asyncio.Event()
    last_event_at = time.monotonic()
    responses: set[str] = set()

    events = session.events(maxsize=100_000)

    async def consume() -> None:
        nonlocal last_event_at
        async for event in events:
            last_event_at = time.monotonic()
            timeline.add(event)
            if isinstance(event, RealtimeAudioOutputDoneEvent) or (
                isinstance(event, RealtimeResponseEvent) and event.is_complete
            ):
                responses.add(event.response_id)
                done.set()
            if isinstance(event, RealtimeDisconnectedEvent) and not event.will_reconnect:
                done.set()

    consumer = asyncio.create_task(consume())
    try:
        await session.connect()
        silence = PcmData.silence(trailing_silence_ms, audio.sample_rate, audio.channels)
        started = time.monotonic()
        sent_ms = 0.0
        next_progress = 5000.0
        for chunk in (*audio.chunks(CHUNK_MS), *silence.chunks(CHUNK_MS)):
            if session.state is SessionState.FAILED:
                break
            await session.simple_audio_response(chunk)
            sent_ms += chunk.duration_ms
            if out is not None and sent_ms >= next_progress and audio.duration_ms > 10_000:
                print(f"  ... sent {sent_ms / 1000:.0f} s of {audio.duration:.0f} s", file=out, flush=True)
                next_progress += 5000.0
            if realtime_pace:
                delay = started + sent_ms / 1000 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        # wait for a reply, then until the session has been quiet for settle_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), reply_timeout)
        while session.responding or time.monotonic() - last_event_at < settle_s:
            if not session.connected:
                break
            await asyncio.sleep(0.05)
    finally:
        await session.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(consumer, 5)
    return ConversationResult(timeline=timeline, reply=timeline.reply_audio(), responses=len(responses))


async def run_demo(
    provider: str = "openai",
    *,
    input_path: str | Path | None = None,
    output_path: str | Path | None = None,
    scenario: Scenario | None = None,
    out: TextIO | None = None,
    realtime_pace: bool = True,
    session_options: dict[str, Any] | None = None,
) -> ConversationResult:
    """Start ``provider``'s emulator in-process and run one spoken exchange against it, offline.

    ``out`` receives the timeline (e.g. ``sys.stdout``); None runs quietly.
    """
    spec = get_provider(provider)
    factory = spec.resolve_emulator()
    if factory is None:
        raise RuntimeError(f"provider {provider!r} ships no emulator, so it has no offline demo")
    audio = read_wav(input_path) if input_path else bundled_speech()
    target = Path(output_path) if output_path else Path(f"realtime-demo-{provider}.wav")
    async with factory(scenario=scenario) as emulator:
        if out is not None:
            source = Path(input_path).name if input_path else "bundled speech"
            print(
                f"realtime demo: {provider} emulator at {emulator.url}; speaking {source} "
                f"({audio.duration:.1f} s) at {'real-time pace' if realtime_pace else 'full speed'}",
                file=out,
                flush=True,
            )
        options = {**emulator.session_options(), **(session_options or {})}
        session = spec.create(**options)
        result = await run_conversation(session, audio, out=out, realtime_pace=realtime_pace)
    if result.reply is not None:
        write_wav(target, result.reply)
        result.output_path = target
        if out is not None:
            print(f"Reply written to {target} ({result.reply.duration:.1f} s at {result.reply.sample_rate} Hz)", file=out)
    elif out is not None:
        print("No reply audio arrived.", file=out)
    return result


def describe_event(event: RealtimeEvent) -> str:
    """One line for an event (for logs)."""
    found = Timeline().describe(event)
    return f"{found[0]}: {found[1]}" if found else event.type
