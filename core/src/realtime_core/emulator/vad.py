"""A deterministic energy-based voice activity detector for emulators.

It runs on the *audio clock* (milliseconds of audio received), not the wall clock, so tests can push
audio faster than real time and still get the same turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..audio import PcmData
from .scenario import VadSettings

__all__ = ["EnergyVad", "VadEvent"]


@dataclass(frozen=True, slots=True)
class VadEvent:
    """``start`` or ``stop`` of speech at ``at_ms`` on the audio clock; a stop carries the speech audio."""

    kind: Literal["start", "stop"]
    at_ms: float
    speech: PcmData | None = None
    speech_ms: float = 0.0


class EnergyVad:
    """Detect speech by RMS level in 10 ms frames.

    :param sample_rate: rate of the audio fed to :meth:`process` (mono int16).
    :param threshold: RMS (0-1) above which a frame is speech.
    :param silence_ms: quiet after speech that ends the turn.
    :param prefix_ms: audio before the first loud frame kept in the speech segment (and subtracted
        from the reported start, like OpenAI's ``prefix_padding_ms``).
    :param min_speech_ms: loud frames needed before a start is reported.
    """

    FRAME_MS = 10

    def __init__(
        self,
        sample_rate: int,
        *,
        threshold: float = 0.02,
        silence_ms: float = 500,
        prefix_ms: float = 300,
        min_speech_ms: float = 100,
    ) -> None:
        self.sample_rate = sample_rate
        self.threshold = threshold
        self.silence_ms = silence_ms
        self.prefix_ms = prefix_ms
        self.min_speech_ms = min_speech_ms
        self._frame = sample_rate * self.FRAME_MS // 1000
        self._carry = np.zeros(0, dtype=np.int16)
        self.clock_ms = 0.0
        self.speaking = False
        self._loud_run_ms = 0.0
        self._quiet_ms = 0.0
        self._start_ms = 0.0
        self._last_loud_end_ms = 0.0
        self._history: list[np.ndarray] = []  # recent frames (prefix) and the current segment
        self._history_ms = 0.0

    @classmethod
    def from_settings(cls, sample_rate: int, settings: VadSettings, **overrides: float) -> EnergyVad:
        """A detector with a scenario's :class:`VadSettings` (``overrides`` replace single values, e.g. the
        ``silence_ms`` a session configured)."""
        values: dict[str, float] = {
            "threshold": settings.threshold,
            "silence_ms": settings.silence_ms,
            "prefix_ms": settings.prefix_ms,
            "min_speech_ms": settings.min_speech_ms,
        }
        values.update(overrides)
        return cls(sample_rate, **values)

    def reset(self) -> None:
        self._carry = np.zeros(0, dtype=np.int16)
        self.speaking = False
        self._loud_run_ms = self._quiet_ms = 0.0
        self._history.clear()
        self._history_ms = 0.0

    def force_stop(self) -> VadEvent | None:
        """End the current speech segment now (manual commit)."""
        if not self.speaking:
            return None
        return self._stop(self.clock_ms)

    def process(self, pcm: PcmData) -> list[VadEvent]:
        samples = pcm.samples if self._carry.size == 0 else np.concatenate([self._carry, pcm.samples])
        n_frames = samples.size // self._frame
        used = n_frames * self._frame
        self._carry = samples[used:].copy()
        if n_frames == 0:
            return []
        frames = samples[:used].reshape(n_frames, self._frame)
        floats = frames.astype(np.float32)
        levels = np.sqrt(np.mean(floats * floats, axis=1)) / 32768.0
        events: list[VadEvent] = []
        for i in range(n_frames):
            frame_end = self.clock_ms + self.FRAME_MS
            loud = bool(levels[i] > self.threshold)
            self._remember(frames[i])
            if not self.speaking:
                if loud:
                    self._loud_run_ms += self.FRAME_MS
                    if self._loud_run_ms >= max(self.FRAME_MS, self.min_speech_ms):
                        self.speaking = True
                        first_loud = frame_end - self._loud_run_ms
                        self._start_ms = max(0.0, first_loud - self.prefix_ms)
                        self._quiet_ms = 0.0
                        self._last_loud_end_ms = frame_end
                        self._trim_history(keep_ms=frame_end - self._start_ms)
                        events.append(VadEvent("start", self._start_ms))
                else:
                    self._loud_run_ms = 0.0
                    self._trim_history(keep_ms=self.prefix_ms + self.min_speech_ms)
            elif loud:
                self._quiet_ms = 0.0
                self._last_loud_end_ms = frame_end
            else:
                self._quiet_ms += self.FRAME_MS
                if self._quiet_ms >= self.silence_ms:
                    events.append(self._stop(frame_end))
            self.clock_ms = frame_end
        return events

    def _stop(self, now_ms: float) -> VadEvent:
        end_ms = self._last_loud_end_ms if self._quiet_ms else now_ms
        keep = max(0.0, end_ms - self._start_ms)
        data = np.concatenate(self._history) if self._history else np.zeros(0, np.int16)
        # history ends at now_ms; cut it to [start, end]
        total_ms = self._history_ms
        start_idx = max(0, int((total_ms - (now_ms - self._start_ms)) * self.sample_rate / 1000))
        stop_idx = start_idx + int(keep * self.sample_rate / 1000)
        speech = PcmData(np.ascontiguousarray(data[start_idx:stop_idx]), self.sample_rate, 1)
        self.speaking = False
        self._loud_run_ms = 0.0
        self._quiet_ms = 0.0
        self._history.clear()
        self._history_ms = 0.0
        return VadEvent("stop", end_ms, speech=speech, speech_ms=keep)

    def _remember(self, frame: np.ndarray) -> None:
        self._history.append(frame)
        self._history_ms += self.FRAME_MS

    def _trim_history(self, keep_ms: float) -> None:
        excess = int((self._history_ms - keep_ms) // self.FRAME_MS)
        if excess > 0:
            del self._history[:excess]
            self._history_ms -= excess * self.FRAME_MS
