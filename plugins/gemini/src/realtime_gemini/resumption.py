"""Session resumption state: the latest resumable handle and the input audio it does not cover yet.

A ``sessionResumptionUpdate`` handle captures the conversation as the server held it at that moment.
Audio sent afterwards is not in it, so a new connection resumed from that handle would never hear it.

Core already replays, after a *lost* connection, the audio sent since the plugin last called
``SessionCore.audio_confirmed()`` (on each handle, and when the server's voice activity shows it has the
audio). So this state keeps the audio since the handle in two parts: the part core will not replay
(confirmed to core since, or resent by the plugin itself) and the tail after the last confirmation (which
core replays). After a lost connection the plugin resends only the first part; after a planned switch
(goAway), where core replays nothing the old connection had, it resends both. Either way a resumed session
hears all of it, once.
"""

from __future__ import annotations

from pydantic import SecretStr

from realtime_core import PcmData
from realtime_core.audio_buffers import AudioReplayBuffer

__all__ = ["ResumptionState"]


class ResumptionState:
    """The newest resumable handle plus the audio sent since it (bounded, by reference: no copies).

    :param replay_ms: how much audio to keep in each part (oldest dropped first); 0 keeps none.
    """

    __slots__ = ("_confirmed", "_handle", "_tail")

    def __init__(self, replay_ms: float) -> None:
        self._handle: SecretStr | None = None  # a handle resumes the conversation: treat it like a secret
        self._confirmed = AudioReplayBuffer(replay_ms)
        self._tail = AudioReplayBuffer(replay_ms)

    @property
    def handle(self) -> str | None:
        return self._handle.get_secret_value() if self._handle is not None else None

    @property
    def has_handle(self) -> bool:
        return self._handle is not None

    @property
    def pending_ms(self) -> float:
        """Milliseconds of audio sent since the latest handle (what a resume after a goAway replays)."""
        return self._confirmed.duration_ms + self._tail.duration_ms

    def update(self, handle: str) -> None:
        """A new resumable handle: it covers everything sent so far."""
        self._handle = SecretStr(handle)
        self._confirmed.clear()
        self._tail.clear()

    def forget(self) -> None:
        """The server no longer knows the handle (expired, or a fresh session replaced it)."""
        self._handle = None
        self._confirmed.clear()
        self._tail.clear()

    def add(self, pcm: PcmData) -> None:
        """Audio just sent; kept until a newer handle covers it."""
        if self._handle is not None:
            self._tail.add(pcm)

    def confirmed(self) -> None:
        """Core was told the server has everything sent so far (it will not replay that audio)."""
        for pcm in self._tail.take():
            self._confirmed.add(pcm)

    def resent(self, chunks: list[PcmData]) -> None:
        """The plugin replayed these on a resumed connection itself (core does not know of them)."""
        for pcm in chunks:
            self._confirmed.add(pcm)

    def give_back(self, chunks: list[PcmData]) -> None:
        """A replay failed half-way: these go first in the next one."""
        kept = self._confirmed.take()
        for pcm in [*chunks, *kept]:
            self._confirmed.add(pcm)

    def take(self, *, planned: bool) -> list[PcmData]:
        """Remove and return the audio a connection resumed from :attr:`handle` must hear again, oldest
        first: after a planned switch all of it, after a lost connection the part core does not replay."""
        chunks = self._confirmed.take()
        tail = self._tail.take()
        return chunks + tail if planned else chunks

    def __repr__(self) -> str:
        return f"<ResumptionState handle={'set' if self._handle else 'none'} pending_ms={self.pending_ms:.0f}>"
