"""AudioBatcher (coalescing microphone chunks) and AudioReplayBuffer (audio a new connection hears again)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from realtime_core import ConfigurationError, ConnectionFailedError, PcmData
from realtime_core.audio_buffers import AudioBatcher, AudioReplayBuffer, pcm16_bytes

RATE = 24000


def ramp(ms: float, start: int = 0, rate: int = RATE) -> PcmData:
    """A chunk whose samples say where they came from (so order and completeness can be checked)."""
    frames = round(rate * ms / 1000)
    return PcmData(((np.arange(frames) + start) % 30000).astype(np.int16), rate)


def as_samples(data: memoryview | bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2")


class TestBatcherPush:
    def test_sizes_follow_the_milliseconds(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=50, max_ms=1000)
        assert batcher.min_bytes == 2400 and batcher.max_bytes == 48000
        assert AudioBatcher(16000, min_ms=60).min_bytes == 1920  # Nova's 60 ms at 16 kHz
        assert AudioBatcher(RATE, min_ms=0, max_ms=0.01).max_bytes == 2  # at least one sample

    async def test_a_big_chunk_with_nothing_pending_goes_as_is_without_a_copy(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=50)
        chunk = ramp(60)
        data = batcher.push(chunk)
        assert data is not None and np.shares_memory(as_samples(data), chunk.samples)
        assert batcher.pending_bytes == 0

    async def test_small_chunks_gather_into_one_batch_in_order(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=50)
        chunks = [ramp(20, start=i * 480) for i in range(3)]
        assert batcher.push(chunks[0]) is None
        assert batcher.push(chunks[1]) is None
        assert batcher.pending_ms == pytest.approx(40)
        data = batcher.push(chunks[2])
        assert data is not None
        assert np.array_equal(as_samples(data), np.concatenate([c.samples for c in chunks]))
        assert batcher.pending_bytes == 0 and batcher.take() is None
        batcher.clear()

    async def test_gathered_audio_is_a_copy_the_caller_may_reuse_its_buffer(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=50)
        buffer = bytearray(ramp(20).to_bytes())
        assert batcher.push(PcmData.from_bytes(buffer, RATE)) is None
        buffer[:] = bytes(len(buffer))  # the app refills its buffer with the next chunk
        data = batcher.take()
        assert data is not None and np.array_equal(as_samples(data), ramp(20).samples)

    async def test_a_big_chunk_after_small_ones_goes_behind_them(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=50)
        small, big = ramp(10), ramp(100, start=240)
        assert batcher.push(small) is None
        data = batcher.push(big)
        assert data is not None and np.array_equal(as_samples(data), np.concatenate([small.samples, big.samples]))

    async def test_zero_min_sends_every_chunk_and_empty_chunks_are_nothing(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=0)
        data = batcher.push(ramp(5))
        assert data is not None and data.nbytes == 240
        assert batcher.push(PcmData.silence(0, RATE)) is None
        assert AudioBatcher(RATE, min_ms=50).push(PcmData.silence(0, RATE)) is None

    async def test_big_endian_samples_go_out_little_endian(self) -> None:
        chunk = ramp(60)
        swapped = ramp(60)
        swapped.samples = chunk.samples.astype(">i2")  # what native int16 is on a big-endian machine
        data = AudioBatcher(RATE, min_ms=50).push(swapped)
        assert data is not None and bytes(data) == chunk.to_bytes()
        assert bytes(pcm16_bytes(chunk)) == chunk.to_bytes()

    def test_bad_settings_are_configuration_errors(self) -> None:
        with pytest.raises(ConfigurationError):
            AudioBatcher(RATE, min_ms=-1)
        with pytest.raises(ConfigurationError):
            AudioBatcher(RATE, min_ms=50, max_ms=0)
        with pytest.raises(ConfigurationError):
            AudioBatcher(0, min_ms=50)


class TestBatcherTimer:
    async def test_an_unfinished_batch_is_due_after_min_ms(self) -> None:
        loop = asyncio.get_running_loop()
        due = asyncio.Event()
        calls: list[float] = []

        def on_due() -> None:
            calls.append(loop.time())
            due.set()

        batcher = AudioBatcher(RATE, min_ms=30, on_due=on_due)
        started = loop.time()
        assert batcher.push(ramp(10)) is None
        assert batcher.push(ramp(10, start=240)) is None  # the timer runs from the batch's first chunk
        await asyncio.wait_for(due.wait(), 5)
        assert calls and calls[0] - started >= 0.03 - 0.005
        data = batcher.take()
        assert data is not None and data.nbytes == 960

    async def test_a_taken_batch_is_not_due_and_the_next_batch_gets_its_own_timer(self) -> None:
        due = asyncio.Event()
        seen: list[int] = []
        batcher: AudioBatcher

        def on_due() -> None:
            seen.append(batcher.pending_bytes)
            due.set()

        batcher = AudioBatcher(RATE, min_ms=20, on_due=on_due)
        assert batcher.push(ramp(10)) is None
        assert batcher.take() is not None  # e.g. flushed before a commit
        assert batcher.push(ramp(5)) is None
        await asyncio.wait_for(due.wait(), 5)
        assert seen == [240]  # once, for the second batch only

    async def test_a_full_batch_disarms_the_timer(self) -> None:
        due = asyncio.Event()
        batcher = AudioBatcher(RATE, min_ms=20, on_due=due.set)
        assert batcher.push(ramp(10)) is None
        assert batcher.push(ramp(10)) is not None
        assert batcher.push(ramp(5)) is None  # a new batch: a new timer
        await asyncio.wait_for(due.wait(), 5)
        assert batcher.pending_ms == pytest.approx(5)
        batcher.clear()
        assert batcher.pending_bytes == 0


class TestBatcherSendPieces:
    async def test_pieces_are_at_most_max_ms_and_in_order(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=0, max_ms=100)
        chunk = ramp(250)
        sent: list[bytes] = []

        async def send(piece: memoryview) -> None:
            sent.append(bytes(piece))

        data = batcher.push(chunk)
        assert data is not None
        assert await batcher.send_pieces(data, send) is True
        assert [len(p) for p in sent] == [4800, 4800, 2400]
        assert b"".join(sent) == chunk.to_bytes()

    async def test_a_failed_send_hands_back_the_rest_and_raises(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=0, max_ms=100)
        chunk = ramp(250)
        unsent: list[PcmData] = []
        calls = 0

        async def send(piece: memoryview) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise ConnectionFailedError("gone")

        data = batcher.push(chunk)
        assert data is not None
        with pytest.raises(ConnectionFailedError):
            await batcher.send_pieces(data, send, on_unsent=unsent.append)
        [rest] = unsent
        assert rest.sample_rate == RATE and rest == chunk.slice_ms(100)
        assert not np.shares_memory(rest.samples, chunk.samples)  # a copy: the caller may reuse its buffer

    async def test_false_from_send_stops_and_hands_back_without_raising(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=0, max_ms=100)
        chunk = ramp(150)
        unsent: list[PcmData] = []

        async def refuse(piece: memoryview) -> bool:
            return False

        data = batcher.push(chunk)
        assert data is not None
        assert await batcher.send_pieces(data, refuse, on_unsent=unsent.append) is False
        assert unsent == [chunk]
        assert await batcher.send_pieces(data, refuse) is False  # without on_unsent: only the result

    async def test_other_errors_propagate_without_a_hand_back(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=0)
        unsent: list[PcmData] = []

        async def broken(piece: memoryview) -> None:
            raise RuntimeError("bug")

        data = batcher.push(ramp(20))
        assert data is not None
        with pytest.raises(RuntimeError):
            await batcher.send_pieces(data, broken, on_unsent=unsent.append)
        assert not unsent

    def test_to_pcm_is_a_copy(self) -> None:
        batcher = AudioBatcher(RATE, min_ms=50)
        chunk = ramp(20)
        pcm = batcher.to_pcm(pcm16_bytes(chunk))
        assert pcm == chunk and not np.shares_memory(pcm.samples, chunk.samples)


class TestReplayBuffer:
    def test_bounded_oldest_first_and_held_by_reference(self) -> None:
        buffer = AudioReplayBuffer(100)
        chunks = [ramp(20, start=i) for i in range(10)]
        for chunk in chunks:
            buffer.add(chunk)
        assert buffer.duration_ms == pytest.approx(100) and len(buffer) == 5
        assert all(a is b for a, b in zip(buffer, chunks[5:], strict=True))
        joined = buffer.joined()
        assert joined is not None and np.array_equal(joined.samples, np.concatenate([c.samples for c in chunks[5:]]))
        assert len(buffer) == 5  # joined() keeps the audio
        taken = buffer.take()
        assert taken == chunks[5:] and taken[0] is chunks[5]
        assert len(buffer) == 0 and buffer.duration_ms == 0 and buffer.joined() is None

    def test_the_newest_chunk_is_always_kept_whole(self) -> None:
        buffer = AudioReplayBuffer(50)
        buffer.add(ramp(20))
        big = ramp(200)
        buffer.add(big)
        assert list(buffer) == [big] and buffer.duration_ms == pytest.approx(200)

    def test_clear_and_zero_limit(self) -> None:
        buffer = AudioReplayBuffer(1000)
        buffer.add(ramp(20))
        buffer.clear()
        assert len(buffer) == 0 and buffer.duration_ms == 0
        off = AudioReplayBuffer(0)
        off.add(ramp(20))
        assert len(off) == 0 and off.take() == [] and "0 of 0 ms" in repr(off)
