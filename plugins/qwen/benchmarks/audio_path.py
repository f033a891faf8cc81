"""The audio path's CPU cost: N Qwen sessions through the plugin versus a bare DashScope client (issue 15).

    .venv/bin/python plugins/qwen/benchmarks/audio_path.py [--sessions 20] [--seconds 30] [--profile]

The same work for both clients: N sessions against the Qwen emulator (run in a child process, realistic
latency: replies streamed at real-time pace), each sending microphone audio at real-time pace in 20 ms chunks
(1 s of speech, 3 s of silence, repeated: every 4 s the emulator's VAD ends a turn after 500 ms of silence and
a 2 s spoken reply with its transcript comes back while the microphone keeps streaming, ending before the next
speech). The bare client does what any DashScope
client must: ``session.update``, one ``input_audio_buffer.append`` JSON frame per chunk (base64), and for every
server event ``json.loads`` plus base64-decoding reply audio into int16 samples. The plugin is driven as an app
drives it: ``simple_audio_response`` per chunk, and an ``events()`` consumer that sees every event.

Printed: the client process's CPU ms per session-second for both, and their ratio (not a test: absolute
figures move from run to run on a shared machine; compare ratios from one run). ``--profile`` prints the
plugin run's top functions by own time (cProfile).
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
from realtime_qwen import DEFAULT_MODEL, QwenRealtime, ServerVad

CHUNK_MS = 20
RATE = 16000
PATTERN = PcmData.concat([PcmData.tone(1000, RATE, frequency=300.0, amplitude=0.3), PcmData.silence(3000, RATE)])
CHUNKS = list(PATTERN.chunks(CHUNK_MS))
KEY = "sk-emulator-qwen-0000-test"
SILENCE_MS = 500  # server VAD: silence that ends a turn


def serve(ports: Any) -> None:
    """The emulator, in its own process (its CPU is not the client's)."""
    from realtime_core.emulator import Reply, Scenario, Turn
    from realtime_qwen.emulator import QwenEmulator

    async def main() -> None:
        turns = Scenario(turns=[Turn(reply=Reply(text="A reply of about two seconds.", audio_ms=2000))], when_exhausted="repeat_last")
        async with QwenEmulator(scenario=turns, api_key=KEY, latency="realistic", idle_timeout_s=0) as emulator:
            ports.put(emulator.port)
            await asyncio.Future()

    asyncio.run(main())


async def paced(send: Any, seconds: float) -> None:
    """``send(chunk)`` every 20 ms for ``seconds``, catching up when the loop fell behind."""
    start = time.monotonic()
    for i in range(int(seconds * 1000 / CHUNK_MS)):
        await send(CHUNKS[i % len(CHUNKS)])
        delay = start + (i + 1) * CHUNK_MS / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def plugin_client(url: str, seconds: float, counts: dict[str, int]) -> None:
    vad = ServerVad(silence_duration_ms=SILENCE_MS)
    async with QwenRealtime(base_url=url, api_key=KEY, model=DEFAULT_MODEL, turn_detection=vad, finish_on_close=False) as session:

        async def app() -> None:  # sees every event, keeps the audio
            async for event in session.events():
                if isinstance(event, RealtimeAudioOutputEvent):
                    counts["audio"] += 1

        consumer = asyncio.create_task(app())
        await paced(session.simple_audio_response, seconds)
        consumer.cancel()


async def bare_client(url: str, seconds: float, counts: dict[str, int]) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with websockets.connect(f"{url}?model={DEFAULT_MODEL}", additional_headers=headers, compression=None) as ws:
        json.loads(await ws.recv())  # session.created
        session = {"modalities": ["text", "audio"], "voice": "Tina", "input_audio_format": "pcm16",
                   "output_audio_format": "pcm24", "input_audio_transcription": {"model": "qwen3-asr-flash-realtime"},
                   "turn_detection": {"type": "server_vad", "silence_duration_ms": SILENCE_MS}}  # fmt: skip
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        while json.loads(await ws.recv())["type"] != "session.updated":
            pass

        async def receive() -> None:
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] == "response.audio.delta":
                    np.frombuffer(base64.b64decode(event["delta"]), dtype="<i2")
                    counts["audio"] += 1

        async def send(pcm: PcmData) -> None:
            audio = base64.b64encode(pcm.to_bytes()).decode()
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))

        receiver = asyncio.create_task(receive())
        await paced(send, seconds)
        if receiver.done() and receiver.exception() is not None:  # a broken run must not pass for a cheap one
            raise RuntimeError(f"the bare client's receive loop failed: {receiver.exception()!r}")
        receiver.cancel()


async def measure(client: Any, url: str, sessions: int, seconds: float, profile: bool) -> tuple[float, int]:
    counts = {"audio": 0}
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    await asyncio.gather(*(client(url, seconds, counts) for _ in range(sessions)))
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    cpu_ms = (time.process_time() - started) * 1000
    return cpu_ms / (sessions * seconds), counts["audio"]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--profile", action="store_true", help="cProfile the plugin run (top 30 by own time)")
    args = parser.parse_args()
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    try:
        url = f"ws://127.0.0.1:{ports.get(timeout=60)}/api-ws/v1/realtime"
        bare, bare_audio = asyncio.run(measure(bare_client, url, args.sessions, args.seconds, False))
        ours, our_audio = asyncio.run(measure(plugin_client, url, args.sessions, args.seconds, args.profile))
    finally:
        server.terminate()
    print(f"{args.sessions} sessions x {args.seconds:g} s, 20 ms mic chunks, a ~2 s reply after every 4 s of input")
    print(f"  bare websockets+json+base64: {bare:6.2f} CPU ms per session-second ({bare_audio} audio deltas in)")
    print(f"  realtime-qwen:               {ours:6.2f} CPU ms per session-second ({our_audio} audio chunks in)")
    print(f"  ratio: {ours / bare:.2f}x")
    if not bare_audio or not our_audio:
        print("  WARNING: a client received no reply audio: the two did not do the same work")


if __name__ == "__main__":
    main()
