"""Benchmarks of the per-chunk audio path (run: ``.venv/bin/pytest plugins/openai/benchmarks/bench_audio_path.py``).

The audio path runs ~50 times a second per session; these keep its cost visible:

* building an ``input_audio_buffer.append`` frame from PCM (base64 straight from the sample buffer);
* ``simple_audio_response`` for one 20 ms mic chunk, through core and the WebSocket transport's coalescing
  (two of three chunks only gather; the third writes one frame) to the emulator;
* handling a ``response.output_audio.delta`` (decode + ``PcmData`` + the core emitter, nobody listening);
* the same with ``json.dumps`` for comparison (what a naive client does).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from realtime_core import PcmData
from realtime_openai import OpenAIRealtime
from realtime_openai.emulator import OpenAIEmulator
from realtime_openai.protocol import append_audio_frame
from realtime_openai_protocol import ServerEventHandler

CHUNK = PcmData.tone(20, 24000)  # one 20 ms mic chunk at the wire rate


def test_append_frame(benchmark: Any) -> None:
    view = memoryview(CHUNK.samples).cast("B")
    frame = benchmark(append_audio_frame, view)
    assert json.loads(frame)["audio"] == base64.b64encode(CHUNK.to_bytes()).decode()


def test_append_frame_naive_json(benchmark: Any) -> None:
    def naive() -> str:
        return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(CHUNK.to_bytes()).decode()})

    benchmark(naive)


def test_audio_chunk_through_the_session(benchmark: Any) -> None:
    loop = asyncio.new_event_loop()

    async def start() -> tuple[OpenAIEmulator, OpenAIRealtime]:
        emu = OpenAIEmulator()
        await emu.start()
        session = OpenAIRealtime(**emu.session_options(), turn_detection=None, input_transcription=None)
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
    async def make() -> ServerEventHandler:
        session = OpenAIRealtime(api_key="sk-bench")
        handler = ServerEventHandler(session._core, session, output_rate=24000)  # pyright: ignore[reportPrivateUsage]
        handler.handle({"type": "response.created", "response": {"id": "resp_1"}})
        handler.ready = True
        return handler

    handler = asyncio.run(make())
    message = {
        "type": "response.output_audio.delta",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(PcmData.tone(100, 24000).to_bytes()).decode(),
    }
    benchmark(handler.handle, message)
