"""The seam between the OpenAI-style realtime protocol and its variants.

OpenAI's GA protocol and its look-alikes (DashScope's Qwen-Omni realtime speaks the beta names) share the
event flow but differ in event *names*, the *shape* of a few objects and their error codes. Everything that
differs lives in a :class:`Dialect`, so the server-event handler
(:class:`~realtime_openai_protocol.ServerEventHandler`) and the emulator pieces serve another variant by
swapping this object:

* server event names (``response.output_audio.delta`` on GA, ``response.audio.delta`` on beta...);
* content type names inside items and parts;
* the shape of a function tool in the session (flat on GA, chat-completions style on DashScope);
* how ``error`` payloads and close codes map to typed errors, which are fatal and which are harmless races;
* small shape details of a reply (the key carrying an audio part's text, the order of the ``.done``
  events), which the emulator follows.

The *session object* of ``session.update`` is the provider's own business (its options), built by the
provider plugin, not here. :data:`GA` is OpenAI's GA dialect; another variant subclasses :class:`Dialect`
with its names and overrides the methods whose behaviour differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from realtime_core import RealtimeError

from .errors import FATAL_CODES, close_error, error_from_payload, setup_error

__all__ = ["GA", "Dialect"]


@dataclass(frozen=True)
class Dialect:
    """Event names and shapes of one protocol variant (the defaults are OpenAI GA)."""

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
        return error_from_payload(payload, provider=self.provider, context=context)

    def setup_error(self, error: RealtimeError, payload: Mapping[str, Any]) -> RealtimeError:
        """``error`` (from ``payload``) when it answers the session's configuration (see
        :func:`realtime_openai_protocol.errors.setup_error`)."""
        return setup_error(error, payload)

    def is_fatal(self, error: RealtimeError) -> bool:
        """Whether reconnecting cannot help after ``error`` (a bad key, no quota, an unknown model...)."""
        return error.code in FATAL_CODES

    def is_benign_error(self, payload: Mapping[str, Any], sent_type: str | None) -> bool:
        """An error that only reports a harmless race the client caused (its cancel arrived after the
        response ended). ``sent_type`` is the type of the client event the error names, if known."""
        return payload.get("code") == "response_cancel_not_active" and sent_type in ("response.cancel", None)

    def classify_close(self, code: int | None, reason: str) -> RealtimeError:
        """Why the server closed the socket, and whether reconnecting can help."""
        return close_error(code, reason, provider=self.provider)

    def function_tool(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A tool schema (``name``/``description``/``parameters``) in this dialect's tool shape (GA: flat)."""
        if schema.get("type") not in (None, "function"):
            return dict(schema)  # e.g. an MCP tool given verbatim
        return {
            "type": "function",
            "name": schema["name"],
            "description": schema.get("description") or "",
            "parameters": schema.get("parameters") or {"type": "object", "properties": {}},
        }

    def tool_of(self, tool: Mapping[str, Any]) -> dict[str, Any] | None:
        """The reverse of :meth:`function_tool`: ``{name, description, parameters}`` of a session's tool
        entry (None for a tool that is not a function). The emulator reads the tools it was given with it."""
        if tool.get("type") not in (None, "function"):
            return None
        inner = tool.get("function")
        source: Mapping[str, Any] = inner if isinstance(inner, Mapping) else tool  # pyright: ignore[reportUnknownVariableType]
        return {"name": source.get("name"), "description": source.get("description"), "parameters": source.get("parameters")}


GA = Dialect()
"""OpenAI Realtime GA (no ``OpenAI-Beta`` header)."""
