"""The emulator's conversation: ordered items (``previous_item_id`` chain) and their audio."""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass, field
from typing import Any

from .wire import RequestError, invalid_type, invalid_value, missing

__all__ = ["Conversation", "Item", "image_info", "normalize_client_item"]


@dataclass
class Item:
    """One item. ``data`` is the item as the server shows it (never with audio bytes); ``audio`` holds
    the PCM16 of its first audio part (user input or assistant output)."""

    data: dict[str, Any]
    audio: bytearray = field(default_factory=bytearray)
    sent_ms: float = 0.0
    """Assistant audio streamed to the client for this item (before any truncation)."""
    rate: int = 24000
    """Sample rate of ``audio`` (PCM16 mono)."""

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def audio_ms(self) -> float:
        return len(self.audio) * 500 / self.rate  # PCM16 mono: 2 bytes per sample

    @property
    def is_assistant_message(self) -> bool:
        return self.data.get("type") == "message" and self.data.get("role") == "assistant"

    def with_audio(self) -> dict[str, Any]:
        """The item including base64 audio (``conversation.item.retrieved``)."""
        out = copy.deepcopy(self.data)
        if self.audio and out.get("content"):
            out["content"][0]["audio"] = base64.b64encode(bytes(self.audio)).decode("ascii")
        return out


class Conversation:
    """Items in order; ``insert`` returns the id of the item before the new one (or None)."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self._by_id: dict[str, Item] = {}

    def __len__(self) -> int:
        return len(self.items)

    def get(self, item_id: object) -> Item | None:
        return self._by_id.get(item_id) if isinstance(item_id, str) else None

    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def insert(self, item: Item, previous_item_id: str | None = None) -> str | None:
        if previous_item_id in (None, ""):
            prev = self.last_id()
            self.items.append(item)
        elif previous_item_id == "root":
            prev = None
            self.items.insert(0, item)
        else:
            index = next((i for i, it in enumerate(self.items) if it.id == previous_item_id), None)
            if index is None:
                raise RequestError(
                    "invalid_value",
                    f"Invalid 'previous_item_id': the item with id '{previous_item_id}' does not exist.",
                    "previous_item_id",
                )
            prev = previous_item_id
            self.items.insert(index + 1, item)
        self._by_id[item.id] = item  # a duplicate id is accepted (and shadows the older one), as on the wire
        return prev

    def delete(self, item_id: str) -> None:
        item = self._by_id.pop(item_id)
        self.items.remove(item)


_USER_PARTS = {"input_text", "input_audio", "input_image"}
_PART_KEYS = {
    "input_text": {"type", "text"},
    "input_audio": {"type", "audio", "transcript"},
    "input_image": {"type", "image_url", "detail"},
    "output_text": {"type", "text"},
}


def normalize_client_item(raw: Any, item_id: str) -> tuple[dict[str, Any], bytes]:
    """Validate an item from ``conversation.item.create``; return its server form and any audio bytes."""
    if not isinstance(raw, dict):
        raise invalid_type("item", "an object", raw)
    item: dict[str, Any] = raw  # pyright: ignore[reportUnknownVariableType]
    kind = item.get("type")
    audio = b""
    base = {"id": item_id, "type": kind, "status": "completed"}
    if kind == "message":
        role = item.get("role")
        if role not in ("user", "assistant", "system"):
            raise invalid_value("item.role", role, ("user", "assistant", "system"))
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise missing("item.content")
        allowed = {"user": _USER_PARTS, "system": {"input_text"}, "assistant": {"output_text"}}[role]
        parts: list[dict[str, Any]] = []
        for i, part in enumerate(content):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            path = f"item.content[{i}]"
            if not isinstance(part, dict):
                raise invalid_type(path, "an object", part)
            ptype = part.get("type")  # pyright: ignore[reportUnknownMemberType]
            if ptype not in allowed:
                raise invalid_value(f"{path}.type", ptype, sorted(allowed))
            for key in part:  # pyright: ignore[reportUnknownVariableType]
                if key not in _PART_KEYS[ptype]:
                    raise RequestError("unknown_parameter", f"Unknown parameter: '{path}.{key}'.", f"{path}.{key}")
            if ptype in ("input_text", "output_text"):
                if not isinstance(part.get("text"), str):  # pyright: ignore[reportUnknownMemberType]
                    raise invalid_type(f"{path}.text", "a string", part.get("text"))  # pyright: ignore[reportUnknownMemberType]
                parts.append({"type": ptype, "text": part["text"]})
            elif ptype == "input_audio":
                try:
                    audio = base64.b64decode(part.get("audio") or "", validate=True)  # pyright: ignore[reportUnknownMemberType]
                except (binascii.Error, TypeError):
                    raise RequestError(
                        "invalid_value",
                        "Invalid 'audio'. Expected base64-encoded audio bytes (mono PCM16 at 24kHz)",
                        f"{path}.audio",
                    ) from None
                parts.append({"type": "input_audio", "transcript": part.get("transcript")})  # pyright: ignore[reportUnknownMemberType]
            else:
                url = part.get("image_url")  # pyright: ignore[reportUnknownMemberType]
                image_info(url, f"{path}.image_url")
                detail = part.get("detail", "auto")  # pyright: ignore[reportUnknownMemberType]
                if detail not in ("auto", "low", "high"):
                    raise invalid_value(f"{path}.detail", detail, ("auto", "low", "high"))
                parts.append({"type": "input_image", "image_url": url, "detail": detail})
        return {**base, "role": role, "content": parts}, audio
    if kind == "function_call":
        for key in ("name", "arguments"):
            if not isinstance(item.get(key), str):
                raise invalid_type(f"item.{key}", "a string", item.get(key))
        return {**base, "call_id": item.get("call_id"), "name": item["name"], "arguments": item["arguments"]}, audio
    if kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise missing("item.call_id")
        if not isinstance(item.get("output"), str):
            raise invalid_type("item.output", "a string", item.get("output"))
        return {**base, "call_id": item["call_id"], "output": item["output"]}, audio
    raise invalid_value("item.type", kind, ("message", "function_call", "function_call_output"))


def image_info(url: Any, path: str) -> dict[str, Any]:
    """``mime_type``, ``size``, ``width`` and ``height`` of a PNG/JPEG data URI (RequestError otherwise)."""
    if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
        raise RequestError(
            "invalid_value", "Invalid image URL: expected a data:image/png or data:image/jpeg base64 URI.", path
        )
    head, _, b64 = url.partition(";base64,")
    mime = head[5:]
    if mime not in ("image/png", "image/jpeg", "image/jpg"):
        raise RequestError("invalid_value", f"Invalid image type {mime!r}: only PNG and JPEG are supported.", path)
    try:
        data = base64.b64decode(b64, validate=True)
    except binascii.Error:
        raise RequestError("invalid_value", "Invalid image URL: the base64 data does not decode.", path) from None
    width, height = _png_size(data) if mime == "image/png" else _jpeg_size(data)
    if not width:
        raise RequestError("invalid_value", f"Invalid image: the data is not a valid {mime}.", path)
    return {"mime_type": mime, "size": len(data), "width": width, "height": height}


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    if data[:2] != b"\xff\xd8":
        return 0, 0
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return 0, 0
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        i += 2 + length
    return 0, 0
