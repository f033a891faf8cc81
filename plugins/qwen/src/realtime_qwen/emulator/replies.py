"""The events of one reply in DashScope's shape: the protocol's reply writer with DashScope's response object.

The order is the shared one in the DashScope dialect (protocol notes §5): ``response.created`` →
``response.output_item.added`` → ``conversation.item.created`` → ``response.content_part.added`` with
``{type, text: ""}`` → interleaved ``response.audio_transcript.delta`` / ``response.audio.delta`` →
``response.audio_transcript.done`` → ``response.audio.done`` → ``response.content_part.done`` →
``response.output_item.done`` → ``response.done``. DashScope's own: the response object (``modalities``,
``voice``, ``output_audio_format``), its usage (``input_tokens_details``, ``usage.plugins`` for web search),
no ``rate_limits.updated``, and — on the models observed so — no ``response.done`` after a client's
``response.cancel`` (the switch ``cancel_response_done``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from realtime_core.emulator import ReplyStream
from realtime_openai_protocol.emulator import ReplyWriter

if TYPE_CHECKING:
    from .connection import QwenConnection

__all__ = ["DashScopeReplyWriter"]


class DashScopeReplyWriter(ReplyWriter):
    """See the module docstring."""

    def __init__(self, conn: QwenConnection) -> None:
        super().__init__(conn)
        self.qwen = conn

    def _base(self, reply: ReplyStream, status: str) -> dict[str, Any]:
        conn = self.qwen
        return {
            "id": reply.id,
            "object": "realtime.response",
            "conversation_id": conn.conversation_id,
            "status": status,
            "modalities": ["text", "audio"] if self.modality(reply) == "audio" else ["text"],
            "voice": conn.config["voice"],
            "output_audio_format": conn.config["output_audio_format"],
            "output": [],
        }

    async def started(self, reply: ReplyStream) -> None:
        conn = self.qwen
        reply.extra.update(output=[], output_index=0, text_chars=0)
        await conn.send({"type": "response.created", "response": self._base(reply, "in_progress")})
        await conn.after_response_created(reply)
        if reply.reply.text or reply.reply.audio is not None:
            await self._open_message(reply)

    async def finished(self, reply: ReplyStream) -> None:
        conn = self.qwen
        await self._close_message(reply)
        if reply.cancel_reason == "client_cancelled" and not conn.emulator.cancel_sends_done(conn.profile):
            return  # as observed on qwen3.5: the output item ends, response.done never comes
        response = self._base(reply, "cancelled" if reply.cancelled else "completed")
        response["output"] = [_as_done(item) for item in reply.extra.get("output", [])]
        response["usage"] = self._usage(reply)
        await conn.send({"type": "response.done", "response": response})

    def _usage(self, reply: ReplyStream) -> dict[str, Any]:
        """``response.done`` usage in DashScope's shape (``input_tokens_details``...)."""
        conn = self.qwen
        rate = conn.profile.audio_tokens_per_second
        items = conn.items
        text_in = items.input_text_chars // 4 + len(conn.conversation) * 4
        audio_in = int(items.input_audio_ms / 1000 * rate)
        image_in = conn.image_tokens
        chars = reply.extra.get("text_chars", 0)
        text_out = chars // 4 + (1 if chars else 0)
        audio_out = int(reply.audio.ms / 1000 * rate)
        inp, out = text_in + audio_in + image_in, text_out + audio_out
        details: dict[str, Any] = {"text_tokens": text_in, "audio_tokens": audio_in}
        if image_in:
            details["image_tokens"] = image_in
        usage: dict[str, Any] = {
            "total_tokens": inp + out,
            "input_tokens": inp,
            "output_tokens": out,
            "input_tokens_details": details,
            "output_tokens_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }
        if conn.emulator.usage_plugins_for(conn.config):
            usage["plugins"] = {"search": {"count": 1, "strategy": "standard"}}
        return usage


def _as_done(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as ``response.done`` lists it: audio content carries ``transcript`` there."""
    out = copy.deepcopy(item)
    out.setdefault("object", "realtime.item")
    for part in out.get("content") or ():
        if part.get("type") == "audio" and "text" in part:
            part["transcript"] = part.pop("text")
    return out
