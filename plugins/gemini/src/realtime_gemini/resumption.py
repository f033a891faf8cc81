"""Session resumption state: the latest resumable handle and the input audio it does not cover yet.

A ``sessionResumptionUpdate`` handle captures the conversation as the server held it at that moment.
Audio sent afterwards is not in it, so a new connection resumed from that handle would never hear it.
:class:`ResumptionState` keeps that audio (bounded, by reference: no copies) and hands it back after a
resumed reconnect, which is what makes a goAway or a dropped socket lose no user speech.
"""

from __future__ import annotations

from pydantic import SecretStr

from realtime_core import PcmData
from realtime_core.audio_buffers import AudioReplayBuffer

__all__ = ["ResumptionState"]


class ResumptionState:
    """The newest resumable handle plus the audio sent since it was issued (core's
    :class:`~realtime_core.audio_buffers.AudioReplayBuffer`).

    :param replay_ms: how much unconfirmed audio to keep (oldest dropped first); 0 keeps none.
    """

    __slots__ = ("_audio", "_handle")

    def __init__(self, replay_ms: float) -> None:
        self._handle: SecretStr | None = None  # a handle resumes the conversation: treat it like a secret
        self._audio = AudioReplayBuffer(replay_ms)

    @property
    def replay_ms(self) -> float:
        return self._audio.max_ms

    @property
    def handle(self) -> str | None:
        return self._handle.get_secret_value() if self._handle is not None else None

    @property
    def has_handle(self) -> bool:
        return self._handle is not None

    @property
    def pending_ms(self) -> float:
        """Milliseconds of audio sent since the latest handle (what a resume would replay)."""
        return self._audio.duration_ms

    def update(self, handle: str) -> None:
        """A new resumable handle: it covers everything sent so far."""
        self._handle = SecretStr(handle)
        self._audio.clear()

    def forget(self) -> None:
        """The server no longer knows the handle (expired, or a fresh session replaced it)."""
        self._handle = None
        self._audio.clear()

    def add(self, pcm: PcmData) -> None:
        """Audio just sent; kept until a newer handle covers it."""
        self._audio.add(pcm)

    def take(self) -> list[PcmData]:
        """Remove and return the audio to replay on a resumed connection, oldest first."""
        return self._audio.take()

    def __repr__(self) -> str:
        return f"<ResumptionState handle={'set' if self._handle else 'none'} pending_ms={self._audio.duration_ms:.0f}>"
