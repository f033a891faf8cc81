"""A connection's input audio buffer: the audio clock, the energy VAD that stands in for the server's turn
detection, and the idle timer of ``idle_timeout_ms``.

Everything runs on the audio clock (milliseconds of audio received), never the wall clock, so tests can send
audio faster than real time and get the same turns.
"""

from __future__ import annotations

from dataclasses import dataclass

from realtime_core import PcmData
from realtime_core.emulator import EnergyVad, VadEvent, VadSettings

from .session import TurnDetection

__all__ = ["InputAudio", "InputEvent"]

_SEMANTIC_SILENCE_MS = {"low": 1000.0, "medium": 600.0, "auto": 600.0, "high": 300.0}


@dataclass(frozen=True, slots=True)
class InputEvent:
    """What the buffer noticed: the VAD's ``start``/``stop`` (``at_ms`` on the connection's audio clock), or
    ``idle`` (the user stayed silent for ``idle_timeout_ms`` after a reply)."""

    kind: str
    at_ms: float
    vad: VadEvent | None = None


class InputAudio:
    """See the module docstring.

    :param rate: the rate of the audio fed in (mono PCM16).
    :param settings: the scenario's VAD settings (its RMS threshold scales with the session's threshold).
    """

    def __init__(self, rate: int, settings: VadSettings) -> None:
        self.rate = rate
        self._settings = settings
        self.buffer = bytearray()
        self.clock_ms = 0.0
        self.speech_item: str | None = None
        self._vad: EnergyVad | None = None
        self._vad_offset_ms = 0.0
        self._detection: TurnDetection | None = None
        self._idle_ms: float | None = None

    @property
    def buffered_ms(self) -> float:
        return len(self.buffer) * 500 / self.rate  # PCM16: 2 bytes per sample

    @property
    def speaking(self) -> bool:
        return self._vad is not None and self._vad.speaking

    def configure(self, detection: TurnDetection | None) -> None:
        """(Re)build the VAD when the session's turn detection changed (None: manual turns, no VAD)."""
        if detection == self._detection and (self._vad is not None) == (detection is not None):
            return
        self._detection = detection
        if detection is None:
            self._vad = None
            return
        vad = self._settings
        if detection.kind == "server_vad":
            # OpenAI's threshold is a 0-1 sensitivity around 0.5; scale the scenario's RMS level with it
            threshold = max(1e-4, vad.threshold * (detection.threshold / 0.5))
            silence, prefix = detection.silence_ms, detection.prefix_ms
        else:
            threshold, silence, prefix = vad.threshold, detection.silence_ms, 300.0
        self._vad = EnergyVad(self.rate, threshold=threshold, silence_ms=silence, prefix_ms=prefix,
                              min_speech_ms=vad.min_speech_ms)  # fmt: skip
        self._vad_offset_ms = self.clock_ms

    @staticmethod
    def semantic_silence_ms(eagerness: str) -> float:
        return _SEMANTIC_SILENCE_MS.get(eagerness, 600.0)

    def feed(self, pcm: PcmData) -> list[InputEvent]:
        """Add user audio; return what the VAD (and the idle timer) noticed, in order."""
        self.clock_ms += pcm.duration_ms
        self.buffer += pcm.samples.tobytes()
        events: list[InputEvent] = []
        if self._vad is not None:
            for vad_event in self._vad.process(pcm):
                events.append(InputEvent(vad_event.kind, self._vad_offset_ms + vad_event.at_ms, vad_event))
                if vad_event.kind == "start":
                    self._idle_ms = None  # the user spoke: no idle timeout
        if self._idle_ms is not None and not self.speaking:
            self._idle_ms -= pcm.duration_ms
            if self._idle_ms <= 0:
                self._idle_ms = None
                events.append(InputEvent("idle", self.clock_ms))
        return events

    def arm_idle(self) -> None:
        """A reply ended: start the idle timer if the turn detection has one."""
        detection = self._detection
        if detection is not None and detection.idle_timeout_ms:
            self._idle_ms = float(detection.idle_timeout_ms)

    def take(self, *, reset_vad: bool = False) -> bytes:
        """The buffered audio, emptying the buffer (a commit; a manual one also resets the VAD)."""
        data, self.buffer = bytes(self.buffer), bytearray()
        if reset_vad and self._vad is not None:
            self._vad.reset()
        return data

    def clear(self) -> None:
        self.buffer = bytearray()
        self.speech_item = None
        if self._vad is not None:
            self._vad.reset()
