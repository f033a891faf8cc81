"""DashScope's dialect of the OpenAI-style realtime protocol, and its own client messages: pure, no I/O.

Qwen-Omni realtime speaks OpenAI's *beta* event names (``response.audio.delta``, ``conversation.item.created``
and no ``conversation.item.done``), a flat session object with DashScope's own fields, chat-completions
shaped tools, ``text`` (not ``transcript``) in audio content parts, the transcript's ``.done`` before the
audio's, and its own error payloads (protocol notes §4, "Differences"). :data:`DASHSCOPE` is that
:class:`~realtime_openai_protocol.Dialect`: the protocol package's handler and emulator pieces speak DashScope
through it. The rest of this module builds what only DashScope has: the ``session`` object of
``session.update``, ``input_image_buffer.append`` and ``session.finish``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from realtime_core import RealtimeError
from realtime_openai_protocol import Dialect

from .config import QwenSessionConfig
from .errors import classify_close, error_from_payload, is_fatal, is_no_active_response

__all__ = [
    "DASHSCOPE",
    "INPUT_AUDIO_FORMAT",
    "DashScopeDialect",
    "image_append",
    "session_finish",
    "session_payload",
]

INPUT_AUDIO_FORMAT = "pcm16"
"""The input format label (the official SDK's; the 2026 docs also accept ``pcm``): PCM16 mono 16 kHz."""


@dataclass(frozen=True)
class DashScopeDialect(Dialect):
    """The event names, shapes and error mapping of DashScope's realtime API."""

    name: str = "dashscope"
    audio_delta: str = "response.audio.delta"
    audio_done: str = "response.audio.done"
    transcript_delta: str = "response.audio_transcript.delta"
    transcript_done: str = "response.audio_transcript.done"
    text_delta: str = "response.text.delta"
    text_done: str = "response.text.done"
    item_added: str = "conversation.item.created"
    item_done: str | None = None
    assistant_audio_content: str = "audio"
    assistant_text_content: str = "text"
    audio_part_text_key: str = "text"
    transcript_done_first: bool = True
    provider: str = "qwen"

    def function_tool(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Tools use the chat-completions shape: ``{"type": "function", "function": {name, description, parameters}}``."""
        if schema.get("type") not in (None, "function") or "function" in schema:
            return dict(schema)
        return {
            "type": "function",
            "function": {
                "name": schema["name"],
                "description": schema.get("description") or "",
                "parameters": schema.get("parameters") or {"type": "object", "properties": {}},
            },
        }

    def error_from_payload(self, payload: Mapping[str, Any] | None, *, context: str = "") -> RealtimeError:
        return error_from_payload(payload, context=context)

    def is_fatal(self, error: RealtimeError) -> bool:
        return is_fatal(error)

    def is_benign_error(self, payload: Mapping[str, Any], sent_type: str | None) -> bool:
        # DashScope errors do not name the client event: recognise the cancel race by its message
        return is_no_active_response(payload)

    def classify_close(self, code: int | None, reason: str) -> RealtimeError:
        return classify_close(code, reason)


DASHSCOPE = DashScopeDialect()
"""Qwen-Omni realtime on DashScope."""


def session_payload(config: QwenSessionConfig, tools: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The flat ``session`` object of ``session.update`` for ``config`` (the 2026 docs' shape, qwen3.8 included).

    Every field this SDK manages is sent explicitly (``turn_detection: null`` for manual turns,
    ``input_audio_transcription: null`` to turn transcripts off), so a reconnect re-creates the same session;
    sampling parameters only when set; ``config.extra`` is merged last.
    """
    profile = config.profile
    td = config.turn_detection
    session: dict[str, Any] = {
        "modalities": ["text", "audio"] if config.modality == "audio" else ["text"],
        "voice": config.voice,
        "input_audio_format": INPUT_AUDIO_FORMAT,
        "output_audio_format": profile.output_audio_format,
        "input_audio_transcription": {"model": profile.transcription_model} if config.input_transcription else None,
        "turn_detection": td.to_wire() if td is not None else None,
    }
    if config.instructions is not None:
        session["instructions"] = config.instructions
    if tools:
        session["tools"] = [DASHSCOPE.function_tool(t) for t in tools]
        session["tool_choice"] = "auto"
    if config.enable_search:
        session["enable_search"] = True
        session["search_options"] = {"enable_source": config.search_sources}
    if config.smooth_output is not None:
        session["smooth_output"] = None if config.smooth_output == "auto" else config.smooth_output
    session.update(config.sampling())
    if config.extra:
        session.update(dict(config.extra))
    return session


def image_append(jpeg: bytes) -> dict[str, Any]:
    """``input_image_buffer.append`` with one JPEG (it rides on the next committed user turn)."""
    return {"type": "input_image_buffer.append", "image": base64.b64encode(jpeg).decode("ascii")}


def session_finish(event_id: str | None = None) -> dict[str, Any]:
    """``session.finish``: the polite end of a session (answered with ``session.finished`` on most models)."""
    event: dict[str, Any] = {"type": "session.finish"}
    if event_id:
        event["event_id"] = event_id
    return event
