"""CPU cost of the microphone path of one Nova session, measured in the client process only.

The emulator runs in a child process so its work is not counted. Run:

    .venv/bin/python plugins/nova/benchmarks/bench_audio_path.py

It prints the client CPU time per 20 ms chunk (through the SDK: serialise, sign, frame, awscrt write)
with batching off and at the default 60 ms, and the sessions per core that leaves at real-time pace.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from typing import Any

CHUNKS = 1500


def _serve(queue: Any) -> None:
    from realtime_nova.emulator import NovaEmulator

    async def main() -> None:
        async with NovaEmulator(verify_signatures=False, idle_timeout_s=None) as emulator:
            options = emulator.session_options()
            options["aws_secret_access_key"] = options["aws_secret_access_key"].get_secret_value()
            options["aws_session_token"] = options["aws_session_token"].get_secret_value()
            queue.put(json.dumps(options))
            await asyncio.Event().wait()

    asyncio.run(main())


async def _measure(options: dict[str, Any], batch_ms: float) -> float:
    from realtime_core import PcmData
    from realtime_nova import NovaRealtime

    session = NovaRealtime(**options, audio_batch_ms=batch_ms, silence_fill_ms=60_000)
    await session.connect()
    chunk = PcmData.tone(20, 16000)
    for _ in range(50):  # warm up
        await session.simple_audio_response(chunk)
    start = time.process_time()
    for _ in range(CHUNKS):
        await session.simple_audio_response(chunk)
    spent = time.process_time() - start
    await session.close()
    return spent / CHUNKS


def main() -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(queue,), daemon=True)
    server.start()
    try:
        options = json.loads(queue.get(timeout=30))
        for batch in (0.0, 60.0):
            per_chunk = asyncio.run(_measure(options, batch))
            sessions = 1.0 / (per_chunk * 50)
            print(
                f"audio_batch_ms={batch:>4.0f}: {per_chunk * 1e6:6.0f} us CPU per 20 ms chunk -> ~{sessions:.0f} sessions/core"
            )
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
