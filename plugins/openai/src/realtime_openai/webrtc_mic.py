"""The microphone of a WebRTC session: the app's audio as an outbound aiortc track, paced in real time."""

from __future__ import annotations

import asyncio
import contextlib
import fractions

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from realtime_core import PcmData

from .webrtc_protocol import WEBRTC_SAMPLE_RATE

__all__ = ["MicrophoneTrack"]

FRAME_SAMPLES = WEBRTC_SAMPLE_RATE // 50  # 20 ms
FRAME_BYTES = FRAME_SAMPLES * 2
FRAME_S = 0.02
_TIME_BASE = fractions.Fraction(1, WEBRTC_SAMPLE_RATE)


class MicrophoneTrack(MediaStreamTrack):
    """The local audio track: what the app sends, as 20 ms frames of 48 kHz mono PCM.

    Audio goes out as fast as the app sends it (a burst faster than real time stays a burst; the server's
    VAD runs on the audio clock). When the app sends nothing, the track sends silence in real time, like a
    live microphone: the stream never stalls, the server hears the pause, and its jitter buffer (which
    holds the newest packets back until later ones arrive) lets the last words through. Silence starts
    ``slack`` after the audio ran out in real-time terms, so a microphone delivering chunks of up to
    ``burst_after`` seconds is never padded; audio sent further ahead of real time than that is a burst
    (a file, a test), after which silence starts ``burst_idle`` after the last chunk.
    """

    kind = "audio"

    def __init__(self, *, slack: float = 0.06, burst_after: float = 0.3, burst_idle: float = 0.05) -> None:
        super().__init__()
        self._slack = slack
        self._burst_after = burst_after
        self._burst_idle = burst_idle
        self._buf = bytearray()
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self._clock: float | None = None
        self._last_push = float("-inf")
        self._idle = True
        self._idle_next = 0.0
        self._pts = 0
        self.sent_ms = 0.0
        """Milliseconds of audio (including the silence it filled in) handed to the encoder."""

    @property
    def pending_ms(self) -> float:
        """Audio queued and not yet handed to the encoder."""
        return len(self._buf) / 2 * 1000 / WEBRTC_SAMPLE_RATE

    def push(self, pcm: PcmData) -> None:
        """Queue mono 48 kHz PCM (the caller converts)."""
        samples = pcm.samples
        if samples.dtype.byteorder == ">":
            samples = samples.astype("<i2")
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._idle or self._clock is None:
            self._clock = now  # a new stretch of real audio starts now
        self._idle = False
        self._last_push = now
        self._buf += memoryview(samples).cast("B")
        self._empty.clear()
        self._wake.set()

    async def flush(self, *, tail_ms: float = 100.0, timeout: float = 1.0) -> None:
        """Send what is queued now, padded with ``tail_ms`` of silence (so the server's jitter buffer lets
        the last of it through), and wait until the encoder took it all."""
        if not self._buf:
            return
        pad = (-len(self._buf)) % FRAME_BYTES + int(tail_ms * WEBRTC_SAMPLE_RATE / 1000) * 2
        self._buf += bytes(pad)
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._empty.wait()

    def take_pending(self) -> bytes:
        """Remove and return the audio not handed to the encoder yet (the connection died under it)."""
        data = bytes(self._buf)
        self._buf.clear()
        self._empty.set()
        return data

    def stop(self) -> None:
        super().stop()
        self._wake.set()
        self._empty.set()

    async def _sleep_until(self, at: float) -> None:
        delay = at - asyncio.get_running_loop().time()
        if delay <= 0:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            now = loop.time()
            if len(self._buf) >= FRAME_BYTES:
                data = bytes(self._buf[:FRAME_BYTES])
                del self._buf[:FRAME_BYTES]
                self._clock = max(self._clock or now, now - 0.1) + FRAME_S
                break
            if not self._idle:
                clock = self._clock if self._clock is not None else now
                if clock - self._last_push > self._burst_after:
                    due = self._last_push + self._burst_idle
                else:
                    due = clock + self._slack
                if now < due:
                    await self._sleep_until(due)
                    continue
                self._idle = True
                self._idle_next = now
            if now < self._idle_next:
                await self._sleep_until(self._idle_next)
                continue
            data = bytes(self._buf).ljust(FRAME_BYTES, b"\x00")  # a partial frame goes first, padded
            self._buf.clear()
            self._idle_next = max(self._idle_next + FRAME_S, now - 0.1)
            break
        if not self._buf:
            self._empty.set()
        frame = av.AudioFrame.from_ndarray(np.frombuffer(data, np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = WEBRTC_SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = _TIME_BASE
        self._pts += FRAME_SAMPLES
        self.sent_ms += FRAME_S * 1000
        return frame
