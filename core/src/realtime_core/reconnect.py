"""Reconnection policy, the conversation history plugins replay, and the audio gap buffer.

Core owns the reconnect loop (see :meth:`Realtime._connection_lost` and :meth:`Realtime._renew`); a plugin
only implements :meth:`Realtime._reconnect`, which opens a new connection and restores what it can: a
resumption handle (Gemini), or a replay of :attr:`Realtime.history` (OpenAI, Nova), or nothing (Qwen). It
returns whether the conversation state was restored, and core reports that truthfully in
:class:`~realtime_core.RealtimeReconnectedEvent`.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from .audio import PcmData

__all__ = ["AudioGapBuffer", "HistoryItem", "ReconnectContext", "ReconnectPolicy"]


@dataclass(frozen=True)
class ReconnectPolicy:
    """How core retries a dropped connection.

    :param max_attempts: attempts before giving up (0 disables reconnection).
    :param initial_delay: seconds before the first retry; doubled (``multiplier``) on each failure.
    :param max_delay: upper bound on the delay.
    :param jitter: random fraction added to each delay so many sessions do not retry in lockstep.
    :param buffer_audio_ms: input audio kept while disconnected and sent after reconnecting; audio
        beyond this is dropped (oldest first) and reported as ``lost_audio_ms``.
    """

    max_attempts: int = 5
    initial_delay: float = 0.25
    max_delay: float = 8.0
    multiplier: float = 2.0
    jitter: float = 0.2
    buffer_audio_ms: float = 15_000.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** max(0, attempt - 1))
        return base * (1.0 + random.uniform(0.0, self.jitter))

    @classmethod
    def disabled(cls) -> ReconnectPolicy:
        return cls(max_attempts=0)


@dataclass(frozen=True)
class HistoryItem:
    """One turn of the conversation as core saw it (final transcripts, text input, tool traffic)."""

    role: Literal["user", "assistant", "system", "tool"]
    text: str = ""
    kind: Literal["message", "tool_call", "tool_result"] = "message"
    item_id: str | None = None
    response_id: str | None = None
    tool_name: str | None = None
    call_id: str | None = None
    data: Any = None


@dataclass(frozen=True)
class ReconnectContext:
    """Passed to :meth:`Realtime._reconnect`.

    :ivar attempt: 1 for the first attempt.
    :ivar reason: why the connection is being replaced (``"connection lost"``, ``"go_away"``...).
    :ivar planned: True for a proactive renewal (the old connection may still be open:
        make-before-break is possible), False after an unexpected drop.
    :ivar history: the conversation so far, oldest first.
    """

    attempt: int
    reason: str
    planned: bool
    history: tuple[HistoryItem, ...] = field(default_factory=tuple)


class AudioGapBuffer:
    """Input audio received while reconnecting, bounded by duration (oldest dropped first)."""

    def __init__(self, max_ms: float) -> None:
        self.max_ms = max_ms
        self._chunks: deque[tuple[PcmData, Any]] = deque()
        self.buffered_ms = 0.0
        self.lost_ms = 0.0

    def add(self, pcm: PcmData, participant: Any) -> None:
        self._chunks.append((pcm, participant))
        self.buffered_ms += pcm.duration_ms
        while self.buffered_ms > self.max_ms and self._chunks:
            old, _ = self._chunks.popleft()
            self.buffered_ms -= old.duration_ms
            self.lost_ms += old.duration_ms

    def drain(self) -> list[tuple[PcmData, Any]]:
        items = list(self._chunks)
        self._chunks.clear()
        self.buffered_ms = 0.0
        return items

    def restore(self, items: list[tuple[PcmData, Any]]) -> None:
        """Put unsent chunks back at the front (a replay failed half-way)."""
        for pcm, participant in reversed(items):
            self._chunks.appendleft((pcm, participant))
            self.buffered_ms += pcm.duration_ms

    def reset(self) -> None:
        self._chunks.clear()
        self.buffered_ms = 0.0
        self.lost_ms = 0.0

    def __len__(self) -> int:
        return len(self._chunks)
