"""BidiGenerateContent message shapes: building client messages and reading server ones.

Pure functions, no I/O and no session: the wire format (lowerCamelCase JSON, one top-level key per client
message). Audio messages are the hot path (~50 per second per session), so they are assembled from a cached
prefix and the base64 text instead of going through ``json.dumps``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pydantic_core

from realtime_core import PcmData, Tool, ToolResult

from .declarations import function_declaration
from .options import GeminiOptions

__all__ = [
    "INPUT_RATE",
    "MAX_OUTPUT_RATE",
    "MIN_OUTPUT_RATE",
    "OUTPUT_RATE",
    "audio_frame",
    "build_setup",
    "decode_audio",
    "model_resource",
    "parse_duration",
    "parse_rate",
    "text_message",
    "tool_response",
    "usage_fields",
    "video_message",
]

INPUT_RATE = 16000
OUTPUT_RATE = 24000
MIN_OUTPUT_RATE = 8000
MAX_OUTPUT_RATE = 48000
"""The rates a server audio part may name. The server sends 24 kHz; a label outside these bounds is
refused rather than trusted: resampling 2 KB labelled ``rate=1`` to 24 kHz would take hundreds of MB."""

_SENSITIVITY_START = {"high": "START_SENSITIVITY_HIGH", "low": "START_SENSITIVITY_LOW"}
_SENSITIVITY_END = {"high": "END_SENSITIVITY_HIGH", "low": "END_SENSITIVITY_LOW"}
_ACTIVITY_HANDLING = {"interrupt": "START_OF_ACTIVITY_INTERRUPTS", "no_interruption": "NO_INTERRUPTION"}
_TURN_COVERAGE = {
    "only_activity": "TURN_INCLUDES_ONLY_ACTIVITY",
    "all_input": "TURN_INCLUDES_ALL_INPUT",
    "audio_activity_and_all_video": "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
}
_MEDIA_RESOLUTION = {
    "low": "MEDIA_RESOLUTION_LOW",
    "medium": "MEDIA_RESOLUTION_MEDIUM",
    "high": "MEDIA_RESOLUTION_HIGH",
}

_LITTLE_ENDIAN = sys.byteorder == "little"
_AUDIO_PREFIX = b'{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=%d","data":"'
_AUDIO_SUFFIX = b'"}}}'
_prefixes: dict[int, bytes] = {}


def audio_frame(pcm16: bytes | memoryview, rate: int) -> bytes:
    """``{"realtimeInput":{"audio":{...}}}`` as UTF-8 JSON for mono little-endian PCM16 bytes at ``rate``.

    Built as bytes straight from the sample buffer: no ``json.dumps``, no str round trip.
    """
    prefix = _prefixes.get(rate)
    if prefix is None:
        prefix = _prefixes[rate] = _AUDIO_PREFIX % rate
    return b"".join((prefix, binascii.b2a_base64(pcm16, newline=False), _AUDIO_SUFFIX))


def video_message(data: bytes, mime_type: str) -> dict[str, Any]:
    return {"realtimeInput": {"video": {"mimeType": mime_type, "data": base64.b64encode(data).decode("ascii")}}}


def text_message(text: str, mode: str) -> dict[str, Any]:
    """User text: ``realtimeInput.text``, or a ``clientContent`` user turn that asks for a reply."""
    if mode == "realtime_input":
        return {"realtimeInput": {"text": text}}
    return {"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": True}}


def parse_rate(mime_type: str) -> int | None:
    """The ``rate=`` of ``audio/pcm;rate=24000``: 24000 when absent, None when it is not a whole number
    within :data:`MIN_OUTPUT_RATE` .. :data:`MAX_OUTPUT_RATE`."""
    for param in mime_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "rate":
            text = value.strip()
            if not text.isdigit() or len(text) > 6:
                return None
            rate = int(text)
            return rate if MIN_OUTPUT_RATE <= rate <= MAX_OUTPUT_RATE else None
    return OUTPUT_RATE


def decode_audio(data: str, rate: int) -> PcmData:
    """Base64 PCM16LE from the wire as :class:`PcmData` (one decode, no further copy).

    :raises ValueError: ``data`` is not base64.
    """
    raw = binascii.a2b_base64(data)  # what b64decode calls, minus its str-to-bytes copy
    if len(raw) % 2:
        raw = raw[:-1]  # a torn sample cannot be played; drop it rather than fail the chunk
    if _LITTLE_ENDIAN:
        return PcmData.from_bytes(raw, rate)
    return PcmData(np.frombuffer(raw, dtype="<i2").astype(np.int16), rate)


def parse_duration(value: object) -> float | None:
    """A protobuf Duration (``"50s"``, ``"1.500s"``; also a bare number of seconds) in seconds; None for
    anything else, including values that are not finite."""
    if isinstance(value, bool):
        return None
    seconds: float | None = None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and len(value) < 32:
        try:
            seconds = float(value.strip().removesuffix("s"))
        except ValueError:
            return None
    return seconds if seconds is not None and math.isfinite(seconds) else None


# ---------------------------------------------------------------------------------------------- setup
def model_resource(options: GeminiOptions) -> str:
    """``models/<id>`` on the Developer API; the full publisher resource name on Vertex AI."""
    model = options.model
    vertex = options.vertex
    if vertex is None:
        return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
    if model.startswith("projects/"):
        return model
    model = model.removeprefix("models/")
    if not model.startswith("publishers/"):
        model = f"publishers/google/models/{model}"
    return f"projects/{vertex.project}/locations/{vertex.location}/{model}"


def build_setup(
    options: GeminiOptions,
    *,
    instructions: str | None,
    tools: Iterable[Tool],
    handle: str | None,
) -> dict[str, Any]:
    """The ``{"setup": {...}}`` message for ``options``; ``handle`` resumes a session."""
    setup: dict[str, Any] = {"model": model_resource(options), "generationConfig": _generation_config(options)}
    if instructions:
        setup["systemInstruction"] = {"role": "user", "parts": [{"text": instructions}]}
    declarations = [function_declaration(t, options) for t in tools]
    if declarations:
        setup["tools"] = [{"functionDeclarations": declarations}]
    realtime = _realtime_input_config(options)
    if realtime:
        setup["realtimeInputConfig"] = realtime
    if options.session_resumption:
        setup["sessionResumption"] = {"handle": handle} if handle else {}
    cwc = options.context_window_compression
    if cwc is not None:
        window: dict[str, Any] = {}
        if cwc.target_tokens is not None:
            window["targetTokens"] = cwc.target_tokens
        compression: dict[str, Any] = {"slidingWindow": window}
        if cwc.trigger_tokens is not None:
            compression["triggerTokens"] = cwc.trigger_tokens
        setup["contextWindowCompression"] = compression
    transcription = options.input_transcription
    if transcription is not False:
        config: dict[str, Any] = {}
        if transcription is not True:
            if transcription.language_codes:
                config["languageCodes"] = list(transcription.language_codes)
            if transcription.custom_vocabulary:
                config["customVocabulary"] = list(transcription.custom_vocabulary)
            if transcription.mode is not None:
                config["mode"] = transcription.mode.upper()
        setup["inputAudioTranscription"] = config
    if options.wants_output_transcription:
        setup["outputAudioTranscription"] = {}
    if options.proactive_audio is not None and options.profile.proactivity == "option":
        setup["proactivity"] = {"proactiveAudio": options.proactive_audio}  # (always on for 3.8: nothing to send)
    if options.extra_setup:
        _merge(setup, options.extra_setup)
    return {"setup": setup}


def _generation_config(options: GeminiOptions) -> dict[str, Any]:
    gen: dict[str, Any] = {"responseModalities": ["AUDIO" if options.modality == "audio" else "TEXT"]}
    if options.voice is not None or options.language_code is not None:
        speech: dict[str, Any] = {}
        if options.voice is not None:
            speech["voiceConfig"] = {"prebuiltVoiceConfig": {"voiceName": options.voice}}
        if options.language_code is not None:
            speech["languageCode"] = options.language_code
        gen["speechConfig"] = speech
    if options.media_resolution is not None:
        gen["mediaResolution"] = _MEDIA_RESOLUTION[options.media_resolution]
    for name, key in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("max_output_tokens", "maxOutputTokens"),
        ("seed", "seed"),
    ):
        value = getattr(options, name)
        if value is not None:
            gen[key] = value
    thinking: dict[str, Any] = {}
    if options.thinking_budget is not None:
        thinking["thinkingBudget"] = options.thinking_budget
    level = options.effective_thinking_level
    if level is not None:
        thinking["thinkingLevel"] = level.upper()
    if options.include_thoughts is not None and options.profile.thinking != "none":
        thinking["includeThoughts"] = options.include_thoughts
    if thinking:
        gen["thinkingConfig"] = thinking
    if options.affective_dialog is not None:
        gen["enableAffectiveDialog"] = options.affective_dialog  # the SDK puts it here, not at setup level
    return gen


def _realtime_input_config(options: GeminiOptions) -> dict[str, Any]:
    realtime: dict[str, Any] = {}
    if options.manual_activity:
        realtime["automaticActivityDetection"] = {"disabled": True}
    else:
        vad = options.activity_detection
        aad: dict[str, Any] = {}
        if vad.start_sensitivity is not None:
            aad["startOfSpeechSensitivity"] = _SENSITIVITY_START[vad.start_sensitivity]
        if vad.end_sensitivity is not None:
            aad["endOfSpeechSensitivity"] = _SENSITIVITY_END[vad.end_sensitivity]
        if vad.prefix_padding_ms is not None:
            aad["prefixPaddingMs"] = vad.prefix_padding_ms
        if vad.silence_duration_ms is not None:
            aad["silenceDurationMs"] = vad.silence_duration_ms
        if aad:
            realtime["automaticActivityDetection"] = aad
    if options.activity_handling is not None:
        realtime["activityHandling"] = _ACTIVITY_HANDLING[options.activity_handling]
    if options.turn_coverage is not None:
        realtime["turnCoverage"] = _TURN_COVERAGE[options.turn_coverage]
    return realtime


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


# ---------------------------------------------------------------------------------------------- tools
def tool_response(results: Iterable[ToolResult], synthetic_ids: set[str]) -> dict[str, Any]:
    """``{"toolResponse": ...}`` with one function response per result.

    Ids are echoed exactly; ids this client made up (Vertex sometimes omits them) are left out again.
    The result goes under ``output`` and a failure under ``error``, the keys the model is told to expect.
    """
    responses: list[dict[str, Any]] = []
    for result in results:
        entry: dict[str, Any] = {"name": result.name}
        if result.call_id not in synthetic_ids:
            entry["id"] = result.call_id
        if result.error is not None:
            entry["response"] = {"error": result.error}
        else:
            entry["response"] = {"output": pydantic_core.to_jsonable_python(result.output, fallback=str)}
        responses.append(entry)
    return {"toolResponse": {"functionResponses": responses}}


# ---------------------------------------------------------------------------------------------- usage
_MODALITY_INPUT = {
    "TEXT": "input_text_tokens",
    "AUDIO": "input_audio_tokens",
    "IMAGE": "input_image_tokens",
    "VIDEO": "input_image_tokens",
}
_MODALITY_OUTPUT = {"TEXT": "output_text_tokens", "AUDIO": "output_audio_tokens"}


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 20:
        return int(value)  # int64 may travel as a string
    return None


def _details(items: object, mapping: Mapping[str, str], into: dict[str, int | None]) -> None:
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, Mapping):
            continue
        name = mapping.get(str(item.get("modality", "")).upper())
        count = _int(item.get("tokenCount"))
        if name is not None and count is not None:
            into[name] = (into.get(name) or 0) + count


def _sum(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def usage_fields(usage: Mapping[str, Any]) -> dict[str, int | None]:
    """Map ``usageMetadata`` (Developer API or Vertex names) to :class:`RealtimeUsageEvent` fields.

    Thinking is billed as output: ``output_tokens`` is ``responseTokenCount`` plus ``thoughtsTokenCount``;
    tool-use prompts count as input. The raw numbers stay in the event's ``raw``.
    """
    out: dict[str, int | None] = {
        "input_tokens": _sum(_int(usage.get("promptTokenCount")), _int(usage.get("toolUsePromptTokenCount"))),
        "output_tokens": _sum(
            _int(usage.get("responseTokenCount", usage.get("candidatesTokenCount"))),
            _int(usage.get("thoughtsTokenCount")),
        ),
        "total_tokens": _int(usage.get("totalTokenCount")),
        "cached_input_tokens": _int(usage.get("cachedContentTokenCount")),
    }
    _details(usage.get("promptTokensDetails"), _MODALITY_INPUT, out)
    _details(usage.get("responseTokensDetails", usage.get("candidatesTokensDetails")), _MODALITY_OUTPUT, out)
    return out
