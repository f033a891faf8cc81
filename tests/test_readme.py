"""The Python blocks of README.md and core/README.md run, against the providers' emulators.

Each block is run as the script it is, with two things provided by the test: the names the prose says the
app supplies (``mic_bytes``, ``play``, ``speaker``, ``mic_chunks``), and, for ``asyncio.run(...)``, a run
with the emulator of every provider the block names started first and ``realtime_core.connect``/``load``
pointed at it (real sockets, the real protocol: only the address and the test key are the emulator's).
A block that never finishes fails the test after its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import realtime_core
from realtime_core import PcmData, plugins
from realtime_core.demo import bundled_speech

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "core" / "README.md"]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PROVIDERS = ("openai", "gemini", "nova", "qwen")


def blocks() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for doc in DOCS:
        for i, match in enumerate(BLOCK.finditer(doc.read_text(encoding="utf-8"))):
            found.append((f"{doc.relative_to(ROOT)}#{i + 1}", match.group(1)))
    return found


def speech_then_silence(rate: int = 48000, channels: int = 1) -> PcmData:
    speech = bundled_speech().resample(rate, channels)
    return PcmData.concat([speech, PcmData.silence(1500, rate, channels)])


class Speaker:
    def __init__(self) -> None:
        self.played: list[PcmData] = []
        self.flushes = 0

    def play(self, pcm: PcmData) -> None:
        self.played.append(pcm)

    def flush(self) -> None:
        self.flushes += 1


async def mic_chunks() -> AsyncIterator[bytes]:
    """20 ms of 48 kHz stereo at a time, at real-time pace: a question, then silence."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, chunk in enumerate(speech_then_silence(48000, 2).chunks(20)):
        yield chunk.to_bytes()
        await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))


def run_with_emulators(source: str, speaker: Speaker, timeout: float) -> Any:
    names = [p for p in PROVIDERS if f'"{p}"' in source]

    def run(main: Coroutine[Any, Any, Any]) -> Any:
        async def with_emulators() -> Any:
            async with contextlib.AsyncExitStack() as stack:
                emulators = {}
                for name in names:
                    factory = realtime_core.get_provider(name).resolve_emulator()
                    assert factory is not None
                    emulators[name] = await stack.enter_async_context(factory())
                original = plugins.load

                def load(name: str, **options: Any) -> Any:
                    emulator = emulators.get(name)
                    merged = {**emulator.session_options(), **options} if emulator else options
                    return original(name, **merged)

                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr(plugins, "load", load)
                    mp.setattr(realtime_core, "load", load, raising=False)
                    async with asyncio.timeout(timeout):
                        return await main

        return asyncio.run(with_emulators())

    return run


@pytest.mark.parametrize(("where", "source"), blocks(), ids=[w for w, _ in blocks()])
def test_readme_block_runs(where: str, source: str) -> None:
    speaker = Speaker()
    namespace: dict[str, Any] = {
        "__name__": "__readme__",
        "mic_bytes": speech_then_silence(48000).to_bytes(),
        "play": speaker.play,
        "speaker": speaker,
        "mic_chunks": mic_chunks,
        "__run__": run_with_emulators(source, speaker, timeout=60),
    }
    code = source.replace("asyncio.run(", "__run__(")
    exec(compile(code, where, "exec"), namespace)
    if "play(" in source:
        assert speaker.played, f"{where}: no reply audio reached play()"
        assert np.concatenate([p.samples for p in speaker.played]).size > 0
