"""Audio-path benchmark (issue 15; not a test): CPU per session-second of the plugin against a bare client.

N sessions stream microphone audio at real-time pace in 20 ms chunks (2 s of speech, 2 s of pause, so the
emulator's VAD answers every utterance with a spoken reply) for T seconds, once through realtime-core + this
plugin, once through a bare-protocol client (websockets + json + base64, one append per 20 ms chunk: the
floor). The emulator runs in a child process, so only the client's CPU is measured.

    .venv/bin/python plugins/openai/benchmarks/audio_path.py [--sessions 10] [--seconds 20] [--profile]

Prints CPU ms per session-second for both and the ratio (plugin / bare). ``--profile`` also writes the
plugin run's top functions (cProfile, cumulative) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import io
import json
import multiprocessing
import pstats
import time
from typing import Any

import websockets

from realtime_core import PcmData, RealtimeAudioOutputEvent
from realtime_openai import OpenAIRealtime

RATE = 24000
CHUNK_MS = 20
SPEECH = PcmData.tone(2000, RATE, frequency=220, amplitude=0.3)
PAUSE = PcmData.silence(2000, RATE)
PATTERN = [c for part in (SPEECH, PAUSE) for c in part.chunks(CHUNK_MS)]


def _serve(port_out: Any, stop: Any) -> None:
    from realtime_openai.emulator import OpenAIEmulator

    async def main() -> None:
        async with OpenAIEmulator(port=0, log_limit=100) as emu:
            port_out.put((emu.port, emu.api_key))
            await asyncio.to_thread(stop.wait)  # the parent sets it when done

    asyncio.run(main())


async def _paced(send: Any, seconds: float) -> None:
    """Call ``send(chunk)`` every 20 ms (real-time pace, no drift) for ``seconds``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(int(seconds * 1000 / CHUNK_MS)):
        await asyncio.sleep(max(0.0, start + i * CHUNK_MS / 1000 - loop.time()))
        await send(PATTERN[i % len(PATTERN)])


async def run_plugin(port: int, key: str, sessions: int, seconds: float) -> tuple[float, int]:
    options: dict[str, Any] = {"base_url": f"http://127.0.0.1:{port}/v1", "api_key": key}
    clients = [OpenAIRealtime(**options) for _ in range(sessions)]
    received = 0

    async def consume(session: OpenAIRealtime) -> None:
        nonlocal received
        async for event in session.events():
            if isinstance(event, RealtimeAudioOutputEvent):
                received += event.audio_data.frames

    await asyncio.gather(*(c.connect() for c in clients))
    consumers = [asyncio.ensure_future(consume(c)) for c in clients]
    cpu = time.process_time()
    await asyncio.gather(*(_paced(c.simple_audio_response, seconds) for c in clients))
    cpu = time.process_time() - cpu
    await asyncio.gather(*(c.close() for c in clients))
    for task in consumers:
        task.cancel()
    return cpu, received


async def run_bare(port: int, key: str, sessions: int, seconds: float) -> tuple[float, int]:
    received = 0
    url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime-2.1"

    async def one() -> None:
        nonlocal received
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}, compression=None) as ws:
            json.loads(await ws.recv())  # session.created
            await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}}))
            while json.loads(await ws.recv())["type"] != "session.updated":
                pass

            async def reader() -> None:
                nonlocal received
                async for raw in ws:
                    event = json.loads(raw)
                    if event["type"] == "response.output_audio.delta":
                        received += len(base64.b64decode(event["delta"])) // 2

            async def send(pcm: PcmData) -> None:
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm.to_bytes()).decode()}))

            task = asyncio.ensure_future(reader())
            await ready.wait()
            await _paced(send, seconds)
            task.cancel()

    ready = asyncio.Event()
    tasks = [asyncio.ensure_future(one()) for _ in range(sessions)]
    await asyncio.sleep(1.0)  # all connected (setup is not measured)
    cpu = time.process_time()
    ready.set()
    await asyncio.gather(*tasks)
    return time.process_time() - cpu, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    ports, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ports, stop), daemon=True)
    server.start()
    port, key = ports.get(timeout=60)
    try:
        bare_cpu, bare_rx = asyncio.run(run_bare(port, key, args.sessions, args.seconds))
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        ours_cpu, ours_rx = asyncio.run(run_plugin(port, key, args.sessions, args.seconds))
        if profiler is not None:
            profiler.disable()
    finally:
        stop.set()
        server.join(10)
    session_seconds = args.sessions * args.seconds
    bare = bare_cpu * 1000 / session_seconds
    ours = ours_cpu * 1000 / session_seconds
    print(f"{args.sessions} sessions x {args.seconds:g} s, 20 ms chunks at real-time pace, replies every 4 s")
    print(f"bare websockets+json+base64: {bare:6.2f} CPU ms per session-second ({bare_rx / RATE:.1f} s of reply audio)")
    print(f"realtime-openai:             {ours:6.2f} CPU ms per session-second ({ours_rx / RATE:.1f} s of reply audio)")
    print(f"ratio: {ours / bare:.2f}x")
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
