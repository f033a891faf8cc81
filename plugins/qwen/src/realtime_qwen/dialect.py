"""The DashScope dialect of the OpenAI-style realtime protocol (protocol notes §4, "Differences").

Qwen-Omni realtime uses OpenAI's *beta* event names (``response.audio.delta``, ``conversation.item.created``
and no ``conversation.item.done``), a flat session object with DashScope's own fields, chat-completions
shaped tools, ``text`` (not ``transcript``) in audio content parts, the transcript's ``.done`` before the
audio's, and its own error payloads. realtime-openai's event handler and emulator machinery are written
against a :class:`~realtime_openai.Dialect`; this one makes them speak DashScope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from realtime_core import RealtimeError
from realtime_openai.dialect import Dialect

from .config import QwenSessionConfig
from .errors import AUTH_CODES, QUOTA_CODES, error_from_payload, is_no_active_response

__all__ = ["DASHSCOPE", "INPUT_AUDIO_FORMAT", "DashScopeDialect"]

INPUT_AUDIO_FORMAT = "pcm16"
"""The input format label (the official SDK's; the 2026 docs also accept ``pcm``): PCM16 mono 16 kHz."""


@dataclass(frozen=True)
class DashScopeDialect(Dialect):
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

    def session_payload(self, config: Any, tools: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        """The flat ``session`` object of ``session.update`` for a :class:`QwenSessionConfig`.

        Every field this SDK manages is sent explicitly (``turn_detection: null`` for manual turns,
        ``input_audio_transcription: null`` to turn transcripts off), so a reconnect re-creates the same
        session; sampling parameters only when set; ``config.extra`` is merged last.
        """
        if not isinstance(config, QwenSessionConfig):
            raise TypeError(f"DashScopeDialect needs a QwenSessionConfig, got {type(config).__name__}")
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
            session["tools"] = [self.function_tool(t) for t in tools]
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
        return error.code in AUTH_CODES or error.code in QUOTA_CODES

    def is_benign_error(self, payload: Mapping[str, Any], sent_type: str | None) -> bool:
        # DashScope errors do not name the client event: recognise the cancel race by its message
        return is_no_active_response(payload)


DASHSCOPE = DashScopeDialect()
"""Qwen-Omni realtime on DashScope."""
