"""The user's transcripts on DashScope: previews that become deltas, and the order of user and agent words.

* :class:`UserTranscripts` — qwen3.5/3.8 stream a preview of the user's words while transcribing (``text``
  confirmed so far + ``stash`` still tentative); the confirmed growth becomes ``delta`` pieces that add up
  to the final transcript. An OpenAI-style ``delta`` is taken as is. Other fields the service may add
  (``language``, ``emotion``, ``obfuscation``) stay in the raw event (``event.original``).
* :class:`ReplyTextHold` — DashScope transcribes the user beside the model, so the user's transcript often
  arrives *after* the reply started. A reply's agent text (never its audio) is held until the transcripts of
  the turns it answers arrived, failed, or ``hold_s`` passed: apps and the history see the user's words first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ReplyTextHold", "UserTranscripts"]

_MAX_TRACKED = 64


class UserTranscripts:
    """What was confirmed of each user item's transcript so far (see the module docstring)."""

    def __init__(self) -> None:
        self._confirmed: dict[str, str] = {}

    def delta(self, msg: dict[str, Any]) -> str | None:
        """The new confirmed words of a ``...input_audio_transcription.delta`` event (None: nothing new)."""
        key = str(msg.get("item_id") or "")
        before = self._confirmed.get(key, "")
        delta = msg.get("delta")
        if isinstance(delta, str):  # the OpenAI-style shape, should a model send it
            if not delta:
                return None
            self._remember(key, before + delta)
            return delta
        confirmed = msg.get("text")  # the preview shape: text (confirmed) + stash (tentative)
        if not isinstance(confirmed, str) or len(confirmed) <= len(before) or not confirmed.startswith(before):
            return None
        self._remember(key, confirmed)
        return confirmed[len(before) :]

    def completed(self, item_id: str | None, transcript: str) -> str | None:
        """The item is transcribed: the tail its deltas still miss (the last words were tentative), or None."""
        before = self._confirmed.pop(item_id or "", None)
        if before is not None and len(transcript) > len(before) and transcript.startswith(before):
            return transcript[len(before) :]
        return None

    def forget(self, item_id: str | None) -> None:
        self._confirmed.pop(item_id or "", None)

    def _remember(self, key: str, text: str) -> None:
        self._confirmed[key] = text
        if len(self._confirmed) > _MAX_TRACKED:
            self._confirmed.pop(next(iter(self._confirmed)))


class _Gate:
    """Agent text of one response, held until the user transcripts it answers have arrived."""

    __slots__ = ("awaiting", "queue", "timer")

    def __init__(self, awaiting: set[str], timer: asyncio.TimerHandle) -> None:
        self.awaiting = awaiting
        self.queue: list[Callable[[], None]] = []
        self.timer = timer


class ReplyTextHold:
    """Holds agent text back for the user's transcripts (see the module docstring).

    :param hold_s: the longest a reply's text waits (0: never held).
    """

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self._transcribing: dict[str, float] = {}
        self._gates: dict[str, _Gate] = {}

    def expect(self, item_id: str) -> None:
        """A user item was committed and will be transcribed."""
        if self.hold_s <= 0:
            return
        self._transcribing[item_id] = time.monotonic()
        if len(self._transcribing) > _MAX_TRACKED:
            self._transcribing.pop(next(iter(self._transcribing)))

    def arrived(self, item_id: str | None) -> None:
        """The transcript of ``item_id`` arrived (or failed): replies waiting only for it go out."""
        if item_id is None:
            return
        self._transcribing.pop(item_id, None)
        for rid, gate in list(self._gates.items()):
            gate.awaiting.discard(item_id)
            if not gate.awaiting:
                self.release(rid)

    def response_started(self, rid: str) -> None:
        """A reply began: hold its text if user transcripts are still on their way."""
        if not self._transcribing:
            return
        now = time.monotonic()
        for item_id, at in list(self._transcribing.items()):
            if now - at > self.hold_s:
                del self._transcribing[item_id]  # it never came (some models skip it in manual mode)
        if self._transcribing:
            timer = asyncio.get_running_loop().call_later(self.hold_s, self.release, rid)
            self._gates[rid] = _Gate(set(self._transcribing), timer)

    def emit(self, rid: str, emit: Callable[[], None]) -> None:
        """Emit now, or when ``rid``'s hold ends."""
        gate = self._gates.get(rid)
        if gate is None:
            emit()
        else:
            gate.queue.append(emit)

    def release(self, rid: str) -> None:
        """Let ``rid``'s held text out (core drops what belongs to an interrupted reply)."""
        gate = self._gates.pop(rid, None)
        if gate is None:
            return
        gate.timer.cancel()
        for emit in gate.queue:
            emit()

    def release_all(self, *, drop: bool = False) -> None:
        """End every hold: let the text out, or (the session is closing) drop it."""
        for rid in list(self._gates):
            if drop:
                self._gates.pop(rid).timer.cancel()
            else:
                self.release(rid)
