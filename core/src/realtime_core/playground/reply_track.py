"""The agent's voice as a WebRTC track: queued reply audio, played out at real-time pace.

Providers (and their emulators) often deliver a reply faster than real time. :class:`ReplyAudioTrack`
queues it and hands aiortc one 20 ms frame per 20 ms of wall clock, silence when nothing is queued, so
the browser hears a steady stream. It counts how much of each response it has played out, which the
bridge reports to the session (``report_playback``) so truncation matches what the user heard, and
:meth:`flush` drops everything queued the moment the agent is interrupted.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from ..audio import PcmData, Resampler

__all__ = ["ReplyAudioTrack"]

RATE = 48000  # Opus' native rate: aiortc's encoder then only has to duplicate the channel
FRAME_SAMPLES = RATE // 50  # 20 ms
_RESYNC_S = 0.2  # after a stall this long (a busy loop), restart the clock instead of bursting to catch up


@dataclass
class _Segment:
    response_id: str
    samples: npt.NDArray[np.int16]
    offset: int = 0


class ReplyAudioTrack(MediaStreamTrack):
    """An aiortc audio track fed with :class:`PcmData` chunks tagged by response id.

    :param on_played: called as ``on_played(response_id, played_ms)`` whenever a frame carried audio of
        that response.
    """

    kind = "audio"

    def __init__(self, on_played: Callable[[str, float], None] | None = None) -> None:
        super().__init__()
        self._on_played = on_played
        self._queue: deque[_Segment] = deque()
        self._resampler = Resampler(RATE, channels=1)
        self._played: dict[str, int] = {}
        self._pts = 0
        self._start: float | None = None
        self._sent = 0  # samples handed out since _start

    def push(self, response_id: str, pcm: PcmData) -> None:
        """Queue a chunk of ``response_id`` (any rate; mixed down to mono)."""
        samples = self._resampler.process(pcm).samples
        if samples.size:
            self._queue.append(_Segment(response_id, samples))

    def end(self, response_id: str) -> None:
        """``response_id`` has no more audio: queue what the resampler still holds (its filter delay)."""
        samples = self._resampler.flush().samples
        if samples.size:
            self._queue.append(_Segment(response_id, samples))

    def flush(self) -> int:
        """Drop every queued sample (the agent was interrupted); returns how many milliseconds were dropped."""
        dropped = sum(seg.samples.size - seg.offset for seg in self._queue)
        self._queue.clear()
        self._resampler = Resampler(RATE, channels=1)  # its filter tail belongs to the dropped audio
        return round(dropped * 1000 / RATE)

    @property
    def queued_ms(self) -> float:
        return sum(seg.samples.size - seg.offset for seg in self._queue) * 1000 / RATE

    def played_ms(self, response_id: str) -> float:
        """Milliseconds of ``response_id`` handed to the browser so far."""
        return self._played.get(response_id, 0) * 1000 / RATE

    def playing(self) -> str | None:
        """The response whose audio is next in the queue, if any."""
        return self._queue[0].response_id if self._queue else None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._pace()
        frame = AudioFrame.from_ndarray(self._next_samples().reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME_SAMPLES
        return frame

    async def _pace(self) -> None:
        now = time.monotonic()
        if self._start is None:
            self._start = now
            return
        self._sent += FRAME_SAMPLES
        due = self._start + self._sent / RATE
        if now - due > _RESYNC_S:
            self._start, self._sent = now, 0
            return
        if due > now:
            await asyncio.sleep(due - now)  # pacing the media clock, not synchronisation

    def _next_samples(self) -> npt.NDArray[np.int16]:
        out = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        filled = 0
        heard: list[str] = []
        while filled < FRAME_SAMPLES and self._queue:
            seg = self._queue[0]
            take = min(FRAME_SAMPLES - filled, seg.samples.size - seg.offset)
            out[filled : filled + take] = seg.samples[seg.offset : seg.offset + take]
            seg.offset += take
            filled += take
            self._played[seg.response_id] = self._played.get(seg.response_id, 0) + take
            if not heard or heard[-1] != seg.response_id:
                heard.append(seg.response_id)
            if seg.offset >= seg.samples.size:
                self._queue.popleft()
        if self._on_played is not None:
            for response_id in heard:
                self._on_played(response_id, self.played_ms(response_id))
        return out
