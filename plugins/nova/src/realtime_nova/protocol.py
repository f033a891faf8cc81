"""Nova Sonic's event protocol: the JSON the client sends, and helpers to read what the model sends.

Every input event is ``{"event": {<name>: {...}}}``, serialised to UTF-8 bytes that the AWS SDK then
wraps in an event-stream ``chunk``. Audio is the hot path (about 50 events a second per session), so
:class:`AudioEventEncoder` splices base64 into precomputed bytes instead of building and dumping a dict.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INTERRUPTED_MARKER",
    "AudioEventEncoder",
    "audio_content_start",
    "content_end",
    "dumps",
    "UsageDelta",
    "is_interrupted_marker",
    "join_piece",
    "joined",
    "parse_generation_stage",
    "parse_tool_arguments",
    "prompt_end",
    "prompt_start",
    "session_end",
    "session_start",
    "text_block",
    "tool_result_block",
    "usage_delta",
]

INTERRUPTED_MARKER = '{ "interrupted" : true }'
"""The ASSISTANT textOutput Nova sends when the user barged in (compared loosely, see
:func:`is_interrupted_marker`)."""

TEXT_PLAIN = {"mediaType": "text/plain"}


def dumps(event: dict[str, Any]) -> bytes:
    """Serialise ``{"event": event}`` compactly."""
    return json.dumps({"event": event}, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------------------------------- session
def session_start(
    *,
    max_tokens: int,
    top_p: float,
    temperature: float,
    endpointing_sensitivity: str | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "inferenceConfiguration": {"maxTokens": max_tokens, "topP": top_p, "temperature": temperature}
    }
    if endpointing_sensitivity is not None:
        # Nova 2 rejects the flat field: it must sit under turnDetectionConfiguration.
        body["turnDetectionConfiguration"] = {"endpointingSensitivity": endpointing_sensitivity}
    return dumps({"sessionStart": body})


def prompt_start(
    *,
    prompt_name: str,
    voice: str,
    output_sample_rate: int,
    tools: Iterable[tuple[str, str, dict[str, Any]]] = (),
    tool_choice: dict[str, Any] | None = None,
) -> bytes:
    """``tools`` are ``(name, description, json_schema)``; Nova wants each schema as a JSON *string*."""
    body: dict[str, Any] = {
        "promptName": prompt_name,
        "textOutputConfiguration": dict(TEXT_PLAIN),
        "audioOutputConfiguration": {
            "mediaType": "audio/lpcm",
            "sampleRateHertz": output_sample_rate,
            "sampleSizeBits": 16,
            "channelCount": 1,
            "voiceId": voice,
            "encoding": "base64",
            "audioType": "SPEECH",
        },
    }
    specs = [
        {"toolSpec": {"name": name, "description": description, "inputSchema": {"json": json.dumps(schema)}}}
        for name, description, schema in tools
    ]
    if specs:
        body["toolUseOutputConfiguration"] = {"mediaType": "application/json"}
        config: dict[str, Any] = {"tools": specs}
        if tool_choice is not None:
            config["toolChoice"] = tool_choice
        body["toolConfiguration"] = config
    return dumps({"promptStart": body})


def prompt_end(prompt_name: str) -> bytes:
    return dumps({"promptEnd": {"promptName": prompt_name}})


def session_end() -> bytes:
    return dumps({"sessionEnd": {}})


def content_end(prompt_name: str, content_name: str) -> bytes:
    return dumps({"contentEnd": {"promptName": prompt_name, "contentName": content_name}})


# ---------------------------------------------------------------------------------------- content blocks
def text_block(prompt_name: str, content_name: str, role: str, text: str, *, interactive: bool) -> list[bytes]:
    """A TEXT content block: the system prompt, a history message or (interactive) user text."""
    return [
        dumps(
            {
                "contentStart": {
                    "promptName": prompt_name,
                    "contentName": content_name,
                    "type": "TEXT",
                    "interactive": interactive,
                    "role": role,
                    "textInputConfiguration": dict(TEXT_PLAIN),
                }
            }
        ),
        dumps({"textInput": {"promptName": prompt_name, "contentName": content_name, "content": text}}),
        content_end(prompt_name, content_name),
    ]


def tool_result_block(prompt_name: str, content_name: str, tool_use_id: str, result_json: str) -> list[bytes]:
    return [
        dumps(
            {
                "contentStart": {
                    "promptName": prompt_name,
                    "contentName": content_name,
                    "interactive": False,
                    "type": "TOOL",
                    "role": "TOOL",
                    "toolResultInputConfiguration": {
                        "toolUseId": tool_use_id,
                        "type": "TEXT",
                        "textInputConfiguration": dict(TEXT_PLAIN),
                    },
                }
            }
        ),
        dumps({"toolResult": {"promptName": prompt_name, "contentName": content_name, "content": result_json}}),
        content_end(prompt_name, content_name),
    ]


def audio_content_start(prompt_name: str, content_name: str, sample_rate: int) -> bytes:
    """Opens the one interactive USER AUDIO block that carries the microphone for the whole stream."""
    return dumps(
        {
            "contentStart": {
                "promptName": prompt_name,
                "contentName": content_name,
                "type": "AUDIO",
                "interactive": True,
                "role": "USER",
                "audioInputConfiguration": {
                    "mediaType": "audio/lpcm",
                    "sampleRateHertz": sample_rate,
                    "sampleSizeBits": 16,
                    "channelCount": 1,
                    "audioType": "SPEECH",
                    "encoding": "base64",
                },
            }
        }
    )


class AudioEventEncoder:
    """Builds ``audioInput`` events for one audio block without a dict or a JSON dump per chunk.

    The names are client-chosen ids (uuids here), so they need no JSON escaping beyond what
    :func:`json.dumps` gives the fixed parts once.
    """

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, prompt_name: str, content_name: str) -> None:
        head = json.dumps({"promptName": prompt_name, "contentName": content_name}, separators=(",", ":"))
        self._prefix = ('{"event":{"audioInput":' + head[:-1] + ',"content":"').encode()
        self._suffix = b'"}}}'

    def encode(self, pcm: Any) -> bytes:
        """``pcm`` is any buffer of little-endian int16 samples (a numpy array is used without a copy)."""
        return self._prefix + base64.b64encode(pcm) + self._suffix


# ---------------------------------------------------------------------------------------- output helpers
def parse_generation_stage(additional: Any) -> str | None:
    """``additionalModelFields`` is a JSON *string* such as ``{"generationStage":"SPECULATIVE"}``."""
    if isinstance(additional, str) and additional:
        try:
            additional = json.loads(additional)
        except ValueError:
            return None
    if isinstance(additional, dict):
        stage = additional.get("generationStage")  # pyright: ignore[reportUnknownVariableType]
        return stage if isinstance(stage, str) else None
    return None


def is_interrupted_marker(content: str) -> bool:
    """True for the barge-in marker, whatever its spacing."""
    if "interrupted" not in content or not content.lstrip().startswith("{"):
        return False
    try:
        value = json.loads(content)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("interrupted") is True


def parse_tool_arguments(content: Any) -> dict[str, Any] | str:
    """Tool arguments arrive as a JSON string, sometimes encoded twice; return a dict when possible,
    else the raw text (core reports arguments it cannot parse)."""
    value: Any = content
    for _ in range(2):
        if not isinstance(value, str):
            break
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except ValueError:
            return content if isinstance(content, str) else str(content)
    if isinstance(value, dict):
        return value  # pyright: ignore[reportUnknownVariableType]
    return content if isinstance(content, str) else json.dumps(content)


def join_piece(pieces: list[str], piece: str) -> str:
    """``piece`` as it continues ``pieces`` (a space between sentences that carry none)."""
    if pieces and piece and not pieces[-1][-1:].isspace() and not piece[:1].isspace():
        return " " + piece
    return piece


def joined(pieces: list[str]) -> str:
    """Sentences (or transcript pieces) as one text."""
    out: list[str] = []
    for piece in pieces:
        out.append(join_piece(out, piece))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class UsageDelta:
    """One ``usageEvent`` as a delta: ``counts`` is (input speech, input text, output speech, output text)
    tokens; ``totals`` the cumulative counts it carried when it had no delta (None otherwise)."""

    counts: tuple[int, int, int, int]
    totals: tuple[int, int, int, int] | None


def _count(side: Any, key: str) -> int:
    value = side.get(key) if isinstance(side, dict) else None  # pyright: ignore[reportUnknownMemberType]
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else 0


def _four(shape: Any) -> tuple[int, int, int, int]:
    inputs = shape.get("input") if isinstance(shape, dict) else None  # pyright: ignore[reportUnknownMemberType]
    outputs = shape.get("output") if isinstance(shape, dict) else None  # pyright: ignore[reportUnknownMemberType]
    return (_count(inputs, "speechTokens"), _count(inputs, "textTokens"),
            _count(outputs, "speechTokens"), _count(outputs, "textTokens"))  # fmt: skip


def usage_delta(body: dict[str, Any], previous_totals: tuple[int, int, int, int] | None) -> UsageDelta:
    """Read a ``usageEvent``: its ``details.delta`` (what to meter: totals restart on every stream), or,
    without one, the difference of its cumulative ``details.total`` from ``previous_totals``."""
    details = body.get("details")
    if not isinstance(details, dict):
        return UsageDelta((0, 0, 0, 0), None)
    delta = details.get("delta")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if isinstance(delta, dict):
        return UsageDelta(_four(delta), None)
    now = _four(details.get("total"))  # pyright: ignore[reportUnknownMemberType]
    before = previous_totals or (0, 0, 0, 0)
    a, b, c, d = (max(0, x - y) for x, y in zip(now, before, strict=True))
    return UsageDelta((a, b, c, d), now)
