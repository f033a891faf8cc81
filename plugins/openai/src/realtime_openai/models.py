"""The model catalogue: every realtime and input-transcription model this plugin knows, and what each supports.

Sources (facts, as of 2026-12): the openai SDK's types and OpenAPI spec, OpenAI's model pages, and the peers'
defaults (Pipecat and openai-agents-js default to ``gpt-realtime-2.1``); see the project's research notes.

* The **gpt-realtime-2** family (``gpt-realtime-2``, ``gpt-realtime-2.1``, ``gpt-realtime-2.1-mini``) reasons:
  it takes ``session.reasoning.effort`` and ``parallel_tool_calls``; the others refuse both.
* ``gpt-realtime``, ``gpt-realtime-mini`` and their dated snapshots are deprecated: OpenAI shuts them down on
  2027-01-20. They still work until then (a warning is logged).
* A dated snapshot of a known model (``gpt-realtime-2.1-2026-09-01``) has that model's profile.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from realtime_core import ConfigurationError

if TYPE_CHECKING:
    from .config import SessionConfig

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "MODELS",
    "MODEL_PROFILES",
    "TRANSCRIPTION_MODELS",
    "ModelProfile",
    "check_model_options",
    "profile_of",
]

log = logging.getLogger("realtime_openai")


@dataclass(frozen=True)
class ModelProfile:
    """What one realtime model supports.

    :ivar reasoning: takes ``session.reasoning`` and ``parallel_tool_calls``.
    :ivar context_tokens: the context window.
    :ivar shutdown: the date OpenAI shuts the model down (deprecated), or None.
    """

    id: str
    reasoning: bool
    context_tokens: int
    shutdown: str | None = None
    description: str = ""

    @property
    def deprecated(self) -> bool:
        return self.shutdown is not None


_DEPRECATED = "2027-01-20"
MODEL_PROFILES: dict[str, ModelProfile] = {
    p.id: p
    for p in (
        ModelProfile("gpt-realtime-2.1", True, 128_000, description="reasoning; the current flagship"),
        ModelProfile("gpt-realtime-2.1-mini", True, 128_000, description="reasoning, distilled: cheaper, faster"),
        ModelProfile("gpt-realtime-2", True, 128_000, description="the first reasoning realtime model"),
        ModelProfile("gpt-realtime-1.5", False, 32_000, description="non-reasoning"),
        ModelProfile("gpt-realtime-mini-2025-10-06", False, 32_000, description="non-reasoning, small"),
        ModelProfile("gpt-realtime", False, 32_000, _DEPRECATED, "deprecated"),
        ModelProfile("gpt-realtime-2025-08-28", False, 32_000, _DEPRECATED, "deprecated snapshot"),
        ModelProfile("gpt-realtime-mini", False, 32_000, _DEPRECATED, "deprecated"),
        ModelProfile("gpt-realtime-mini-2025-12-15", False, 32_000, _DEPRECATED, "deprecated snapshot"),
    )
}
"""Every known realtime model by id."""
MODELS: tuple[str, ...] = tuple(MODEL_PROFILES)
DEFAULT_MODEL = "gpt-realtime-2.1"

TRANSCRIPTION_MODELS: tuple[str, ...] = (
    "gpt-transcribe",
    "gpt-realtime-whisper",
    "gpt-live-transcribe",
    "gpt-4o-transcribe-diarize",
    "gpt-4o-transcribe",  # shut down 2027-02-26
    "gpt-4o-mini-transcribe",  # shut down 2027-02-26
    "gpt-4o-mini-transcribe-2025-12-15",
    "whisper-1",  # shut down 2027-02-26
)
"""Models for ``audio.input.transcription`` (user transcripts), newest first."""
DEFAULT_TRANSCRIPTION_MODEL = "gpt-transcribe"

_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")


def profile_of(model: str) -> ModelProfile:
    """The profile of ``model`` (a known id, or a dated snapshot of one).

    :raises ConfigurationError: for an unknown model, naming the option and the known ones.
    """
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(f"model must be a non-empty string, got {model!r}", provider="openai")
    found = MODEL_PROFILES.get(model)
    if found is None:
        match = _SNAPSHOT.match(model)
        base = MODEL_PROFILES.get(match.group("base")) if match else None
        if base is None:
            raise ConfigurationError(
                f"unknown model {model!r}; use one of {', '.join(MODELS)} (or a dated snapshot of one)",
                code="invalid_model",
                provider="openai",
            )
        found = ModelProfile(model, base.reasoning, base.context_tokens, base.shutdown, f"snapshot of {base.id}")
    return found


def check_model_options(config: SessionConfig) -> ModelProfile:
    """Check the options that depend on the model (reasoning, parallel tool calls, the transcriber).

    :raises ConfigurationError: naming the option and what the model allows.
    """
    profile = profile_of(config.model)
    if not profile.reasoning:
        for option, value in (("reasoning_effort", config.reasoning_effort), ("parallel_tool_calls", config.parallel_tool_calls)):
            if value is not None:
                reasoning = ", ".join(m.id for m in MODEL_PROFILES.values() if m.reasoning)
                raise ConfigurationError(
                    f"{option} needs a reasoning model ({reasoning}); {config.model} is not one", provider="openai"
                )
    if profile.deprecated:
        log.warning("openai: %s is deprecated; OpenAI shuts it down on %s (use %s)", config.model, profile.shutdown, DEFAULT_MODEL)
    transcription = config.input_transcription
    if transcription is not None and transcription.model not in TRANSCRIPTION_MODELS:
        raise ConfigurationError(
            f"unknown input_transcription model {transcription.model!r}; use one of {', '.join(TRANSCRIPTION_MODELS)}",
            provider="openai",
        )
    return profile
