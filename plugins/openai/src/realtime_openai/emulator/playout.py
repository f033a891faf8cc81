"""The emulator's outbound WebRTC audio track: replies played out one after the other.

Replies play ``speed`` times faster than real time (1.0 is what a real peer does); between replies the
track sends silence in real time, as a live WebRTC peer does (which also pushes the last packets of a
reply out of the client's jitter buffer).

``clear()`` (a barge-in, the client's ``output_audio_buffer.clear``) may land at any moment, also in the
loop iteration where ``recv()``'s frame timer fired: ``recv()`` therefore never keeps what it computed before
a wait across it. Every change bumps a generation counter, and ``recv()`` looks again whenever the
generation moved while it waited (a frame computed for a cleared reply is never sent, and the pacing clock
is never left undefined: aiortc stops sending RTP for good when ``recv()`` raises).
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from realtime_core import PcmData, Resampler

__all__ = ["FRAME_BYTES", "RTC_RATE", "Playback", "PlayoutTrack"]

RTC_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz, what aiortc's Opus encoder packs per packet
FRAME_BYTES = FRAME_SAMPLES * 2
FRAME_S = 0.02
_SILENCE = bytes(FRAME_BYTES)
_STALL_S = 0.1  # a reply whose audio stalls this long gets silence in between (the stream keeps flowing)
_TIME_BASE = fractions.Fraction(1, RTC_RATE)


@dataclass
class Playback:
    """One reply's audio on its way out: queued PCM at 48 kHz and how much of it was played."""

    response_id: str
    item_id: str
    pcm: bytearray = field(default_factory=bytearray)
    resampler: Resampler = field(default_factory=lambda: Resampler(RTC_RATE, 1))
    played_samples: int = 0
    finished: bool = False
    announced: bool = False
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once it drained or was cleared."""

    @property
    def played_ms(self) -> float:
        return self.played_samples * 1000 / RTC_RATE


class PlayoutTrack(MediaStreamTrack):
    """See the module docstring.

    :param on_started: called when a reply starts playing (``output_audio_buffer.started``).
    :param on_drained: called once the last frame of a finished reply was sent (``.stopped``).
    """

    kind = "audio"

    def __init__(
        self,
        *,
        speed: float = 1.0,
        on_started: Callable[[Playback], None],
        on_drained: Callable[[Playback], None],
    ) -> None:
        super().__init__()
        self.speed = speed
        self._on_started = on_started
        self._on_drained = on_drained
        self._queue: deque[Playback] = deque()
        self._by_id: dict[str, Playback] = {}
        self._gone: set[str] = set()
        self._wake = asyncio.Event()
        self._ended = asyncio.Event()
        self._generation = 0
        self._clock = 0.0  # loop time the next frame is due (re-anchored when behind)
        self._starved_at: float | None = None
        self._pts = 0

    @property
    def playing(self) -> Playback | None:
        """The reply being played out (or waiting for its next audio), if any."""
        return self._queue[0] if self._queue else None

    def enqueue(self, response_id: str, item_id: str, pcm: PcmData) -> None:
        """More audio of a reply (any rate, mono); ignored once that reply was cleared or drained."""
        if response_id in self._gone:
            return
        pb = self._by_id.get(response_id)
        if pb is None:
            pb = self._by_id[response_id] = Playback(response_id, item_id)
            self._queue.append(pb)
            if pb is self._queue[0]:
                self._announce(pb)
        pb.pcm += pb.resampler.process(pcm).samples.tobytes()
        self._changed()

    def finish(self, response_id: str) -> None:
        """The reply's generation ended: play what is queued, then drain."""
        pb = self._by_id.get(response_id)
        if pb is None or pb.finished:
            return
        pb.pcm += pb.resampler.flush().samples.tobytes()
        pb.finished = True
        self._changed()

    def clear(self) -> list[Playback]:
        """Throw away every queued reply now (the first one is the one playing); return them."""
        cleared = list(self._queue)
        self._queue.clear()
        for pb in cleared:
            self._forget(pb)
        self._changed()
        return cleared

    async def played(self, response_id: str) -> None:
        """Return once the reply's playback is over (drained or cleared), or the track stopped."""
        pb = self._by_id.get(response_id)
        if pb is None or self.readyState != "live":
            return
        waits = {asyncio.ensure_future(pb.gone.wait()), asyncio.ensure_future(self._ended.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def stop(self) -> None:
        super().stop()
        self._ended.set()
        for pb in list(self._queue):
            self._forget(pb)
        self._queue.clear()
        self._changed()

    def _forget(self, pb: Playback) -> None:
        self._by_id.pop(pb.response_id, None)
        self._gone.add(pb.response_id)
        pb.gone.set()

    def _changed(self) -> None:
        self._generation += 1
        self._wake.set()

    def _announce(self, pb: Playback) -> None:
        if not pb.announced:
            pb.announced = True
            self._on_started(pb)

    async def _wait_until(self, at: float) -> bool:
        """Wait until ``at`` (loop time); True if anything changed meanwhile (new audio, a clear, a stop),
        also when the change and the timer fell in the same loop iteration."""
        generation = self._generation
        delay = at - asyncio.get_running_loop().time()
        if delay > 0:
            self._wake.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
        return self._generation != generation

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            now = loop.time()
            if self._clock < now - 0.1:
                self._clock = now  # re-anchor: never try to catch up on time lost while idle
            head = self._queue[0] if self._queue else None
            if head is None:
                if await self._wait_until(self._clock):
                    continue
                self._clock += FRAME_S
                return self._frame(_SILENCE)
            self._announce(head)
            if len(head.pcm) >= FRAME_BYTES or (head.finished and head.pcm):
                if await self._wait_until(self._clock):
                    continue  # something changed (a clear, a stop, more audio): look again
                data = bytes(head.pcm[:FRAME_BYTES])
                del head.pcm[:FRAME_BYTES]
                head.played_samples += len(data) // 2
                self._clock += FRAME_S / self.speed
                self._starved_at = None
                return self._frame(data.ljust(FRAME_BYTES, b"\x00"))
            if head.finished:  # drained: this call means its last frame went out
                self._queue.popleft()
                self._forget(head)
                self._clock = now
                self._on_drained(head)
                continue
            # the reply is still being generated and its audio ran short: silence until more comes
            if self._starved_at is None:
                self._starved_at = now
            if await self._wait_until(max(self._clock, self._starved_at + _STALL_S)):
                continue
            self._clock = max(self._clock, loop.time() - 0.1) + FRAME_S
            return self._frame(_SILENCE)

    def _frame(self, data: bytes) -> av.AudioFrame:
        frame = av.AudioFrame.from_ndarray(np.frombuffer(data, np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RTC_RATE
        frame.pts = self._pts
        frame.time_base = _TIME_BASE
        self._pts += FRAME_SAMPLES
        return frame
