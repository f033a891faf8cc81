"""Benchmarks of the per-chunk audio path (about 50 chunks per second per session, each way).

Run: ``.venv/bin/pytest plugins/gemini/benchmarks/bench_audio_path.py -p no:xdist``. No timing is asserted;
these numbers are for comparing changes (a session's audio path should cost a few microseconds per chunk).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from realtime_core import PcmData
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator
from realtime_gemini.emulator.schema import fast_audio
from realtime_gemini.protocol import audio_message

CHUNK_IN = PcmData.tone(20, 16000, amplitude=0.3)  # what the app sends every 20 ms
CHUNK_OUT = PcmData.tone(40, 24000, amplitude=0.3)
SERVER_FRAME = json.dumps(
    {
        "serverContent": {
            "modelTurn": {
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": "audio/pcm;rate=24000",
                            "data": base64.b64encode(CHUNK_OUT.to_bytes()).decode(),
                        }
                    }
                ]
            }
        }
    }
).encode()


def test_build_input_audio_message(benchmark: Any) -> None:
    message = benchmark(audio_message, CHUNK_IN)
    assert message.startswith(b'{"realtimeInput"')


def test_audio_chunk_through_the_session(benchmark: Any) -> None:
    """One mic chunk through core, the message build, the send and the resumption replay buffer."""
    loop = asyncio.new_event_loop()

    async def start() -> tuple[GeminiEmulator, GeminiRealtime]:
        emu = GeminiEmulator()
        await emu.start()
        session = GeminiRealtime(**emu.session_options())
        await session.connect()
        return emu, session

    emu, session = loop.run_until_complete(start())
    try:
        benchmark(lambda: loop.run_until_complete(session.simple_audio_response(CHUNK_IN)))
    finally:
        loop.run_until_complete(session.close())
        loop.run_until_complete(emu.stop())
        loop.close()


def test_handle_output_audio_frame(benchmark: Any) -> None:
    session = GeminiRealtime(api_key="bench")
    stream = session.events(maxsize=10)  # a listening app, so events are really built

    def receive() -> None:
        session._on_message(json.loads(SERVER_FRAME))
        while stream.get_nowait() is not None:
            pass

    benchmark(receive)


def test_emulator_reads_an_input_frame(benchmark: Any) -> None:
    frame = audio_message(CHUNK_IN)

    def read() -> bytes:
        _, data = fast_audio(json.loads(frame)) or ("", "")
        return base64.b64decode(data)

    assert len(benchmark(read)) == 640
