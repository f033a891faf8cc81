"""BidiGenerateContent message shapes: building client messages and reading server ones.

No session logic lives here, only the wire format (lowerCamelCase JSON, one top-level key per client
message). Audio messages are the hot path (~50 per second per session), so they are assembled from a
cached prefix and the base64 text instead of going through ``json.dumps``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pydantic_core

from realtime_core import PcmData, Tool, ToolResult

from .options import GeminiOptions

__all__ = [
    "INPUT_RATE",
    "OUTPUT_RATE",
    "audio_message",
    "build_setup",
    "function_declaration",
    "json_schema_to_openapi",
    "parse_duration",
    "parse_rate",
    "tool_response",
    "usage_fields",
]

INPUT_RATE = 16000
OUTPUT_RATE = 24000

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


def audio_message(pcm: PcmData) -> bytes:
    """``{"realtimeInput":{"audio":{...}}}`` as UTF-8 JSON for a mono PCM16 chunk.

    Built as bytes straight from the sample buffer: no ``json.dumps``, no str round trip.
    """
    prefix = _prefixes.get(pcm.sample_rate)
    if prefix is None:
        prefix = _prefixes[pcm.sample_rate] = _AUDIO_PREFIX % pcm.sample_rate
    samples = pcm.samples
    # base64 reads the array's buffer directly when it is already little-endian int16.
    raw: Any = samples if _LITTLE_ENDIAN and samples.dtype.byteorder in ("=", "<", "|") else pcm.to_bytes()
    return b"".join((prefix, binascii.b2a_base64(raw, newline=False), _AUDIO_SUFFIX))


def video_message(data: bytes, mime_type: str) -> dict[str, Any]:
    return {"realtimeInput": {"video": {"mimeType": mime_type, "data": base64.b64encode(data).decode("ascii")}}}


def parse_rate(mime_type: str, default: int = OUTPUT_RATE) -> int:
    """The ``rate=`` parameter of ``audio/pcm;rate=24000`` (``default`` when absent or bad)."""
    for param in mime_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "rate":
            try:
                rate = int(value.strip())
            except ValueError:
                return default
            return rate if rate > 0 else default
    return default


def decode_audio(data: str, rate: int) -> PcmData:
    """Base64 PCM16LE from the wire as :class:`PcmData` (one decode, no further copy)."""
    raw = binascii.a2b_base64(data)  # what b64decode calls, minus its str-to-bytes copy
    if len(raw) % 2:
        raw = raw[:-1]  # a torn sample cannot be played; drop it rather than fail the chunk
    if _LITTLE_ENDIAN:
        return PcmData.from_bytes(raw, rate)
    return PcmData(np.frombuffer(raw, dtype="<i2").astype(np.int16), rate)


def parse_duration(value: object) -> float | None:
    """A protobuf Duration (``"50s"``, ``"1.500s"``; also a bare number of seconds) in seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().removesuffix("s")
        try:
            return float(text)
        except ValueError:
            return None
    return None


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
    gen: dict[str, Any] = {"responseModalities": ["AUDIO" if options.response_modality == "audio" else "TEXT"]}
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
    if options.thinking_level is not None:
        thinking["thinkingLevel"] = options.thinking_level.upper()
    if options.include_thoughts is not None:
        thinking["includeThoughts"] = options.include_thoughts
    if thinking:
        gen["thinkingConfig"] = thinking
    if options.affective_dialog is not None:
        gen["enableAffectiveDialog"] = options.affective_dialog  # the SDK puts it here, not at setup level

    setup: dict[str, Any] = {"model": model_resource(options), "generationConfig": gen}
    if instructions:
        setup["systemInstruction"] = {"role": "user", "parts": [{"text": instructions}]}
    declarations = [function_declaration(t, options) for t in tools]
    if declarations:
        setup["tools"] = [{"functionDeclarations": declarations}]

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
    if options.input_transcription:
        setup["inputAudioTranscription"] = {}
    if options.wants_output_transcription:
        setup["outputAudioTranscription"] = {}
    if options.proactive_audio is not None:
        setup["proactivity"] = {"proactiveAudio": options.proactive_audio}
    if options.extra_setup:
        _merge(setup, options.extra_setup)
    return {"setup": setup}


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def tool_schema_field(options: GeminiOptions) -> str:
    """``parametersJsonSchema`` or ``parameters`` for this model.

    Reports disagree: 2.x Live models were seen calling tools with empty arguments when declared with
    ``parametersJsonSchema``, while 3.x models accept it (and reject ``additionalProperties`` inside
    ``parameters``). ``auto`` follows the model generation.
    """
    if options.tool_schema == "json_schema":
        return "parametersJsonSchema"
    if options.tool_schema == "parameters":
        return "parameters"
    return "parametersJsonSchema" if options.generation == "3.1" else "parameters"


def function_declaration(tool: Tool, options: GeminiOptions) -> dict[str, Any]:
    field = tool_schema_field(options)
    decl: dict[str, Any] = {"name": tool.name}
    if tool.description:
        decl["description"] = tool.description
    params = tool.parameters
    if params.get("properties"):
        decl[field] = params if field == "parametersJsonSchema" else json_schema_to_openapi(params)
    return decl


_KEEP = {
    "description", "enum", "format", "items", "maxItems", "maxLength", "maxProperties", "maximum", "minItems",
    "minLength", "minProperties", "minimum", "nullable", "pattern", "properties", "required", "title", "type",
    "anyOf", "default", "example", "propertyOrdering",
}  # fmt: skip


def json_schema_to_openapi(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Reduce a JSON Schema (as pydantic writes it) to the OpenAPI subset ``parameters`` accepts.

    ``$ref`` is inlined, ``anyOf [X, null]`` becomes ``X`` with ``nullable``, ``const`` becomes a one-value
    ``enum``, types are upper-cased, and keywords the server rejects (``additionalProperties``,
    ``$defs``...) are dropped.
    """
    defs = dict(schema.get("$defs", {}))

    def convert(node: Any, depth: int = 0) -> dict[str, Any]:
        if not isinstance(node, Mapping) or depth > 32:
            return {}
        node = dict(node)
        ref = node.pop("$ref", None)
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            base = convert(defs.get(ref.removeprefix("#/$defs/"), {}), depth + 1)
            node = {**base, **{k: v for k, v in node.items() if k in ("description", "default")}}
            return node
        out: dict[str, Any] = {}
        any_of = node.get("anyOf")
        if isinstance(any_of, list):
            options = [o for o in any_of if not (isinstance(o, Mapping) and o.get("type") == "null")]
            if len(options) < len(any_of):
                out["nullable"] = True
            if len(options) == 1:
                merged = convert(options[0], depth + 1)
                merged.update({k: v for k, v in out.items()})
                for key in ("description", "default"):
                    if key in node:
                        merged[key] = node[key]
                return merged
            out["anyOf"] = [convert(o, depth + 1) for o in options]
        if "const" in node:
            out["enum"] = [node["const"]]
        for key, value in node.items():
            if key not in _KEEP or key == "anyOf":
                continue
            if key == "type":
                kind = value
                if isinstance(value, list):  # ["string", "null"]
                    kinds = [v for v in value if v != "null"]
                    if len(kinds) < len(value):
                        out["nullable"] = True
                    kind = kinds[0] if kinds else "string"
                out["type"] = str(kind).upper()
            elif key == "properties" and isinstance(value, Mapping):
                out["properties"] = {name: convert(sub, depth + 1) for name, sub in value.items()}
            elif key == "items":
                out["items"] = convert(value, depth + 1)
            elif key == "enum" and isinstance(value, list):
                out["enum"] = [str(v) for v in value]
            elif key == "title":
                continue
            else:
                out[key] = value
        return out

    result = convert(schema)
    result.setdefault("type", "OBJECT")
    return result


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
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
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


def usage_fields(usage: Mapping[str, Any]) -> dict[str, int | None]:
    """Map ``usageMetadata`` (Developer API or Vertex names) to :class:`RealtimeUsageEvent` fields."""
    out: dict[str, int | None] = {
        "input_tokens": _int(usage.get("promptTokenCount")),
        "output_tokens": _int(usage.get("responseTokenCount", usage.get("candidatesTokenCount"))),
        "total_tokens": _int(usage.get("totalTokenCount")),
        "cached_input_tokens": _int(usage.get("cachedContentTokenCount")),
    }
    _details(usage.get("promptTokensDetails"), _MODALITY_INPUT, out)
    _details(usage.get("responseTokensDetails", usage.get("candidatesTokensDetails")), _MODALITY_OUTPUT, out)
    return out
