"""OpenAI GA messages: the ``session`` object of ``session.update``, the endpoint URL, history items.

Pure functions, no I/O. The client events themselves are the protocol's
(:mod:`realtime_openai_protocol.client_events`, re-exported here); what is OpenAI's own is the shape of its
session object (nested ``audio.input``/``audio.output``, reasoning on the reasoning models) and its URLs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from realtime_core import ConfigurationError, HistoryItem
from realtime_core.errors import redact
from realtime_openai_protocol import GA, Dialect
from realtime_openai_protocol.client_events import (
    SAY_INSTRUCTIONS,
    EventIds,
    append_audio_frame,
    function_call_item,
    function_call_output_item,
    image_item,
    input_audio_buffer_clear,
    input_audio_buffer_commit,
    item_create,
    item_truncate,
    message_item,
    new_id,
    output_audio_buffer_clear,
    response_cancel,
    response_create,
    say_instructions,
    session_update,
    verbatim_text,
)

from .config import SAMPLE_RATE, SessionConfig

__all__ = [
    "SAY_INSTRUCTIONS",
    "EventIds",
    "append_audio_frame",
    "function_call_item",
    "function_call_output_item",
    "history_item",
    "image_item",
    "input_audio_buffer_clear",
    "input_audio_buffer_commit",
    "item_create",
    "item_truncate",
    "message_item",
    "new_id",
    "output_audio_buffer_clear",
    "realtime_url",
    "response_cancel",
    "response_create",
    "say_instructions",
    "session_payload",
    "session_update",
    "verbatim_text",
]


def session_payload(
    config: SessionConfig,
    tools: Sequence[Mapping[str, Any]] = (),
    *,
    dialect: Dialect = GA,
    audio_formats: bool = True,
) -> dict[str, Any]:
    """The GA ``session`` object of ``session.update`` for ``config``.

    Every field this SDK manages is sent explicitly (nulls included), so a reconnect re-creates exactly the
    same session; ``reasoning`` and ``parallel_tool_calls`` only when set (the non-reasoning models refuse
    them). ``config.extra`` is merged last.

    :param audio_formats: include ``audio/pcm`` formats (False over WebRTC, where the media is Opus on the
        tracks).
    """
    td = config.turn_detection
    audio_input: dict[str, Any] = {
        "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
        "turn_detection": td.to_wire() if td is not None else None,
        "transcription": config.input_transcription.to_wire() if config.input_transcription else None,
        "noise_reduction": {"type": config.noise_reduction} if config.noise_reduction else None,
    }
    audio_output: dict[str, Any] = {"format": {"type": "audio/pcm", "rate": SAMPLE_RATE}, "voice": config.voice}
    if config.speed is not None:
        audio_output["speed"] = config.speed
    if not audio_formats:
        del audio_input["format"], audio_output["format"]
    session: dict[str, Any] = {
        "type": "realtime",
        "model": config.model,
        "output_modalities": [config.modality],
        "audio": {"input": audio_input, "output": audio_output},
        "tools": [dialect.function_tool(dict(t)) for t in (*config.tools, *tools)],
        "tool_choice": dict(config.tool_choice) if not isinstance(config.tool_choice, str) else config.tool_choice,
        "max_output_tokens": config.max_output_tokens,
    }
    if config.reasoning_effort is not None:
        session["reasoning"] = {"effort": config.reasoning_effort}
    if config.parallel_tool_calls is not None:
        session["parallel_tool_calls"] = config.parallel_tool_calls
    if config.instructions is not None:
        session["instructions"] = config.instructions
    if config.extra:
        _deep_merge(session, dict(config.extra))
    return session


def _deep_merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _deep_merge(current, value)  # pyright: ignore[reportUnknownArgumentType]
        else:
            target[key] = value


def realtime_url(base_url: str, model: str) -> str:
    """The WebSocket URL for ``model`` under ``base_url`` (``https://host/v1`` → ``wss://host/v1/realtime?model=``)."""
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://", "ws://", "wss://")):
        raise ConfigurationError(f"base_url must be an http(s):// or ws(s):// URL, got {redact(str(base_url))!r}")
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") + "/realtime"
    query = "&".join(q for q in (parts.query, urlencode({"model": model})) if q)
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def history_item(item: HistoryItem) -> dict[str, Any] | None:
    """A conversation item that re-creates ``item`` on a new connection (None: nothing to replay)."""
    if item.kind == "tool_call" and item.call_id and item.tool_name:
        return function_call_item(item.call_id, item.tool_name, json.dumps(item.data or {}))
    if item.kind == "tool_result" and item.call_id:
        return function_call_output_item(item.call_id, json.dumps(item.data, default=str))
    if item.kind == "message" and item.text and item.role in ("user", "assistant", "system"):
        return message_item(item.role, item.text)
    return None
