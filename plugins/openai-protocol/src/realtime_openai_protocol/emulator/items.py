"""Conversation items of one emulated connection: ``conversation.item.create`` / ``retrieve`` / ``delete`` /
``truncate``, and what the items tell the emulator (text input, tool results, images, a history replay from
an earlier connection: the ``state_restored`` fact)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..client_events import new_id
from .conversation import Item, image_info, normalize_client_item
from .wire import RequestError, invalid_type, invalid_value, missing

if TYPE_CHECKING:
    from .connection import OpenAIStyleConnection

__all__ = ["ConversationEvents"]


class ConversationEvents:
    """The item events of one connection (see the module docstring).

    :ivar input_audio_ms: user audio in the conversation (committed buffers, audio items), for usage.
    :ivar tool_outputs: ``function_call_output`` items since the last reply was asked for.
    :ivar pending_text: the last user text not answered yet.
    """

    def __init__(self, conn: OpenAIStyleConnection[Any]) -> None:
        self.conn = conn
        self.input_audio_ms = 0.0
        self.input_text_chars = 0
        self.images = 0
        self.tool_outputs = 0
        self.pending_text: str | None = None
        self.restored_noted = False

    async def on_create(self, msg: dict[str, Any]) -> None:
        conn = self.conn
        raw = msg.get("item")
        if raw is None:
            raise missing("item")
        item_id = raw.get("id") if isinstance(raw, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if item_id is not None and not isinstance(item_id, str):
            raise invalid_type("item.id", "a string", item_id)
        data, audio = normalize_client_item(raw, item_id or new_id("item"))
        previous = msg.get("previous_item_id")
        if previous is not None and not isinstance(previous, str):
            raise invalid_type("previous_item_id", "a string", previous)
        image = None
        for part in data.get("content", ()):
            if part["type"] == "input_image":
                image = image_info(part["image_url"], "item.content.image_url")
        prev = conn.conversation.insert(Item(data, bytearray(audio), rate=conn.input.rate), previous)
        await conn.send({"type": conn.dialect.item_added, "previous_item_id": prev, "item": conn.writer.shown(data)})
        if conn.dialect.item_done:
            await conn.send({"type": conn.dialect.item_done, "previous_item_id": prev, "item": conn.writer.shown(data)})
        self.input_audio_ms += len(audio) * 500 / conn.input.rate
        if self._is_replay(data):
            if not self.restored_noted:
                self.restored_noted = True
                conn.note("state_restored", how="history_replay")
            return
        if data["type"] == "function_call_output":
            self.tool_outputs += 1
            conn.turns.tool_result(data["call_id"], data["output"])
        elif data["type"] == "message" and data["role"] == "user":
            for part in data["content"]:
                if part["type"] == "input_text":
                    self.input_text_chars += len(part["text"])
                    self.pending_text = part["text"]
                    conn.remember_text(part["text"])
                    conn.note("text_in", text=part["text"])
            if image is not None:
                self.images += 1
                conn.note("video_frame", **image)

    def _is_replay(self, data: dict[str, Any]) -> bool:
        """An item carrying conversation from an earlier connection, before this one's first reply."""
        conn = self.conn
        if conn.replies_started or conn.number == 1:
            return False
        if data["type"] in ("function_call", "function_call_output"):
            return conn.emulator.seen_call(data.get("call_id"), conn.number)
        return any(
            conn.emulator.seen_text(part.get("text"), conn.number)
            for part in data.get("content", ())
            if part["type"] in ("input_text", "output_text")
        )

    async def on_retrieve(self, msg: dict[str, Any]) -> None:
        conn = self.conn
        item = conn.conversation.get(msg.get("item_id"))
        if item is None:
            raise RequestError("item_retrieve_invalid_item_id",
                               f"Error retrieving item: the item with id '{msg.get('item_id')}' does not exist.", None)  # fmt: skip
        await conn.send({"type": "conversation.item.retrieved", "item": item.with_audio()})

    async def on_delete(self, msg: dict[str, Any]) -> None:
        conn = self.conn
        item_id = msg.get("item_id")
        if conn.conversation.get(item_id) is None:
            raise RequestError("item_delete_invalid_item_id", f"Error deleting item: the item with id '{item_id}' does not exist.", None)
        conn.conversation.delete(str(item_id))
        await conn.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def on_truncate(self, msg: dict[str, Any]) -> None:
        conn = self.conn
        item_id = msg.get("item_id")
        item = conn.conversation.get(item_id)
        if item is None or not item.is_assistant_message:
            raise RequestError("item_truncate_invalid_item_id",
                               f"Error truncating item: the item with id '{item_id}' does not exist or is not an assistant message.", None)  # fmt: skip
        if msg.get("content_index") != 0:
            raise invalid_value("content_index", msg.get("content_index"), (0,))
        end_ms = msg.get("audio_end_ms")
        if isinstance(end_ms, bool) or not isinstance(end_ms, int):
            raise invalid_type("audio_end_ms", "an integer", end_ms)
        if end_ms < 0:
            raise RequestError("integer_below_min_value", "Invalid 'audio_end_ms': integer below minimum value.", "audio_end_ms")
        if end_ms > item.audio_ms:
            raise RequestError(conn.emulator.truncate_error_code,
                               f"Audio content of {item.audio_ms:.0f}ms is already shorter than {end_ms}ms", "audio_end_ms")  # fmt: skip
        await self.truncate(item, end_ms, by="client")

    async def truncate(self, item: Item, end_ms: int, *, by: str) -> None:
        """Cut ``item``'s audio at ``end_ms`` (the ``truncate`` fact; the transcript of the part goes)."""
        conn = self.conn
        conn.note("truncate", item_id=item.id, audio_end_ms=end_ms, sent_ms=item.sent_ms, by=by)
        del item.audio[int(end_ms * item.rate / 500) :]  # 2 bytes per sample
        content = item.data.get("content") or []
        if content:
            content[0][conn.dialect.audio_part_text_key] = ""  # the server drops the transcript of a truncated part
        await conn.send({"type": "conversation.item.truncated", "item_id": item.id, "content_index": 0, "audio_end_ms": end_ms})
