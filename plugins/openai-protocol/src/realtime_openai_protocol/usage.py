"""Usage objects of the protocol → :class:`~realtime_core.RealtimeUsageEvent`.

Two kinds arrive: a reply's ``response.done`` ``usage`` (tokens of that reply: contract 3.8), and the input
transcriber's ``usage`` on ``conversation.item.input_audio_transcription.completed``, billed separately for
the transcription model, in one of two shapes: ``{"type": "tokens", input_tokens, output_tokens,
total_tokens, input_token_details: {text_tokens, audio_tokens}}`` or ``{"type": "duration", "seconds"}``.
Transcription usage belongs to no reply: its event has no ``response_id`` and ``raw["source"]`` is
``"input_audio_transcription"`` (with the ``item_id``), so an app that sums replies can tell it apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from realtime_core import SessionCore

__all__ = ["TRANSCRIPTION_SOURCE", "emit_response_usage", "emit_transcription_usage"]

TRANSCRIPTION_SOURCE = "input_audio_transcription"


def _details(usage: Mapping[str, Any], side: str) -> Mapping[str, Any]:
    # OpenAI spells them input_token_details; DashScope input_tokens_details
    found = usage.get(f"{side}_token_details") or usage.get(f"{side}_tokens_details")
    return found if isinstance(found, Mapping) else {}  # pyright: ignore[reportUnknownVariableType]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def emit_response_usage(core: SessionCore, response_id: str, usage: Mapping[str, Any]) -> None:
    """The usage of one reply (``response.done``'s ``response.usage``)."""
    inp, out = _details(usage, "input"), _details(usage, "output")
    core.emit_usage_event(
        response_id,
        raw=dict(usage),
        input_tokens=_int(usage.get("input_tokens")),
        output_tokens=_int(usage.get("output_tokens")),
        total_tokens=_int(usage.get("total_tokens")),
        input_text_tokens=_int(inp.get("text_tokens")),
        input_audio_tokens=_int(inp.get("audio_tokens")),
        input_image_tokens=_int(inp.get("image_tokens")),
        cached_input_tokens=_int(inp.get("cached_tokens")),
        output_text_tokens=_int(out.get("text_tokens")),
        output_audio_tokens=_int(out.get("audio_tokens")),
    )


def emit_transcription_usage(core: SessionCore, usage: Mapping[str, Any], *, item_id: str | None) -> None:
    """The input transcriber's usage for one utterance (either shape; see the module docstring)."""
    raw = {"source": TRANSCRIPTION_SOURCE, "item_id": item_id, **usage}
    if usage.get("type") == "duration":
        core.emit_usage_event(None, raw=raw)  # seconds of audio transcribed: in raw, there is no token count
        return
    inp = _details(usage, "input")
    core.emit_usage_event(
        None,
        raw=raw,
        input_tokens=_int(usage.get("input_tokens")),
        output_tokens=_int(usage.get("output_tokens")),
        total_tokens=_int(usage.get("total_tokens")),
        input_text_tokens=_int(inp.get("text_tokens")),
        input_audio_tokens=_int(inp.get("audio_tokens")),
    )
