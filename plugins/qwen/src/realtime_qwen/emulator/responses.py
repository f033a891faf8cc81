"""One response of the emulated Qwen model: realtime-openai's response streaming in the DashScope dialect.

The event order is the one of protocol notes §5 (``response.created`` → ``response.output_item.added`` →
``conversation.item.created`` → ``response.content_part.added`` with ``{type, text: ""}`` → interleaved
``response.audio_transcript.delta`` / ``response.audio.delta`` → ``response.audio_transcript.done`` →
``response.audio.done`` → ``response.content_part.done`` → ``response.output_item.done`` → ``response.done``),
with DashScope's response object and usage. After a client ``response.cancel`` the ``response.done`` is sent
or not depending on the emulator's switch (the real service was observed both ways).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from realtime_openai.emulator.responses import ResponseRun

if TYPE_CHECKING:
    from .connection import QwenConnection

__all__ = ["QwenResponseRun"]


class QwenResponseRun(ResponseRun):
    """A :class:`~realtime_openai.emulator.responses.ResponseRun` with DashScope's response shape."""

    conn: QwenConnection

    def _base(self, status: str) -> dict[str, Any]:
        conn = self.conn
        return {
            "id": self.id,
            "object": "realtime.response",
            "conversation_id": conn.conversation_id,
            "status": status,
            "modalities": ["text", "audio"] if self.modality == "audio" else ["text"],
            "voice": self.voice,
            "output_audio_format": conn.config["output_audio_format"],
            "output": [],
        }

    async def _done(self) -> None:
        conn = self.conn
        if self.cancel_reason == "client_cancelled" and not conn.emu.cancel_sends_done(conn.profile):
            return  # as observed on qwen3.5: the output item ends, response.done never comes
        response = self._base("cancelled" if self.cancelled else "completed")
        response["output"] = [_as_done(item) for item in self._output]
        response["usage"] = conn.usage(self._text_chars, self._audio_ms)
        await conn.send({"type": "response.done", "response": response})


def _as_done(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as ``response.done`` lists it: audio content carries ``transcript`` there."""
    out = copy.deepcopy(item)
    out.setdefault("object", "realtime.item")
    for part in out.get("content") or ():
        if part.get("type") == "audio" and "text" in part:
            part["transcript"] = part.pop("text")
    return out
