"""Cost of core's input-audio buffers per 20 ms microphone chunk (no I/O).

Run: ``.venv/bin/pytest benchmarks/bench_audio_buffers.py -p no:xdist``. No timing is asserted; the numbers
are for comparing changes. Each plugin pays these on its audio path (about 50 chunks a second per session):

* ``AudioBatcher.push`` with the default 50 ms minimum: two of three chunks are copied into the batch, the
  third returns the 60 ms batch (the timer is armed once per batch and disarmed when it fills);
* ``AudioBatcher.send_pieces`` of one batch through a send that does nothing (the coroutine overhead);
* ``AudioReplayBuffer.add`` at its bound (one chunk in, one out).
"""

from __future__ import annotations

import asyncio
from typing import Any

from realtime_core import PcmData
from realtime_core.audio_buffers import AudioBatcher, AudioReplayBuffer

CHUNK = PcmData.tone(20, 24000)


def _push_batches(benchmark: Any, batcher: AudioBatcher) -> None:
    async def many() -> None:  # inside the loop: the first chunk of a batch arms the timer on it
        for _ in range(1000):
            batcher.push(CHUNK)
            batcher.push(CHUNK)
            assert batcher.push(CHUNK) is not None

    loop = asyncio.new_event_loop()
    try:
        benchmark(lambda: loop.run_until_complete(many()))
    finally:
        loop.close()


def test_batcher_push_three_chunks(benchmark: Any) -> None:
    """1000 x three chunks (one batch each); divide by 3000 for the cost per chunk. Pessimistic: without
    turns of the loop between batches, the cancelled timers pile up in its heap."""
    _push_batches(benchmark, AudioBatcher(24000, min_ms=50, on_due=lambda: None))


def test_batcher_push_three_chunks_without_timer(benchmark: Any) -> None:
    """The same without ``on_due`` (no timer): the gathering alone."""
    _push_batches(benchmark, AudioBatcher(24000, min_ms=50))


def test_batcher_send_pieces(benchmark: Any) -> None:
    """1000 batches of one piece each."""
    batcher = AudioBatcher(24000, min_ms=50)
    batch = memoryview(bytes(2880))

    async def nothing(piece: memoryview) -> None:
        return None

    async def many() -> None:
        for _ in range(1000):
            await batcher.send_pieces(batch, nothing)

    loop = asyncio.new_event_loop()
    try:
        benchmark(lambda: loop.run_until_complete(many()))
    finally:
        loop.close()


def test_replay_buffer_add_at_its_bound(benchmark: Any) -> None:
    """1000 chunks."""
    buffer = AudioReplayBuffer(10_000)
    for _ in range(500):
        buffer.add(CHUNK)

    def many() -> None:
        for _ in range(1000):
            buffer.add(CHUNK)

    benchmark(many)
