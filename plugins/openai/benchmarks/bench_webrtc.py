"""Benchmarks of the WebRTC audio path (run: ``.venv/bin/pytest plugins/openai/benchmarks/bench_webrtc.py``).

Per 20 ms frame, both directions run ~50 times a second per session, on top of aiortc's own Opus and SRTP
work; these keep the plugin's share visible, and measure a whole turn over loopback:

* a decoded remote frame (48 kHz stereo) to a ``RealtimeAudioOutputEvent`` (downmix + attribution);
* a microphone chunk through the local track into an ``av.AudioFrame`` for the encoder;
* a spoken turn end to end: the emulator's end of speech to the first reply audio at the client.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import av

from realtime_core import PcmData, RealtimeAudioOutputEvent, RealtimeUserSpeechStoppedEvent
from realtime_core.emulator import Reply, Scenario, Turn
from realtime_openai import OpenAIRealtime
from realtime_openai.emulator import OpenAIEmulator
from realtime_openai.webrtc import MicrophoneTrack
from realtime_openai.webrtc_protocol import PlayoutTracker

STEREO = PcmData.tone(20, 48000).to_stereo()


def test_remote_frame_to_event(benchmark: Any) -> None:
    async def make() -> tuple[PlayoutTracker, av.AudioFrame]:
        session = OpenAIRealtime(api_key="sk-bench", transport="webrtc")
        tracker = PlayoutTracker(session._core)  # pyright: ignore[reportPrivateUsage]
        tracker.started("resp_1")
        return tracker, STEREO.to_av_frame()

    loop = asyncio.new_event_loop()
    tracker, frame = loop.run_until_complete(make())

    def handle() -> None:
        tracker.on_frame(PcmData.from_av_frame(frame).to_mono())

    benchmark(handle)
    loop.close()


def test_microphone_chunk_to_encoder_frame(benchmark: Any) -> None:
    loop = asyncio.new_event_loop()
    track = loop.run_until_complete(_make_track())
    chunk = PcmData.tone(20, 48000)

    async def one() -> av.AudioFrame:
        track.push(chunk)
        return await track.recv()

    frame = benchmark(lambda: loop.run_until_complete(one()))
    assert frame.samples == 960
    track.stop()
    loop.close()


async def _make_track() -> MicrophoneTrack:
    return MicrophoneTrack()


def test_spoken_turn_latency_over_loopback(benchmark: Any) -> None:
    """Seconds from the server's end of speech to the first reply audio at the client (real playout speed)."""

    async def turn() -> float:
        scenario = Scenario(turns=[Turn(reply=Reply(text="Hi.", audio_ms=200))], when_exhausted="repeat_last")
        async with OpenAIEmulator(scenario=scenario) as emulator:
            session = OpenAIRealtime(**emulator.session_options(), transport="webrtc")
            async with session:
                events = session.events()
                for chunk in PcmData.tone(600, 48000, frequency=220, amplitude=0.3).chunks(20):
                    await session.simple_audio_response(chunk)
                for chunk in PcmData.silence(600, 48000).chunks(20):
                    await session.simple_audio_response(chunk)
                await events.wait_for(RealtimeUserSpeechStoppedEvent)
                stopped = time.monotonic()
                await events.wait_for(RealtimeAudioOutputEvent)
                return time.monotonic() - stopped

    latency = benchmark.pedantic(lambda: asyncio.run(turn()), rounds=3, iterations=1)
    assert latency < 1.0
