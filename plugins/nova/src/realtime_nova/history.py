"""Turning core's conversation history into what a new Nova stream accepts.

Nova takes history as non-interactive TEXT blocks (role USER or ASSISTANT) sent after the system prompt
and before any audio. It must start with a USER message, roles should alternate, and each generation
limits its size (Nova Sonic: 40 messages of about 1 KB; Nova 2 Sonic: 50 KB a message, 200 KB in all).
Tool calls and results have no history form in Nova's protocol and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable

from realtime_core.reconnect import HistoryItem

from .models import ModelInfo

__all__ = ["replayable_history"]


def _clip_utf8(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    # Keep the most recent part of an over-long message; never split a UTF-8 sequence.
    return raw[len(raw) - limit :].decode("utf-8", errors="ignore").lstrip()


def replayable_history(items: Iterable[HistoryItem], model: ModelInfo) -> tuple[list[tuple[str, str]], bool]:
    """``(role, text)`` pairs (``"USER"``/``"ASSISTANT"``) to replay, newest kept, within ``model``'s limits,
    and whether they are the *whole* conversation (nothing left out, cut or dropped: promise 10.2)."""
    merged: list[list[str]] = []
    complete = True
    for item in items:
        if item.kind != "message" or item.role not in ("user", "assistant"):
            complete = False  # tool calls and results have no history form in Nova's protocol
            continue
        text = item.text.strip()
        if not text:
            continue
        role = "USER" if item.role == "user" else "ASSISTANT"
        if merged and merged[-1][0] == role:
            merged[-1][1] += "\n" + text  # Nova wants alternating roles: join consecutive same-role turns
        else:
            merged.append([role, text])
    messages = [(role, _clip_utf8(text, model.history_message_bytes)) for role, text in merged]
    complete = complete and all(len(a) == len(b) for (_, a), (_, b) in zip(messages, merged, strict=True))
    if model.history_max_messages is not None and len(messages) > model.history_max_messages:
        messages = messages[-model.history_max_messages :]
        complete = False
    if model.history_total_bytes is not None:
        total = sum(len(text.encode("utf-8")) for _, text in messages)
        while messages and total > model.history_total_bytes:
            total -= len(messages.pop(0)[1].encode("utf-8"))
            complete = False
    while messages and messages[0][0] != "USER":  # the first replayed message must be the user's
        messages.pop(0)
        complete = False
    return messages, complete and bool(messages)
