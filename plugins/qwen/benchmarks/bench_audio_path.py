"""Benchmarks of the Qwen audio path (run: ``.venv/bin/pytest plugins/qwen/benchmarks/bench_audio_path.py``).

The audio path runs ~50 times a second per session, and a process may hold hundreds of sessions:

* ``simple_audio_response`` for one 20 ms mic chunk at 16 kHz, through core (type check, events) and the
  link's coalescing (two of three chunks only gather; the third writes one frame);
* handling a ``response.audio.delta`` (decode, ``PcmData``, the core emitter, nobody listening);
* many sessions streaming at once against the emulator: the chunks per second one event loop sustains.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

from realtime_core import PcmData
from realtime_qwen import QwenRealtime
from realtime_qwen.emulator import QwenEmulator
from realtime_qwen.handler import QwenEventHandler

CHUNK = PcmData.tone(20, 16000)  # one 20 ms mic chunk at the wire rate


def test_audio_chunk_through_the_session(benchmark: Any) -> None:
    loop = asyncio.new_event_loop()

    async def start() -> tuple[QwenEmulator, QwenRealtime]:
        emu = QwenEmulator(idle_timeout_s=0)
        await emu.start()
        session = QwenRealtime(**emu.session_options(), model="qwen-omni-turbo-realtime", turn_detection=None)
        await session.connect()
        return emu, session

    emu, session = loop.run_until_complete(start())
    try:
        benchmark(lambda: loop.run_until_complete(session.simple_audio_response(CHUNK)))
    finally:
        loop.run_until_complete(session.close())
        loop.run_until_complete(emu.stop())
        loop.close()


def test_output_delta_handling(benchmark: Any) -> None:
    async def make() -> QwenEventHandler:
        session = QwenRealtime(api_key="sk-bench-0000000000")
        handler = QwenEventHandler(session)
        handler.ready = True
        return handler

    handler = asyncio.run(make())
    message = {
        "type": "response.audio.delta",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(PcmData.tone(100, 24000).to_bytes()).decode(),
    }
    benchmark(handler.handle, message)


def test_many_sessions_streaming() -> None:
    """200 sessions x 1 s of audio in 20 ms chunks, as fast as one loop can: prints chunks per second."""

    async def run(sessions: int = 200, seconds: float = 1.0) -> float:
        async with QwenEmulator(idle_timeout_s=0) as emu:
            opened = [
                QwenRealtime(**emu.session_options(), model="qwen-omni-turbo-realtime", turn_detection=None)
                for _ in range(sessions)
            ]
            await asyncio.gather(*(s.connect() for s in opened))
            chunks = list(PcmData.silence(seconds * 1000, 16000).chunks(20))

            async def stream(s: QwenRealtime) -> None:
                for chunk in chunks:
                    await s.simple_audio_response(chunk)

            started = time.perf_counter()
            await asyncio.gather(*(stream(s) for s in opened))
            elapsed = time.perf_counter() - started
            await asyncio.gather(*(s.close() for s in opened))
            return sessions * len(chunks) / elapsed

    rate = asyncio.run(run())
    print(f"\n{rate:,.0f} chunks/s on one loop (client and emulator share it): {rate / 50:,.0f} real-time sessions")
    assert rate > 0
