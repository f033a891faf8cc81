"""How much CPU the audio path costs per 20 ms chunk, compared with bare websockets + json + base64.

    .venv/bin/python benchmarks/audio_path.py [--chunks 5000]

Input: a session's ``simple_audio_response`` (event stamping, hooks check, resampling when needed, the
provider's message building) against a client that base64-encodes and sends the same chunk by hand.
Output: a session receiving audio deltas (JSON decode, base64 decode, PcmData, event stamping, dispatch to
one consumer) against a client that only decodes. Both talk to a local sink server over a real socket; the
numbers are client-process CPU microseconds per chunk (the server runs in another process).

At 50 chunks a second, 100 µs per chunk is 0.5 % of a core per session in each direction: that is the
budget for "hundreds of sessions per core".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import time
from typing import Any

import websockets

from realtime_conformance.reference import ReferenceRealtime, protocol
from realtime_core import PcmData, RealtimeAudioOutputEvent

CHUNK_16K = PcmData.tone(20, 16000)
CHUNK_48K_STEREO = PcmData.tone(20, 48000).to_stereo()
DELTA = base64.b64encode(PcmData.tone(20, 24000).samples.data).decode()


def _serve(port_queue: Any, deltas: int) -> None:
    async def handler(ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") == "session.update":
                await ws.send(json.dumps({"type": "session.ready", "session": {}}))
            elif msg.get("type") == "text.send":  # the output benchmark asks for a burst of deltas
                for _ in range(deltas):
                    await ws.send('{"type":"audio.delta","response_id":"r1","audio":"' + DELTA + '"}')
                await ws.send('{"type":"response.done","response_id":"r1","status":"completed"}')

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as server:
            port_queue.put(next(iter(server.sockets)).getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


async def bare_input(url: str, n: int) -> float:
    async with websockets.connect(url) as ws:
        start = time.process_time()
        for _ in range(n):
            await ws.send(json.dumps({"type": "audio.append", "audio": base64.b64encode(CHUNK_16K.to_bytes()).decode()}))
        return (time.process_time() - start) / n * 1e6


async def session_input(url: str, n: int, chunk: PcmData, consumers: int) -> float:
    session = ReferenceRealtime(url=url, api_key="k")
    streams = [session.events() for _ in range(consumers)]
    await session.connect()
    start = time.process_time()
    for _ in range(n):
        await session.simple_audio_response(chunk)
        for s in streams:
            while s.get_nowait() is not None:
                pass
    elapsed = time.process_time() - start
    await session.close()
    return elapsed / n * 1e6


async def bare_output(url: str, n: int) -> float:
    async with websockets.connect(url, max_size=None) as ws:
        start = time.process_time()
        await ws.send(json.dumps({"type": "text.send", "text": "go"}))
        count = 0
        async for raw in ws:
            msg = json.loads(raw)
            if msg["type"] == "audio.delta":
                PcmData.from_bytes(base64.b64decode(msg["audio"]), 24000)
                count += 1
            elif msg["type"] == "response.done":
                break
        return (time.process_time() - start) / max(1, count) * 1e6


async def session_output(url: str, n: int) -> float:
    session = ReferenceRealtime(url=url, api_key="k")
    stream = session.events()
    await session.connect()
    start = time.process_time()
    await session._send(protocol.message("text.send", text="go"))  # bypass the text guard: raw burst request
    count = 0
    async for event in stream:
        if isinstance(event, RealtimeAudioOutputEvent):
            count += 1
            if count == n:
                break
    elapsed = time.process_time() - start
    await session.close()
    return elapsed / n * 1e6


async def run(n: int, port: int) -> None:
    url = f"ws://127.0.0.1:{port}"
    rows = [
        ("input: bare websockets+json+base64", await bare_input(url, n)),
        ("input: session, 16 kHz (no resampling), 1 consumer", await session_input(url, n, CHUNK_16K, 1)),
        ("input: session, 16 kHz, no consumer", await session_input(url, n, CHUNK_16K, 0)),
        ("input: session, 48 kHz stereo (resampled)", await session_input(url, n, CHUNK_48K_STEREO, 1)),
        ("output: bare websockets+json+base64", await bare_output(url, n)),
        ("output: session, 1 consumer", await session_output(url, n)),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'path':<{width}}  µs CPU per 20 ms chunk")
    for name, us in rows:
        print(f"{name:<{width}}  {us:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=5000)
    args = parser.parse_args()
    queue: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(queue, args.chunks), daemon=True)
    server.start()
    try:
        asyncio.run(run(args.chunks, queue.get(timeout=10)))
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
