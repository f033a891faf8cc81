"""One reply's token usage, merged from the parts Gemini sends it in."""

from __future__ import annotations

from typing import Any

from . import protocol

__all__ = ["ReplyUsage"]


class ReplyUsage:
    """``usageMetadata`` of one reply may come in parts (the prompt's counts as generation starts, the
    response's with ``turnComplete``; some models repeat the prompt in the second): merged field by field
    (the larger count wins), and taken once when the reply ends, so usage is reported per reply."""

    __slots__ = ("_fields", "_raw")

    def __init__(self) -> None:
        self._fields: dict[str, int] = {}
        self._raw: dict[str, Any] = {}

    def add(self, usage: dict[str, Any]) -> None:
        fields = self._fields
        for name, value in protocol.usage_fields(usage).items():
            if value is not None:
                fields[name] = max(value, fields.get(name, 0))
        self._raw.update(usage)

    def take(self) -> tuple[dict[str, int], dict[str, Any]] | None:
        """The merged usage event fields and the raw numbers, or None if nothing came."""
        if not self._fields:
            return None
        taken = self._fields, self._raw
        self._fields, self._raw = {}, {}
        return taken
