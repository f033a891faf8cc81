"""The user's utterance being transcribed: deltas that always add up, and exactly one final text."""

from __future__ import annotations

__all__ = ["Utterance"]


class Utterance:
    """Pieces of ``inputTranscription`` (appended) and ``interimInputTranscription`` guesses (each replaces
    the one before). The deltas handed out always concatenate to a prefix of the final text: a guess that
    revises what was shown goes out only with the final transcript."""

    __slots__ = ("_pieces", "_shown")

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._shown = ""

    def add(self, piece: str) -> str:
        """A piece of the transcript; returns the delta to show (may be empty)."""
        self._pieces.append(piece)
        return self._show("".join(self._pieces))

    def interim(self, text: str) -> str:
        """A low-latency guess at the whole utterance so far; returns the delta to show (may be empty)."""
        return "" if self._pieces else self._show(text)

    def _show(self, text: str) -> str:
        shown = self._shown
        if len(text) > len(shown) and text.startswith(shown):
            self._shown = text
            return text[len(shown) :]
        return ""

    def finish(self) -> str:
        """The final text (empty if nothing was heard); the next utterance starts afresh."""
        text = "".join(self._pieces) or self._shown
        self._pieces = []
        self._shown = ""
        return text
