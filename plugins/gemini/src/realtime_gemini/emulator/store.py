"""The emulated server's memory: conversations and the resumption handles that point into them."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Conversation", "HandleStore", "Turn"]

_ids = itertools.count(1)


@dataclass(frozen=True)
class Turn:
    """One entry of a conversation: ``role`` is ``"user"``, ``"model"`` or ``"tool"``."""

    role: str
    text: str
    kind: str = "message"
    data: Any = None


@dataclass
class Conversation:
    """What the emulated model remembers of one session (across resumed connections).

    :ivar resumed_from: the conversation this one was restored from, if any.
    :ivar connections: the connections that served it.
    """

    id: str = field(default_factory=lambda: f"conv-{next(_ids)}")
    history: list[Turn] = field(default_factory=list)
    model_turns: int = 0
    system_instruction: str = ""
    resumed_from: str | None = None
    connections: list[int] = field(default_factory=list)

    def texts(self, role: str | None = None) -> list[str]:
        return [t.text for t in self.history if t.kind == "message" and (role is None or t.role == role)]


@dataclass(frozen=True)
class _Handle:
    conversation: Conversation
    history_len: int
    model_turns: int
    issued_at: float


class HandleStore:
    """Resumption handles: each one restores its conversation as it was when the handle was issued.

    :param ttl_s: how long a handle stays valid (the Developer API keeps them 2 h).
    """

    def __init__(self, ttl_s: float = 7200.0) -> None:
        self.ttl_s = ttl_s
        self._handles: dict[str, _Handle] = {}

    def issue(self, conversation: Conversation) -> str:
        handle = "emu-" + secrets.token_urlsafe(24)
        self._handles[handle] = _Handle(
            conversation, len(conversation.history), conversation.model_turns, time.monotonic()
        )
        return handle

    def source(self, handle: str) -> Conversation | None:
        """The conversation ``handle`` was issued for (None if unknown)."""
        record = self._handles.get(handle)
        return record.conversation if record is not None else None

    def restore(self, handle: str) -> Conversation | None:
        """A new conversation holding the state captured by ``handle``; None if unknown or expired."""
        record = self._handles.get(handle)
        if record is None:
            return None
        if time.monotonic() - record.issued_at > self.ttl_s:
            del self._handles[handle]
            return None
        source = record.conversation
        return Conversation(
            history=list(source.history[: record.history_len]),
            model_turns=record.model_turns,
            system_instruction=source.system_instruction,
            resumed_from=source.id,
        )

    def expire_all(self) -> None:
        """Forget every handle (to test a resume with an expired one)."""
        self._handles.clear()

    def __len__(self) -> int:
        return len(self._handles)
