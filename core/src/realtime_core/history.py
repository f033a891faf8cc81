"""The conversation as core saw it: final transcripts, text input, tool calls and results.

Plugins replay it after a reconnect when their provider cannot resume a session (``ctx.history`` in
:meth:`Realtime._reconnect`); apps read it as :attr:`Realtime.history`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ConversationHistory", "HistoryItem"]

MAX_ITEMS = 500


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


class ConversationHistory:
    """Bounded list of :class:`HistoryItem`; one assistant message per response id, no empty messages."""

    def __init__(self, limit: int = MAX_ITEMS) -> None:
        self.limit = limit
        self._items: list[HistoryItem] = []
        self._responses: set[str] = set()

    def add(self, item: HistoryItem) -> None:
        if item.kind == "message" and not item.text:
            return
        if item.role == "assistant" and item.response_id is not None:
            if item.response_id in self._responses:
                return  # its text already came (as a transcript or as response text)
            self._responses.add(item.response_id)
        self._items.append(item)
        if len(self._items) > self.limit:
            del self._items[0]

    def items(self) -> tuple[HistoryItem, ...]:
        return tuple(self._items)

    def __len__(self) -> int:
        return len(self._items)
