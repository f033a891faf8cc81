"""The events of one reply, in the protocol's real order (the turn template's hooks call this).

``response.created`` → (the message item: ``response.output_item.added``, the dialect's item-added event,
``response.content_part.added``, interleaved transcript/text and audio deltas, the ``.done`` events in the
dialect's order, ``response.content_part.done``, ``response.output_item.done``, item done) → one
``function_call`` item per tool call → ``response.done`` with usage → ``rate_limits.updated``. A cancelled
reply closes its open parts with status ``incomplete`` and ends ``cancelled``. Per-reply state lives in
``reply.extra``; the options of its ``response.create`` in ``reply.context``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from realtime_core import PcmData
from realtime_core.emulator import PlannedToolCall, ReplyStream

from ..client_events import new_id
from .conversation import Item

if TYPE_CHECKING:
    from .connection import OpenAIStyleConnection

__all__ = ["ReplyWriter", "obfuscated"]


def obfuscated(event: dict[str, Any], enabled: bool) -> dict[str, Any]:
    """``event`` with the random ``obfuscation`` padding real servers add to text deltas."""
    if enabled:
        event["obfuscation"] = secrets.token_urlsafe(6)
    return event


class ReplyWriter:
    """Writes the events of the replies of one connection (see the module docstring)."""

    def __init__(self, conn: OpenAIStyleConnection[Any]) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ the shapes
    def _base(self, reply: ReplyStream, status: str) -> dict[str, Any]:
        ctx, conn = reply.context, self.conn
        return {
            "object": "realtime.response",
            "id": reply.id,
            "status": status,
            "status_details": None,
            "output": [],
            "conversation_id": conn.conversation_id if ctx.get("in_conversation", True) else None,
            "output_modalities": [self.modality(reply)],
            "max_output_tokens": ctx.get("max_output_tokens", conn.view.max_output_tokens),
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": conn.view.output_rate}, "voice": ctx.get("voice", conn.view.voice)}},
            "usage": None,
            "metadata": ctx.get("metadata"),
        }

    def modality(self, reply: ReplyStream) -> str:
        return str(reply.context.get("modality") or self.conn.view.output_modality)

    def shown(self, data: dict[str, Any]) -> dict[str, Any]:
        """An item as an event carries it (with ``object`` when the emulator's switch says so)."""
        out = dict(data)
        if self.conn.emulator.item_object:
            out["object"] = "realtime.item"
        return out

    # ------------------------------------------------------------------ the hooks
    async def started(self, reply: ReplyStream) -> None:
        conn = self.conn
        extra = reply.extra
        extra.update(output=[], output_index=0, text_chars=0)
        await conn.send({"type": "response.created", "response": self._base(reply, "in_progress")})
        if conn.emulator.rate_limits_at == "start":
            await conn.send(conn.emulator.rate_limits_event())
        await conn.after_response_created(reply)
        if reply.reply.text or reply.reply.audio is not None:
            await self._open_message(reply)

    async def _open_message(self, reply: ReplyStream) -> None:
        conn, extra, d = self.conn, reply.extra, self.conn.dialect
        audio_mode = self.modality(reply) == "audio"
        item_id = new_id("item")
        data: dict[str, Any] = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        item = Item(data, rate=conn.view.output_rate)
        index = extra["output_index"]
        extra.update(message=item, message_ids={"response_id": reply.id, "item_id": item_id, "output_index": index, "content_index": 0})
        await conn.send({"type": "response.output_item.added", "response_id": reply.id, "output_index": index, "item": self.shown(data)})
        if reply.context.get("in_conversation", True):
            extra["prev"] = conn.conversation.insert(item)
            await conn.send({"type": d.item_added, "previous_item_id": extra["prev"], "item": self.shown(data)})
        text_key = d.audio_part_text_key if audio_mode else "text"
        part = {"type": conn.emulator.part_type(audio_mode), text_key: ""}
        await conn.send({"type": "response.content_part.added", **extra["message_ids"], "part": part})
        if audio_mode:
            conn.started_audio(reply)

    async def chunk(self, reply: ReplyStream, audio: PcmData | None, text: Sequence[str]) -> None:
        conn, d = self.conn, self.conn.dialect
        if "message" not in reply.extra:
            await self._open_message(reply)
        ids, item = reply.extra["message_ids"], reply.extra["message"]
        audio_mode = self.modality(reply) == "audio"
        for piece in text:
            kind = d.transcript_delta if audio_mode else d.text_delta
            await conn.send(obfuscated({"type": kind, **ids, "delta": piece}, conn.emulator.obfuscation))
        if audio is not None:
            await conn.send_audio_delta(reply, ids, audio)
            item.audio += audio.samples.tobytes()
            item.sent_ms = item.audio_ms
            conn.audio_produced = True

    async def _close_message(self, reply: ReplyStream) -> None:
        extra = reply.extra
        item: Item | None = extra.pop("message", None)
        if item is None:
            return
        conn, d = self.conn, self.conn.dialect
        ids = extra["message_ids"]
        audio_mode = self.modality(reply) == "audio"
        text = reply.text if reply.cancelled else reply.reply.text
        extra["text_chars"] += len(text)
        if audio_mode:
            text_key = d.audio_part_text_key
            done = [{"type": d.audio_done, **ids}, {"type": d.transcript_done, **ids, "transcript": text}]
            for event in reversed(done) if d.transcript_done_first else done:
                await conn.send(event)
            part = {"type": conn.emulator.part_type(True), text_key: text}
            content = {"type": d.assistant_audio_content, text_key: text}
        else:
            await conn.send({"type": d.text_done, **ids, "text": text})
            part = {"type": conn.emulator.part_type(False), "text": text}
            content = {"type": d.assistant_text_content, "text": text}
        await conn.send({"type": "response.content_part.done", **ids, "part": part})
        item.data.update(status="incomplete" if reply.cancelled else "completed", content=[content])
        await conn.send({"type": "response.output_item.done", "response_id": reply.id, "output_index": ids["output_index"], "item": self.shown(item.data)})
        if reply.context.get("in_conversation", True) and d.item_done and conn.emulator.assistant_item_done:
            await conn.send({"type": d.item_done, "previous_item_id": extra.get("prev"), "item": self.shown(item.data)})
        conn.remember_text(text)
        extra["output"].append(dict(item.data))
        extra["output_index"] += 1

    async def tool_calls(self, reply: ReplyStream, calls: Sequence[PlannedToolCall]) -> None:
        await self._close_message(reply)
        for call in calls:
            await self._function_call(reply, call)

    async def _function_call(self, reply: ReplyStream, call: PlannedToolCall) -> None:
        conn, d, extra = self.conn, self.conn.dialect, reply.extra
        item_id, index = new_id("item"), extra["output_index"]
        data: dict[str, Any] = {"id": item_id, "type": "function_call", "status": "in_progress",
                                "name": call.name, "call_id": call.call_id, "arguments": ""}  # fmt: skip
        await conn.send({"type": "response.output_item.added", "response_id": reply.id, "output_index": index, "item": self.shown(data)})
        prev = None
        if reply.context.get("in_conversation", True):
            prev = conn.conversation.insert(Item(data))
            await conn.send({"type": d.item_added, "previous_item_id": prev, "item": self.shown(data)})
        args = json.dumps(call.arguments)
        step = max(1, len(args) // 3 + 1)
        ids = {"response_id": reply.id, "item_id": item_id, "output_index": index, "call_id": call.call_id}
        for start in range(0, len(args), step):
            await conn.send({"type": "response.function_call_arguments.delta", **ids, "delta": args[start : start + step]})
        await conn.send({"type": "response.function_call_arguments.done", **ids, "name": call.name, "arguments": args})
        data.update(status="completed", arguments=args)
        await conn.send({"type": "response.output_item.done", "response_id": reply.id, "output_index": index, "item": self.shown(data)})
        if reply.context.get("in_conversation", True) and d.item_done and conn.emulator.assistant_item_done:
            await conn.send({"type": d.item_done, "previous_item_id": prev, "item": self.shown(data)})
        conn.remember_call(call.call_id)
        extra["text_chars"] += len(args)
        extra["output"].append(dict(data))
        extra["output_index"] += 1

    async def finished(self, reply: ReplyStream) -> None:
        await self._close_message(reply)
        conn = self.conn
        response = self._base(reply, "cancelled" if reply.cancelled else "completed")
        if reply.cancelled:
            response["status_details"] = {"type": "cancelled", "reason": reply.cancel_reason}
        response["output"] = reply.extra.get("output", [])
        response["usage"] = self._usage(reply)
        await conn.send({"type": "response.done", "response": response})
        if conn.emulator.rate_limits_at == "end":
            await conn.send(conn.emulator.rate_limits_event())

    def _usage(self, reply: ReplyStream) -> dict[str, Any]:
        tokens = self.conn.input_tokens()
        chars = reply.extra.get("text_chars", 0)
        text_out = chars // 4 + (1 if chars else 0)
        audio_out = int(reply.audio.ms / 50)
        return {
            "total_tokens": tokens["total"] + text_out + audio_out,
            "input_tokens": tokens["total"],
            "output_tokens": text_out + audio_out,
            "input_token_details": {
                "text_tokens": tokens["text"], "audio_tokens": tokens["audio"], "image_tokens": tokens["image"],
                "cached_tokens": 0, "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }  # fmt: skip


def audio_delta(kind: str, ids: dict[str, Any], audio: PcmData) -> dict[str, Any]:
    """The audio delta event of ``audio`` (PCM16 as base64)."""
    return {"type": kind, **ids, "delta": base64.b64encode(audio.samples.tobytes()).decode("ascii")}
