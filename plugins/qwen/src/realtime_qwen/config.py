"""The configuration of a Qwen-Omni realtime session, validated against the model before anything is sent.

:class:`QwenSessionConfig` holds what goes into ``session.update`` (protocol notes §2). It is checked when the
session is built, so an option the model does not have (semantic VAD on qwen3-omni-flash, ``smooth_output``
on qwen3.5, a voice turbo lacks...) fails with a :class:`~realtime_core.ConfigurationError` naming it instead
of an ``error`` event later. The wire shape is made by :class:`~realtime_qwen.dialect.DashScopeDialect`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from realtime_core import ConfigurationError

from .models import DEFAULT_MODEL, ModelProfile, resolve_model

__all__ = ["INPUT_SAMPLE_RATE", "OUTPUT_SAMPLE_RATE", "QwenSessionConfig", "SemanticVad", "ServerVad", "TurnDetection"]

INPUT_SAMPLE_RATE = 16000
"""Input audio is PCM16 mono at 16 kHz only."""
OUTPUT_SAMPLE_RATE = 24000
"""Output audio is PCM16 mono at 24 kHz whatever its format label (``pcm16``, ``pcm24``, ``pcm``)."""


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    return float(value)


def _int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ConfigurationError(f"{name} must be an int {bound}, got {value!r}")
    return value


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}")
    return value


@dataclass(frozen=True)
class ServerVad:
    """Server-side voice activity detection (``turn_detection.type = "server_vad"``).

    :param threshold: -1.0 to 1.0; lower is more sensitive (noisy rooms want it higher).
    :param prefix_padding_ms: audio kept before detected speech.
    :param silence_duration_ms: 200-6000; silence that ends a turn.
    :param create_response: reply automatically when a turn ends.
    :param interrupt_response: stop the reply when the user starts talking (barge-in).
    :param idle_timeout_ms: qwen3.5 and qwen3.8 only, 5000-30000: the model speaks up after this much user silence.
    """

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 800
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None

    def __post_init__(self) -> None:
        if not -1.0 <= _number("ServerVad.threshold", self.threshold) <= 1.0:
            raise ConfigurationError(f"ServerVad.threshold must be between -1.0 and 1.0, got {self.threshold!r}")
        _int("ServerVad.prefix_padding_ms", self.prefix_padding_ms, 0, 10_000)
        _int("ServerVad.silence_duration_ms", self.silence_duration_ms, 200, 6000)
        _bool("ServerVad.create_response", self.create_response)
        _bool("ServerVad.interrupt_response", self.interrupt_response)
        if self.idle_timeout_ms is not None:
            _int("ServerVad.idle_timeout_ms", self.idle_timeout_ms, 5000, 30_000)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": "server_vad",
            "threshold": self.threshold,
            "prefix_padding_ms": self.prefix_padding_ms,
            "silence_duration_ms": self.silence_duration_ms,
            "create_response": self.create_response,
            "interrupt_response": self.interrupt_response,
        }
        if self.idle_timeout_ms is not None:
            wire["idle_timeout_ms"] = self.idle_timeout_ms
        return wire


@dataclass(frozen=True)
class SemanticVad:
    """Semantic turn detection (qwen3.5 and qwen3.8): the model decides when the user is done and ignores
    back-channels such as "mm-hm"."""

    create_response: bool = True
    interrupt_response: bool = True

    def __post_init__(self) -> None:
        _bool("SemanticVad.create_response", self.create_response)
        _bool("SemanticVad.interrupt_response", self.interrupt_response)

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "semantic_vad",
            "create_response": self.create_response,
            "interrupt_response": self.interrupt_response,
        }


TurnDetection = ServerVad | SemanticVad
_SAMPLING = ("temperature", "top_p", "top_k", "max_tokens", "repetition_penalty", "presence_penalty", "seed")


@dataclass(frozen=True)
class QwenSessionConfig:
    """Everything the session sends in ``session.update``; validated on construction against the model.

    See :class:`~realtime_qwen.QwenRealtime` for the meaning of each field. ``voice=None`` picks the model's
    default voice; ``smooth_output=None`` leaves it out (``"auto"`` sends ``null``: the model decides).
    ``extra`` is merged into the wire session last, as is.
    """

    model: str = DEFAULT_MODEL
    voice: str | None = None
    modality: Literal["audio", "text"] = "audio"
    instructions: str | None = None
    turn_detection: TurnDetection | None = field(default_factory=ServerVad)
    input_transcription: bool = True
    enable_search: bool = False
    search_sources: bool = False
    smooth_output: bool | Literal["auto"] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict[str, Any])

    def __post_init__(self) -> None:
        profile = resolve_model(self.model)
        object.__setattr__(self, "voice", profile.check_voice(self.voice or profile.default_voice))
        if self.modality not in ("audio", "text"):
            raise ConfigurationError(f"modality must be 'audio' or 'text', got {self.modality!r}")
        if self.instructions is not None and not isinstance(self.instructions, str):
            raise ConfigurationError("instructions must be a string")
        td = self.turn_detection
        if td is not None and not isinstance(td, (ServerVad, SemanticVad)):
            raise ConfigurationError(
                "turn_detection must be ServerVad(...), SemanticVad(...), 'server_vad', 'semantic_vad' or None "
                f"(manual turns), got {type(td).__name__}"
            )
        if isinstance(td, SemanticVad) and not profile.semantic_vad:
            raise ConfigurationError(f"semantic_vad is only available on qwen3.5 and qwen3.8 models, not {self.model}")
        if isinstance(td, ServerVad) and td.idle_timeout_ms is not None and not profile.idle_timeout:
            raise ConfigurationError(f"ServerVad.idle_timeout_ms is only available on qwen3.5 and qwen3.8 models, not {self.model}")
        _bool("input_transcription", self.input_transcription)
        if _bool("enable_search", self.enable_search) and not profile.search:
            raise ConfigurationError(f"enable_search is only available on qwen3.5 and qwen3.8 models, not {self.model}")
        _bool("search_sources", self.search_sources)
        if self.smooth_output is not None:
            if self.smooth_output not in (True, False, "auto"):
                raise ConfigurationError(f"smooth_output must be True, False, 'auto' or None, got {self.smooth_output!r}")
            if not profile.smooth_output:
                raise ConfigurationError(f"smooth_output is only available on qwen3-omni-flash, not {self.model}")
        self._check_sampling(profile)
        if not isinstance(self.extra, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError("session_extra must be a mapping")

    def _check_sampling(self, profile: ModelProfile) -> None:
        given = [name for name in _SAMPLING if getattr(self, name) is not None]
        if given and not profile.sampling:
            raise ConfigurationError(f"{self.model} has fixed sampling parameters; remove {', '.join(given)}")
        if self.temperature is not None and not 0 <= _number("temperature", self.temperature) < 2:
            raise ConfigurationError(f"temperature must be in [0, 2), got {self.temperature!r}")
        if self.top_p is not None and not 0 < _number("top_p", self.top_p) <= 1:
            raise ConfigurationError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.top_k is not None:
            _int("top_k", self.top_k, 0)
        if self.max_tokens is not None:
            _int("max_tokens", self.max_tokens, 1, profile.max_output_tokens)
        if self.repetition_penalty is not None and not _number("repetition_penalty", self.repetition_penalty) > 0:
            raise ConfigurationError(f"repetition_penalty must be > 0, got {self.repetition_penalty!r}")
        if self.presence_penalty is not None and not -2 <= _number("presence_penalty", self.presence_penalty) <= 2:
            raise ConfigurationError(f"presence_penalty must be in [-2, 2], got {self.presence_penalty!r}")
        if self.seed is not None:
            _int("seed", self.seed, 0, 2**31 - 1)

    @property
    def profile(self) -> ModelProfile:
        return resolve_model(self.model)

    @property
    def manual_turns(self) -> bool:
        """No server turn detection: the app commits turns (``end_user_turn``)."""
        return self.turn_detection is None

    @property
    def interrupt_response(self) -> bool:
        return self.turn_detection is not None and self.turn_detection.interrupt_response

    @property
    def create_response(self) -> bool:
        return self.turn_detection is not None and self.turn_detection.create_response

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters that were set (sent as given; unset ones keep the server's defaults)."""
        return {name: getattr(self, name) for name in _SAMPLING if getattr(self, name) is not None}
