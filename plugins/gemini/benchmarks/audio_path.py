"""The audio path's CPU cost: N Gemini sessions through the plugin versus a bare-protocol client (issue 15).

    .venv/bin/python plugins/gemini/benchmarks/audio_path.py [--sessions 20] [--seconds 30] [--profile]

Workload, the same for both: N sessions against the Gemini emulator (in another process, realistic latency:
replies streamed at real-time pace), each sending mic audio at real-time pace in 20 ms chunks without a
break (1 s of speech then 3 s of silence, so every 4 s the emulator's VAD ends a turn and a 2 s spoken reply
comes back while the mic keeps streaming). The bare client does what any Gemini client must: ``setup``, one ``realtimeInput.audio`` JSON frame
per chunk (base64), and for every server frame ``json.loads`` plus base64-decoding the audio into PCM.
Printed: client-process CPU ms per session-second for both, and the ratio (not a test: figures move from
run to run on a shared machine; compare ratios from one run).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import multiprocessing
import pstats
import time
from typing import Any

import numpy as np
import websockets

from realtime_core import PcmData, RealtimeAudioOutputEvent
from realtime_gemini import GeminiRealtime

CHUNK_MS = 20
SPEECH = PcmData.tone(1000, 16000, frequency=300.0, amplitude=0.3)
PATTERN = PcmData.concat([SPEECH, PcmData.silence(3000, 16000)])
CHUNKS = list(PATTERN.chunks(CHUNK_MS))
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


def _serve(port_queue: Any) -> None:
    from realtime_core.emulator import Reply, Scenario, Turn
    from realtime_gemini.emulator import GeminiEmulator

    async def main() -> None:
        scenario = Scenario(
            turns=[Turn(reply=Reply(text="A two second answer.", audio_ms=2000))], when_exhausted="repeat_last"
        )
        async with GeminiEmulator(scenario=scenario, latency="realistic") as emu:
            port_queue.put(emu.port)
            await asyncio.Future()

    asyncio.run(main())


async def _pace(send: Any, seconds: float) -> None:
    """Call ``send(chunk)`` every 20 ms for ``seconds`` (catching up if the loop fell behind)."""
    start = time.monotonic()
    n = int(seconds * 1000 / CHUNK_MS)
    for i in range(n):
        await send(CHUNKS[i % len(CHUNKS)])
        delay = start + (i + 1) * CHUNK_MS / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def plugin_session(base: str, seconds: float, stats: dict[str, int]) -> None:
    async with GeminiRealtime(api_key="emulator-key", base_url=base, audio_stream_end_after=None) as session:

        async def drain() -> None:  # the app: consume every event, keep the audio
            async for event in session.events():
                if isinstance(event, RealtimeAudioOutputEvent):
                    stats["frames"] += 1

        consumer = asyncio.create_task(drain())
        await _pace(session.simple_audio_response, seconds)
        consumer.cancel()


async def bare_session(base: str, seconds: float, stats: dict[str, int]) -> None:
    async with websockets.connect(base + PATH, additional_headers={"x-goog-api-key": "emulator-key"}) as ws:
        setup = {"model": "models/gemini-3.8-live", "generationConfig": {"responseModalities": ["AUDIO"]},
                 "inputAudioTranscription": {}, "outputAudioTranscription": {}, "sessionResumption": {}}  # fmt: skip
        await ws.send(json.dumps({"setup": setup}))
        await ws.recv()

        async def receive() -> None:
            async for raw in ws:
                message = json.loads(raw)
                turn = message.get("serverContent", {}).get("modelTurn")
                for part in turn.get("parts", []) if turn else []:
                    data = part.get("inlineData", {}).get("data")
                    if data:
                        np.frombuffer(base64.b64decode(data), dtype="<i2")
                        stats["frames"] += 1

        async def send(pcm: PcmData) -> None:
            data = base64.b64encode(pcm.to_bytes()).decode()
            await ws.send(json.dumps({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": data}}}))

        receiver = asyncio.create_task(receive())
        await _pace(send, seconds)
        if receiver.done() and receiver.exception() is not None:  # a broken run must not pass as a cheap one
            raise RuntimeError(f"the bare client's receive loop failed: {receiver.exception()!r}")
        receiver.cancel()


async def run(kind: str, base: str, sessions: int, seconds: float, profile: bool) -> tuple[float, int]:
    stats = {"frames": 0}
    body = plugin_session if kind == "plugin" else bare_session
    profiler = cProfile.Profile() if profile else None
    start = time.process_time()
    if profiler:
        profiler.enable()
    await asyncio.gather(*(body(base, seconds, stats) for _ in range(sessions)))
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    cpu = time.process_time() - start
    return cpu * 1000 / (sessions * seconds), stats["frames"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--profile", action="store_true", help="cProfile the plugin run (top 25 by own time)")
    args = parser.parse_args()
    queue: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(queue,), daemon=True)
    server.start()
    try:
        base = f"ws://127.0.0.1:{queue.get(timeout=30)}"
        bare, bare_frames = asyncio.run(run("bare", base, args.sessions, args.seconds, False))
        ours, our_frames = asyncio.run(run("plugin", base, args.sessions, args.seconds, args.profile))
    finally:
        server.terminate()
    print(f"{args.sessions} sessions x {args.seconds:g} s, 20 ms mic chunks, ~2 s reply every 4 s of input")
    print(f"  bare websockets+json+base64: {bare:6.2f} CPU ms per session-second ({bare_frames} audio frames in)")
    print(f"  realtime-gemini:             {ours:6.2f} CPU ms per session-second ({our_frames} audio frames in)")
    print(f"  ratio: {ours / bare:.2f}x")
    if not bare_frames or not our_frames:
        print("  WARNING: a client received no reply audio: the two did not do the same work")


if __name__ == "__main__":
    main()
