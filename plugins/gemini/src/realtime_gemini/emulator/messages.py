"""Server messages of the emulated Gemini Live API, built from a profile and the traffic switches."""

from __future__ import annotations

import base64
from typing import Any

from realtime_core import PcmData

from .media import duration
from .profiles import Profile, Traffic

__all__ = [
    "GO_AWAY_ABORT",
    "TURN_FAILURES",
    "audio_content",
    "go_away",
    "handle_update",
    "text_content",
    "transcript_pieces",
    "usage_plan",
    "voice_activity",
]

GO_AWAY_ABORT = (
    "Connection aborted because the client failed to close the connection after receiving a GoAway "
    "signal once the session duration limit was reached."
)
TURN_FAILURES = frozenset(
    {
        "MALFORMED_FUNCTION_CALL", "RESPONSE_REJECTED", "PROHIBITED_INPUT_CONTENT", "IMAGE_PROHIBITED_INPUT_CONTENT",
        "INPUT_IMAGE_CELEBRITY", "INPUT_TEXT_NCII_PROHIBITED", "INPUT_OTHER", "INPUT_IP_PROHIBITED", "BLOCKLIST",
        "UNSAFE_PROMPT_FOR_IMAGE_GENERATION", "GENERATED_IMAGE_SAFETY", "GENERATED_CONTENT_SAFETY",
        "GENERATED_AUDIO_SAFETY",
    }
)  # fmt: skip
"""``turnCompleteReason`` values that say the model did not answer."""


def _model_turn(parts: list[dict[str, Any]], traffic: Traffic) -> dict[str, Any]:
    return {"role": "model", "parts": parts} if traffic.model_turn_role else {"parts": parts}


def audio_content(
    audio: PcmData, said: list[str], *, profile: Profile, traffic: Traffic, output_tx: bool
) -> list[dict[str, Any]]:
    """The messages of one audio chunk and the transcript pieces that go with it: combined in one message
    (3.x) or one field per message (2.5)."""
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(audio.to_bytes()).decode()}}
    turn = {"serverContent": {"modelTurn": _model_turn([part], traffic)}}
    if not (output_tx and said):
        return [turn]
    if profile.combine_parts:
        turn["serverContent"]["outputTranscription"] = {"text": "".join(said)}
        return [turn]
    return [turn, *({"serverContent": {"outputTranscription": {"text": piece}}} for piece in said)]


def text_content(pieces: list[str], *, traffic: Traffic) -> list[dict[str, Any]]:
    """Text replies (``responseModalities: ["TEXT"]``): text parts."""
    return [{"serverContent": {"modelTurn": _model_turn([{"text": piece}], traffic)}} for piece in pieces]


def transcript_pieces(text: str, size: int = 12) -> list[str]:
    """``text`` in word-ish pieces that concatenate back to it."""
    pieces: list[str] = []
    buf = ""
    for i, word in enumerate(text.split(" ")):
        buf += word if i == 0 else " " + word
        if len(buf) >= size:
            pieces.append(buf)
            buf = ""
    if buf:
        pieces.append(buf)
    return pieces


def voice_activity(kind: str, at_ms: float, *, traffic: Traffic) -> dict[str, Any]:
    return {
        "serverContent": {},
        "voiceActivity": {traffic.voice_activity_key: kind, "audioOffset": duration(round(at_ms / 1000, 3))},
    }


def usage_plan(profile: Profile, traffic: Traffic) -> str:
    """Where usage goes for this connection: ``end``, ``start``, ``split`` or ``none``."""
    return profile.usage if traffic.usage == "profile" else traffic.usage


def handle_update(handle: str | None) -> dict[str, Any]:
    if handle is None:  # mid-reply or mid-tool: "you cannot resume from here"
        return {"sessionResumptionUpdate": {"resumable": False}}
    return {"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}}


def go_away(time_left: float) -> dict[str, Any]:
    return {"goAway": {"timeLeft": duration(time_left)}}
