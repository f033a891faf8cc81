"""The session configuration of an OpenAI Realtime session, validated before anything is sent.

:class:`SessionConfig` holds what goes into ``session.update`` (model, voice, modality, turn detection,
input transcription, tools...). It is validated when the session is built, so a typo fails with a
:class:`~realtime_core.ConfigurationError` naming the option instead of an ``error`` event later. The
wire shape is produced by a :class:`~realtime_openai.dialect.Dialect` (GA today).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from realtime_core import ConfigurationError

from .models import DEFAULT_MODEL, DEFAULT_TRANSCRIPTION_MODEL, MODELS

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "MODELS",
    "REASONING_EFFORTS",
    "SAMPLE_RATE",
    "VOICES",
    "InputTranscription",
    "SemanticVad",
    "ServerVad",
    "SessionConfig",
    "TurnDetection",
    "check_session_options",
    "turn_detection_of",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SAMPLE_RATE = 24000
"""``audio/pcm`` is PCM16 mono at 24 kHz in both directions."""
REASONING_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
"""``session.reasoning.effort`` values (reasoning models only)."""
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}")


def _check_ms(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name} must be a non-negative int (milliseconds), got {value!r}")


@dataclass(frozen=True)
class ServerVad:
    """Server-side voice activity detection (``turn_detection.type = "server_vad"``).

    :param threshold: 0-1; higher needs louder speech.
    :param prefix_padding_ms: audio kept before detected speech.
    :param silence_duration_ms: silence that ends a turn.
    :param create_response: reply automatically when a turn ends.
    :param interrupt_response: cut the model off when the user starts talking (barge-in).
    :param idle_timeout_ms: have the model speak up after this much user silence (None: never).
    """

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None

    def __post_init__(self) -> None:
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, (int, float))
            or not 0 <= self.threshold <= 1
        ):
            raise ConfigurationError(f"ServerVad.threshold must be between 0 and 1, got {self.threshold!r}")
        _check_ms("ServerVad.prefix_padding_ms", self.prefix_padding_ms)
        _check_ms("ServerVad.silence_duration_ms", self.silence_duration_ms)
        _check_bool("ServerVad.create_response", self.create_response)
        _check_bool("ServerVad.interrupt_response", self.interrupt_response)
        if self.idle_timeout_ms is not None:
            _check_ms("ServerVad.idle_timeout_ms", self.idle_timeout_ms)

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "server_vad",
            "threshold": self.threshold,
            "prefix_padding_ms": self.prefix_padding_ms,
            "silence_duration_ms": self.silence_duration_ms,
            "create_response": self.create_response,
            "interrupt_response": self.interrupt_response,
            "idle_timeout_ms": self.idle_timeout_ms,
        }


@dataclass(frozen=True)
class SemanticVad:
    """Semantic turn detection (``turn_detection.type = "semantic_vad"``): the model decides when the
    user is done. ``eagerness`` is ``low``, ``medium``, ``high`` or ``auto``."""

    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    create_response: bool = True
    interrupt_response: bool = True

    def __post_init__(self) -> None:
        if self.eagerness not in ("low", "medium", "high", "auto"):
            raise ConfigurationError(f"SemanticVad.eagerness must be low, medium, high or auto, got {self.eagerness!r}")
        _check_bool("SemanticVad.create_response", self.create_response)
        _check_bool("SemanticVad.interrupt_response", self.interrupt_response)

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "semantic_vad",
            "eagerness": self.eagerness,
            "create_response": self.create_response,
            "interrupt_response": self.interrupt_response,
        }


TurnDetection = ServerVad | SemanticVad


@dataclass(frozen=True)
class InputTranscription:
    """Transcription of the user's audio (it runs beside the model, asynchronously).

    :param model: ``gpt-transcribe`` (default), ``gpt-realtime-whisper``... (see
        :data:`realtime_openai.TRANSCRIPTION_MODELS`).
    :param language: ISO-639-1 hint such as ``"en"``.
    :param prompt: vocabulary or style hint for the transcriber.
    """

    model: str = DEFAULT_TRANSCRIPTION_MODEL
    language: str | None = None
    prompt: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigurationError(f"InputTranscription.model must be a model name, got {self.model!r}")

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model}
        if self.language:
            out["language"] = self.language
        if self.prompt:
            out["prompt"] = self.prompt
        return out


@dataclass(frozen=True)
class SessionConfig:
    """Everything the session sends in ``session.update``; validated on construction.

    Built by :class:`~realtime_openai.OpenAIRealtime` from its keyword arguments; see there for the
    meaning of each field. ``extra`` is merged into the wire session last (for fields this SDK does not
    model yet); it is sent as is.
    """

    model: str = DEFAULT_MODEL
    voice: str = "marin"
    modality: Literal["audio", "text"] = "audio"
    instructions: str | None = None
    turn_detection: TurnDetection | None = field(default_factory=ServerVad)
    input_transcription: InputTranscription | None = field(default_factory=InputTranscription)
    noise_reduction: Literal["near_field", "far_field"] | None = None
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | Mapping[str, Any] = "auto"
    max_output_tokens: int | Literal["inf"] = "inf"
    speed: float | None = None
    reasoning_effort: str | None = None
    parallel_tool_calls: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict[str, Any])

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigurationError(f"model must be a non-empty string, got {self.model!r}")
        if not isinstance(self.voice, str) or not (self.voice in VOICES or self.voice.startswith("voice_")):
            raise ConfigurationError(
                f"unknown voice {self.voice!r}; use one of {', '.join(VOICES)} or a custom 'voice_...' id"
            )
        if self.modality not in ("audio", "text"):
            raise ConfigurationError(f"modality must be 'audio' or 'text', got {self.modality!r}")
        if self.instructions is not None and not isinstance(self.instructions, str):
            raise ConfigurationError("instructions must be a string")
        if self.turn_detection is not None and not isinstance(self.turn_detection, (ServerVad, SemanticVad)):
            raise ConfigurationError(
                "turn_detection must be ServerVad(...), SemanticVad(...) or None (manual turns), "
                f"got {type(self.turn_detection).__name__}"
            )
        if self.input_transcription is not None and not isinstance(self.input_transcription, InputTranscription):
            raise ConfigurationError("input_transcription must be InputTranscription(...), a model name or None")
        if self.noise_reduction not in (None, "near_field", "far_field"):
            raise ConfigurationError(
                f"noise_reduction must be 'near_field', 'far_field' or None, got {self.noise_reduction!r}"
            )
        if isinstance(self.tool_choice, str):
            if self.tool_choice not in ("auto", "none", "required"):
                raise ConfigurationError(
                    f"tool_choice must be 'auto', 'none', 'required' or a mapping, got {self.tool_choice!r}"
                )
        elif not isinstance(self.tool_choice, Mapping) or "type" not in self.tool_choice:
            raise ConfigurationError("tool_choice mapping must look like {'type': 'function', 'name': ...}")
        mot = self.max_output_tokens
        if mot != "inf" and (isinstance(mot, bool) or not isinstance(mot, int) or not 1 <= mot <= 4096):
            raise ConfigurationError(f"max_output_tokens must be 1-4096 or 'inf', got {mot!r}")
        if self.speed is not None and (
            isinstance(self.speed, bool) or not isinstance(self.speed, (int, float)) or not 0.25 <= self.speed <= 1.5
        ):
            raise ConfigurationError(f"speed must be between 0.25 and 1.5, got {self.speed!r}")
        if self.reasoning_effort is not None and self.reasoning_effort not in REASONING_EFFORTS:
            raise ConfigurationError(
                f"reasoning_effort must be one of {', '.join(REASONING_EFFORTS)} or None, got {self.reasoning_effort!r}"
            )
        if self.parallel_tool_calls is not None and not isinstance(self.parallel_tool_calls, bool):
            raise ConfigurationError(f"parallel_tool_calls must be True, False or None, got {self.parallel_tool_calls!r}")
        if not isinstance(self.extra, Mapping):
            raise ConfigurationError("session_extra must be a mapping")

    @property
    def manual_turns(self) -> bool:
        """No server turn detection: the app commits turns (``end_user_turn``)."""
        return self.turn_detection is None

    @property
    def interrupt_response(self) -> bool:
        return self.turn_detection is not None and self.turn_detection.interrupt_response


def turn_detection_of(value: object) -> TurnDetection | None:
    """The ``turn_detection`` option as an object: ``"server_vad"``/``"semantic_vad"`` become the defaults."""
    if isinstance(value, str):
        choices: dict[str, TurnDetection] = {"server_vad": ServerVad(), "semantic_vad": SemanticVad()}
        if value not in choices:
            raise ConfigurationError(
                "turn_detection must be 'server_vad', 'semantic_vad', ServerVad(...), SemanticVad(...) or None, "
                f"got {value!r}"
            )
        return choices[value]
    return value  # type: ignore[return-value]  # SessionConfig checks the type


def _number(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}")


def check_session_options(
    *,
    transport: object,
    webrtc: object,
    say_mode: object,
    image_detail: object,
    video_max_fps: object,
    min_append_ms: object,
    max_replay_items: object,
    response_timeout: object,
) -> None:
    """Check the session's options that are not part of the server's session object.

    :raises ConfigurationError: naming the option and what it allows.
    """
    from .capabilities import TRANSPORTS, available_transports  # they import this module
    from .webrtc_protocol import WebRtcOptions

    if transport not in TRANSPORTS:
        raise ConfigurationError(f"transport {transport!r} is not available; use one of {', '.join(TRANSPORTS)}")
    if transport not in available_transports():
        raise ConfigurationError(f"transport {transport!r} needs aiortc: pip install 'realtime-openai[webrtc]'")
    if webrtc is not None and not isinstance(webrtc, WebRtcOptions):
        raise ConfigurationError(f"webrtc must be a WebRtcOptions, got {type(webrtc).__name__}")
    if say_mode not in ("off", "instructions"):
        raise ConfigurationError(f"say_mode must be 'off' or 'instructions', got {say_mode!r}")
    if image_detail not in ("auto", "low", "high"):
        raise ConfigurationError(f"image_detail must be auto, low or high, got {image_detail!r}")
    _number("video_max_fps", video_max_fps, 0, 30)
    _number("min_append_ms", min_append_ms, 0, 500)
    if isinstance(max_replay_items, bool) or not isinstance(max_replay_items, int) or max_replay_items < 0:
        raise ConfigurationError(f"max_replay_items must be an int >= 0, got {max_replay_items!r}")
    if response_timeout is not None:
        _number("response_timeout", response_timeout, 0.01, 3600)
