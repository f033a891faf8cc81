"""The seam between the OpenAI-style realtime protocol and its variants.

OpenAI's GA protocol, its beta predecessor and look-alikes (DashScope's Qwen-Omni realtime speaks the beta
names) share the event flow but differ in event *names* and the *shape* of the session object. Everything
that differs lives in a :class:`Dialect`, so the event handler (:mod:`realtime_openai.handler`) and the
emulator machinery can serve another dialect by swapping this object:

* server event names (``response.output_audio.delta`` on GA, ``response.audio.delta`` on beta...);
* content type names inside items and parts;
* how a :class:`~realtime_openai.config.SessionConfig` becomes the ``session`` object of
  ``session.update`` (nested on GA, flat on beta);
* how ``error`` payloads map to typed errors, which are fatal and which are harmless races;
* small shape details of the reply (the key carrying an audio part's text, the order of the ``.done``
  events), which the emulator follows.

Only GA is implemented here (:data:`GA`); a beta dialect subclasses :class:`Dialect`, sets the beta
names and overrides :meth:`Dialect.session_payload`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from realtime_core import RealtimeError

from .config import SAMPLE_RATE, SessionConfig
from .errors import FATAL_CODES, error_from_payload

__all__ = ["GA", "Dialect"]


@dataclass(frozen=True)
class Dialect:
    """Event names and session shape of one protocol variant (the defaults are OpenAI GA)."""

    name: str = "ga"
    # server events that carry the reply
    audio_delta: str = "response.output_audio.delta"
    audio_done: str = "response.output_audio.done"
    transcript_delta: str = "response.output_audio_transcript.delta"
    transcript_done: str = "response.output_audio_transcript.done"
    text_delta: str = "response.output_text.delta"
    text_done: str = "response.output_text.done"
    # conversation items appearing (beta: conversation.item.created, and no .done)
    item_added: str = "conversation.item.added"
    item_done: str | None = "conversation.item.done"
    # content types of assistant items (beta: "audio" / "text")
    assistant_audio_content: str = "output_audio"
    assistant_text_content: str = "output_text"
    # content part types in response.content_part.* (the same on GA and beta)
    audio_part: str = "audio"
    text_part: str = "text"
    # the key holding the text of an audio content part / assistant audio content (DashScope: "text")
    audio_part_text_key: str = "transcript"
    # DashScope sends the transcript's .done before the audio's .done; GA the other way round
    transcript_done_first: bool = False
    # the provider name put on errors built from server payloads and close codes
    provider: str = "openai"

    def error_from_payload(self, payload: Mapping[str, Any] | None, *, context: str = "") -> RealtimeError:
        """The typed error for an ``error`` event's ``error`` object (or a failed response's error)."""
        return error_from_payload(payload, context=context)

    def is_fatal(self, error: RealtimeError) -> bool:
        """Whether reconnecting cannot help after ``error`` (a bad key, no quota...)."""
        return error.code in FATAL_CODES

    def is_benign_error(self, payload: Mapping[str, Any], sent_type: str | None) -> bool:
        """An error that only reports a harmless race (our cancel arrived after the response ended)."""
        return payload.get("code") == "response_cancel_not_active" and sent_type == "response.cancel"

    def session_payload(self, config: SessionConfig, tools: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        """The ``session`` object of ``session.update`` for ``config`` (GA nested shape).

        Every field this SDK manages is sent explicitly (nulls included), so a reconnect re-creates
        exactly the same session. ``config.extra`` is merged last.
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
        session: dict[str, Any] = {
            "type": "realtime",
            "model": config.model,
            "output_modalities": [config.modality],
            "audio": {"input": audio_input, "output": audio_output},
            "tools": [self.function_tool(t) for t in (*config.tools, *tools)],
            "tool_choice": dict(config.tool_choice) if not isinstance(config.tool_choice, str) else config.tool_choice,
            "max_output_tokens": config.max_output_tokens,
        }
        if config.instructions is not None:
            session["instructions"] = config.instructions
        if config.extra:
            _deep_merge(session, dict(config.extra))
        return session

    def function_tool(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A tool schema (``name``/``description``/``parameters``) in this dialect's tool shape (GA: flat)."""
        if schema.get("type") not in (None, "function"):
            return dict(schema)  # e.g. an MCP tool given verbatim through session_extra-style tools
        return {
            "type": "function",
            "name": schema["name"],
            "description": schema.get("description") or "",
            "parameters": schema.get("parameters") or {"type": "object", "properties": {}},
        }


def _deep_merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _deep_merge(current, value)  # pyright: ignore[reportUnknownArgumentType]
        else:
            target[key] = value


GA = Dialect()
"""OpenAI Realtime GA (``gpt-realtime``; no ``OpenAI-Beta`` header)."""
