"""The client message schema as the server's protobuf-JSON parser sees it.

:func:`normalize` walks a client message against the schema, accepting lowerCamelCase and snake_case keys
at every depth (the official SDK sends ``client_content``, ``automatic_activity_detection``...), leaving
free-form values (tool schemas, arguments, responses) untouched, upper-casing enum values, and failing the
way the real server does: an unknown field or a bad value closes the socket with 1007 and a reason that
names the field and where it was.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from realtime_core.emulator import BadMessage

__all__ = [
    "CLIENT_MESSAGE",
    "INVALID_ARGUMENT",
    "WireError",
    "camel",
    "decode_bytes",
    "normalize",
    "snake",
]

INVALID_ARGUMENT = "Request contains an invalid argument."
_CAMEL = re.compile(r"_([a-z0-9])")
_SNAKE = re.compile(r"(?<!^)([A-Z])")


class WireError(BadMessage):
    """The server would close the connection with ``close_code`` and ``reason`` (Gemini reports every error
    as a close frame); raised from the connection's hooks, the framework hands it to ``send_error``."""

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(str(close_code), reason)
        self.close_code = close_code
        self.reason = reason


def camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def snake(name: str) -> str:
    return _SNAKE.sub(lambda m: "_" + m.group(1).lower(), name)


def decode_bytes(value: Any, path: str) -> bytes:
    """Protobuf-JSON ``bytes``: standard or URL-safe base64, padding optional."""
    if not isinstance(value, str):
        raise WireError(1007, f"Invalid JSON payload received. Invalid value at '{path}' (TYPE_BYTES), {value!r}")
    padded = value + "=" * (-len(value) % 4)
    try:
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise WireError(
            1007, f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for \"{value[:20]}\""
        ) from None


# ---------------------------------------------------------------------------------------------- nodes
class Node:
    """A schema node; ``check`` returns the normalized value or raises :class:`WireError`."""

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Context:
    """Which API the message came through (some fields exist only on Vertex or in v1alpha)."""

    vertex: bool = False
    alpha: bool = False


class _Any(Node):
    def check(self, value: Any, path: str, ctx: Context) -> Any:
        return value


ANY = _Any()


def _bad(path: str, kind: str, value: Any) -> WireError:
    shown = value if isinstance(value, str) else repr(value)
    return WireError(1007, f"Invalid JSON payload received. Invalid value at '{path}' ({kind}), {shown}")


class _Scalar(Node):
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        kind = self.kind
        if kind == "TYPE_STRING":
            if not isinstance(value, str):
                raise _bad(path, kind, value)
            return value
        if kind == "TYPE_BOOL":
            if not isinstance(value, bool):
                raise _bad(path, kind, value)
            return value
        if kind in ("TYPE_INT32", "TYPE_INT64"):
            if isinstance(value, bool):
                raise _bad(path, kind, value)
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
                return int(value)  # int64 travels as a string in protobuf JSON
            raise _bad(path, kind, value)
        if kind == "TYPE_FLOAT":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _bad(path, kind, value)
            return float(value)
        if kind == "TYPE_BYTES":
            decode_bytes(value, path)
            return value
        return value


STR = _Scalar("TYPE_STRING")
BOOL = _Scalar("TYPE_BOOL")
INT = _Scalar("TYPE_INT32")
INT64 = _Scalar("TYPE_INT64")
NUM = _Scalar("TYPE_FLOAT")
BYTES = _Scalar("TYPE_BYTES")


class Enum(Node):
    def __init__(self, name: str, *values: str) -> None:
        self.name = name
        self.values = frozenset(values)

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        if isinstance(value, str) and value.upper() in self.values:
            return value.upper()
        if isinstance(value, int) and not isinstance(value, bool):
            return value  # enums may travel as their numbers
        raise _bad(path, f"type.googleapis.com/{self.name}", value)


class ListOf(Node):
    def __init__(self, item: Node) -> None:
        self.item = item

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        if not isinstance(value, list):
            raise WireError(1007, f"Invalid JSON payload received. Invalid value at '{path}', expected a list")
        return [self.item.check(v, f"{path}[{i}]", ctx) for i, v in enumerate(value)]


class Unsupported(Node):
    """A real proto field the Live API refuses."""

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        raise WireError(1007, INVALID_ARGUMENT)


class VertexOnly(Node):
    def __init__(self, node: Node) -> None:
        self.node = node


class AlphaOnly(Node):
    def __init__(self, node: Node) -> None:
        self.node = node


@dataclass
class Msg(Node):
    fields: dict[str, Node] = field(default_factory=dict)

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        if not isinstance(value, Mapping):
            raise WireError(1007, f"Invalid JSON payload received. Invalid value at '{path}', expected an object")
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = camel(str(key))
            node = self.fields.get(name)
            if isinstance(node, VertexOnly):
                node = node.node if ctx.vertex else None
            elif isinstance(node, AlphaOnly):
                node = node.node if (ctx.alpha or ctx.vertex) else None
            if node is None:
                where = f" at '{path}'" if path else ""
                raise WireError(1007, f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.')
            if item is None:
                continue  # protobuf JSON treats null as "not set"
            out[name] = node.check(item, f"{path}.{snake(name)}" if path else snake(name), ctx)
        return out


# ---------------------------------------------------------------------------------------------- schema
BLOB = Msg({"mimeType": STR, "data": BYTES, "displayName": STR})
PART = Msg(
    {
        "text": STR,
        "inlineData": BLOB,
        "fileData": Msg({"mimeType": STR, "fileUri": STR, "displayName": STR}),
        "thought": BOOL,
        "thoughtSignature": STR,
        "functionCall": Msg({"id": STR, "name": STR, "args": ANY}),
        "functionResponse": ANY,
        "executableCode": ANY,
        "codeExecutionResult": ANY,
        "videoMetadata": ANY,
        "mediaResolution": ANY,
    }
)
CONTENT = Msg({"role": STR, "parts": ListOf(PART)})
FUNCTION_DECLARATION = Msg(
    {
        "name": STR,
        "description": STR,
        "parameters": ANY,
        "parametersJsonSchema": ANY,
        "response": ANY,
        "responseJsonSchema": ANY,
        "behavior": Enum(
            "google.ai.generativelanguage.v1beta.FunctionDeclaration.Behavior",
            "UNSPECIFIED",
            "BLOCKING",
            "NON_BLOCKING",
        ),
    }
)
TOOL = Msg(
    {
        "functionDeclarations": ListOf(FUNCTION_DECLARATION),
        "googleSearch": ANY,
        "googleSearchRetrieval": ANY,
        "codeExecution": ANY,
        "urlContext": ANY,
        "computerUse": ANY,
        "fileSearch": ANY,
        "googleMaps": ANY,
    }
)
AUTOMATIC_ACTIVITY_DETECTION = Msg(
    {
        "disabled": BOOL,
        "startOfSpeechSensitivity": Enum(
            "StartSensitivity", "START_SENSITIVITY_UNSPECIFIED", "START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"
        ),
        "endOfSpeechSensitivity": Enum(
            "EndSensitivity", "END_SENSITIVITY_UNSPECIFIED", "END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"
        ),
        "prefixPaddingMs": INT,
        "silenceDurationMs": INT,
    }
)
REALTIME_INPUT_CONFIG = Msg(
    {
        "automaticActivityDetection": AUTOMATIC_ACTIVITY_DETECTION,
        "activityHandling": Enum(
            "ActivityHandling", "ACTIVITY_HANDLING_UNSPECIFIED", "START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"
        ),
        "turnCoverage": Enum(
            "TurnCoverage",
            "TURN_COVERAGE_UNSPECIFIED",
            "TURN_INCLUDES_ONLY_ACTIVITY",
            "TURN_INCLUDES_ALL_INPUT",
            "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
        ),
    }
)
SPEECH_CONFIG = Msg(
    {
        "voiceConfig": Msg({"prebuiltVoiceConfig": Msg({"voiceName": STR}), "replicatedVoiceConfig": ANY}),
        "languageCode": STR,
        "multiSpeakerVoiceConfig": ANY,
    }
)
GENERATION_CONFIG = Msg(
    {
        "responseModalities": ListOf(Enum("Modality", "MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO")),
        "speechConfig": SPEECH_CONFIG,
        "mediaResolution": Enum(
            "MediaResolution",
            "MEDIA_RESOLUTION_UNSPECIFIED",
            "MEDIA_RESOLUTION_LOW",
            "MEDIA_RESOLUTION_MEDIUM",
            "MEDIA_RESOLUTION_HIGH",
        ),
        "thinkingConfig": Msg(
            {
                "thinkingBudget": INT,
                "includeThoughts": BOOL,
                "thinkingLevel": Enum(
                    "ThinkingLevel", "THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"
                ),
            }
        ),
        "enableAffectiveDialog": AlphaOnly(BOOL),
        "temperature": NUM,
        "topP": NUM,
        "topK": NUM,
        "maxOutputTokens": INT,
        "candidateCount": INT,
        "presencePenalty": NUM,
        "frequencyPenalty": NUM,
        "seed": INT,
        "translationConfig": ANY,
        "responseLogprobs": Unsupported(),
        "responseMimeType": Unsupported(),
        "logprobs": Unsupported(),
        "responseSchema": Unsupported(),
        "responseJsonSchema": Unsupported(),
        "stopSequences": Unsupported(),
        "routingConfig": Unsupported(),
        "audioTimestamp": Unsupported(),
    }
)
TRANSCRIPTION_CONFIG = Msg(
    {
        "languageCodes": ListOf(STR),
        "customVocabulary": ListOf(STR),
        "mode": Enum("TranscriptionMode", "MODE_UNSPECIFIED", "VERBATIM", "SMART"),
        "sourceText": STR,
        "wordTimestamp": BOOL,
        "diarization": ANY,
    }
)
SETUP = Msg(
    {
        "model": STR,
        "generationConfig": GENERATION_CONFIG,
        "systemInstruction": CONTENT,
        "tools": ListOf(TOOL),
        "realtimeInputConfig": REALTIME_INPUT_CONFIG,
        "sessionResumption": Msg({"handle": STR, "transparent": VertexOnly(BOOL)}),
        "contextWindowCompression": Msg({"triggerTokens": INT64, "slidingWindow": Msg({"targetTokens": INT64})}),
        "inputAudioTranscription": TRANSCRIPTION_CONFIG,
        "outputAudioTranscription": TRANSCRIPTION_CONFIG,
        "proactivity": AlphaOnly(Msg({"proactiveAudio": BOOL, "proactiveVideo": BOOL})),
        "labels": ANY,
        "historyConfig": Msg({"initialHistoryInClientContent": BOOL}),
        "safetySettings": ListOf(ANY),
        "explicitVadSignal": VertexOnly(BOOL),
        "avatarConfig": ANY,
    }
)
CLIENT_CONTENT = Msg({"turns": ListOf(CONTENT), "turnComplete": BOOL})
REALTIME_INPUT = Msg(
    {
        "mediaChunks": ListOf(BLOB),
        "audio": BLOB,
        "audioStreamEnd": BOOL,
        "video": BLOB,
        "text": STR,
        "activityStart": Msg({}),
        "activityEnd": Msg({}),
    }
)
FUNCTION_RESPONSE = Msg(
    {
        "id": STR,
        "name": STR,
        "response": ANY,
        "willContinue": BOOL,
        "scheduling": Enum("Scheduling", "SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"),
        "parts": ANY,
    }
)
TOOL_RESPONSE = Msg({"functionResponses": ListOf(FUNCTION_RESPONSE)})
CONTEXT_UPDATE = Msg({"systemInstruction": CONTENT, "tools": Msg({"tools": ListOf(TOOL)})})

CLIENT_MESSAGE: dict[str, Node] = {
    "setup": SETUP,
    "clientContent": CLIENT_CONTENT,
    "realtimeInput": REALTIME_INPUT,
    "toolResponse": TOOL_RESPONSE,
    "contextUpdate": CONTEXT_UPDATE,
}


def normalize(message: Any, ctx: Context) -> tuple[str, dict[str, Any]]:
    """Check one client message; return its (camelCase) top-level key and normalized body.

    :raises WireError: for anything the server would refuse (1007 with the server's wording).
    """
    if not isinstance(message, Mapping) or not message:
        raise WireError(1007, INVALID_ARGUMENT)
    if len(message) != 1:
        # a oneof: two of them in one message is an error, as protobuf JSON parsing reports it
        names = ", ".join(sorted(camel(str(k)) for k in message))
        raise WireError(1007, f"Invalid JSON payload received. Multiple fields of oneof message_type are set: {names}")
    ((key, body),) = message.items()
    name = camel(str(key))
    node = CLIENT_MESSAGE.get(name)
    if node is None:
        raise WireError(1007, f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
    return name, node.check(body if body is not None else {}, snake(name), ctx)


def fast_audio(message: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (mime type, base64 data) of a plain audio message, skipping the generic walk (hot path)."""
    if len(message) != 1:
        return None
    body = message.get("realtimeInput")
    if body is None:
        body = message.get("realtime_input")
    if not isinstance(body, Mapping) or len(body) != 1:
        return None
    blob = body.get("audio")
    if not isinstance(blob, Mapping) or len(blob) != 2:
        return None
    mime = blob.get("mimeType", blob.get("mime_type"))
    data = blob.get("data")
    if isinstance(mime, str) and isinstance(data, str):
        return mime, data
    return None
