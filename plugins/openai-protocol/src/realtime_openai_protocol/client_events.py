"""Client events of the OpenAI-style realtime protocol: pure builders, no I/O, no session.

Plain functions that build the JSON-ready dicts a client sends, plus the one hot-path builder,
:func:`append_audio_frame`, which writes the ``input_audio_buffer.append`` frame as UTF-8 bytes directly
(base64 of the PCM buffer, no intermediate ``str`` or ``json.dumps``): it runs ~50 times a second per
session. The client event names are the same in every dialect (OpenAI GA, DashScope); the emulator uses
the same builders and ids.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import string
from collections.abc import Mapping
from typing import Any

__all__ = [
    "SAY_INSTRUCTIONS",
    "EventIds",
    "append_audio_frame",
    "function_call_item",
    "function_call_output_item",
    "image_item",
    "input_audio_buffer_clear",
    "input_audio_buffer_commit",
    "item_create",
    "item_truncate",
    "message_item",
    "new_id",
    "output_audio_buffer_clear",
    "response_cancel",
    "response_create",
    "say_instructions",
    "session_update",
    "verbatim_text",
]

_BASE62 = string.ascii_letters + string.digits
_APPEND_HEAD = b'{"type":"input_audio_buffer.append","audio":"'
_APPEND_TAIL = b'"}'


def new_id(prefix: str, length: int = 21) -> str:
    """An id shaped like OpenAI's: ``prefix`` + ``_`` + base62 characters (``item_...``, ``resp_...``)."""
    return prefix + "_" + "".join(secrets.choice(_BASE62) for _ in range(length))


class EventIds:
    """Client ``event_id`` values for the events whose errors we want to correlate."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = "event_rt" + secrets.token_hex(4) + "_"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter)}"


def append_audio_frame(pcm: memoryview | bytes) -> bytes:
    """The UTF-8 text frame of ``input_audio_buffer.append`` for raw PCM16 bytes (no event_id)."""
    return b"".join((_APPEND_HEAD, base64.b64encode(pcm), _APPEND_TAIL))


def session_update(session: Mapping[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "session.update", "session": dict(session)}, event_id)


def input_audio_buffer_commit(event_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "input_audio_buffer.commit"}, event_id)


def input_audio_buffer_clear(event_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "input_audio_buffer.clear"}, event_id)


def output_audio_buffer_clear(event_id: str | None = None) -> dict[str, Any]:
    """WebRTC/SIP only: cut off the audio the server is playing (it truncates the item at what was played)."""
    return _with_id({"type": "output_audio_buffer.clear"}, event_id)


def message_item(
    role: str, text: str, *, item_id: str | None = None, content_type: str | None = None
) -> dict[str, Any]:
    """A text message item: ``input_text`` for user/system, ``output_text`` for assistant by default."""
    kind = content_type or ("output_text" if role == "assistant" else "input_text")
    item: dict[str, Any] = {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}
    if item_id:
        item["id"] = item_id
    return item


def image_item(jpeg_or_png: bytes, mime_type: str = "image/jpeg", *, detail: str = "auto") -> dict[str, Any]:
    """A user message carrying one image as a data URI (PNG or JPEG)."""
    url = f"data:{mime_type};base64,{base64.b64encode(jpeg_or_png).decode('ascii')}"
    return {"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": url, "detail": detail}]}


def function_call_item(call_id: str, name: str, arguments: str, *, item_id: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}
    if item_id:
        item["id"] = item_id
    return item


def function_call_output_item(call_id: str, output: str, *, item_id: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "function_call_output", "call_id": call_id, "output": output}
    if item_id:
        item["id"] = item_id
    return item


def item_create(
    item: Mapping[str, Any], event_id: str | None = None, previous_item_id: str | None = None
) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "conversation.item.create", "item": dict(item)}
    if previous_item_id is not None:
        msg["previous_item_id"] = previous_item_id
    return _with_id(msg, event_id)


def item_truncate(
    item_id: str, audio_end_ms: int, event_id: str | None = None, content_index: int = 0
) -> dict[str, Any]:
    return _with_id(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": content_index,
            "audio_end_ms": int(audio_end_ms),
        },
        event_id,
    )


def response_create(response: Mapping[str, Any] | None = None, event_id: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "response.create"}
    if response:
        msg["response"] = dict(response)
    return _with_id(msg, event_id)


def response_cancel(response_id: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "response.cancel"}
    if response_id:
        msg["response_id"] = response_id
    return _with_id(msg, event_id)


def _with_id(msg: dict[str, Any], event_id: str | None) -> dict[str, Any]:
    if event_id:
        msg["event_id"] = event_id
    return msg


# ---------------------------------------------------------------------- say(text)
SAY_INSTRUCTIONS = (
    "Read the text inside the verbatim tags below aloud exactly as written, word for word. "
    "Do not add, remove, translate or change anything, and say nothing else.\n<verbatim>{text}</verbatim>"
)
"""Per-response instructions used by ``say(text)`` when ``say_mode="instructions"``."""
_VERBATIM = re.compile(r"<verbatim>(.*?)</verbatim>", re.DOTALL)


def say_instructions(text: str) -> str:
    return SAY_INSTRUCTIONS.format(text=text.replace("</verbatim>", ""))


def verbatim_text(instructions: str | None) -> str | None:
    """The text a ``say`` request asks to be read (``None`` if ``instructions`` is not one)."""
    if not instructions:
        return None
    match = _VERBATIM.search(instructions)
    return match.group(1) if match else None
