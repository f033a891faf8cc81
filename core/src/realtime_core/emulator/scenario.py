"""Scenarios: a protocol-neutral script for provider emulators.

A :class:`Scenario` says how the fake provider behaves: which turns it plays (after how much user speech,
or on which text), what it answers (transcripts, text, audio, tool calls), and which faults it injects
(close the connection, send an error, delay, send a malformed frame, expire the session). Every provider
emulator translates the same Scenario into its own wire protocol, so an app or a plugin can be tested
against any provider with one script. Write scenarios as JSON or YAML; :func:`scenario_json_schema`
publishes the schema (``realtime emulate --schema``).

Example (YAML)::

    name: weather
    turns:
      - on: speech
        user_transcript: What's the weather in Paris?
        reply:
          tool_calls: [{name: get_weather, arguments: {city: Paris}}]
        after_tools:
          text: It is sunny in Paris.
    faults:
      - kind: close
        at_turn: 1
        phase: mid_reply
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigurationError
from .latency import LatencyPreset, LatencyProfile

__all__ = [
    "Fault",
    "FaultKind",
    "FaultPhase",
    "MalformedVariant",
    "Reply",
    "Scenario",
    "ToolCallSpec",
    "Turn",
    "VadSettings",
    "load_scenario",
    "scenario_json_schema",
]

FaultKind = Literal["close", "error", "malformed", "delay", "stall", "expire", "go_away"]
"""What a fault does (see :data:`realtime_core.emulator.FAULT_KINDS`)."""
FaultPhase = Literal["before_reply", "mid_reply", "awaiting_tools", "after_reply"]
"""Where in a turn an ``at_turn`` fault fires (see :data:`realtime_core.emulator.FAULT_PHASES`)."""
MalformedVariant = Literal["truncated", "not_json", "not_object", "deep", "huge", "wrong_types", "binary"]
"""The hostile frame a ``malformed`` fault sends (see :data:`realtime_core.emulator.MALFORMED_VARIANTS`)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolCallSpec(_Model):
    """A function call the fake model makes."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    call_id: str | None = Field(default=None, description="Fixed call id; generated when omitted.")


class Reply(_Model):
    """What the fake model answers in one response."""

    text: str | None = Field(default=
        None, description="Agent transcript (audio replies) or response text (text replies). None: derived."
    )
    audio: Literal["tone", "echo", "silence", "none"] = Field(default=
        "tone", description="tone: a sine; echo: the user's own speech; silence; none: no audio at all."
    )
    audio_ms: float | None = Field(default=None, ge=0, description="Audio length; default from the text (or the echo).")
    chunk_ms: float = Field(default=100, gt=0, description="Audio per delta message.")
    chunk_interval_ms: float = Field(default=0, ge=0, description="Pause between deltas (0: as fast as possible).")
    first_chunk_delay_ms: float = Field(default=0, ge=0, description="Pause before the first delta (latency).")
    tool_calls: list[ToolCallSpec] = Field(default_factory=list[ToolCallSpec])


class Turn(_Model):
    """One exchange: a trigger and the reply."""

    on: Literal["speech", "text", "any"] = Field(default="any", description="What starts the turn.")
    min_speech_ms: float = Field(default=0, ge=0, description="Speech shorter than this does not start the turn.")
    text_contains: str | None = Field(default=None, description="For text triggers: required substring (case-insensitive).")
    user_transcript: str | None = Field(default=None, description="What the emulator 'heard'; default describes the input.")
    reply: Reply = Field(default_factory=Reply)
    after_tools: Reply | None = Field(default=None, description="Reply once the client has sent the tool results.")


class Fault(_Model):
    """A failure to inject. Trigger with ``after_messages``, ``at_turn`` (+ ``phase``) or ``after_ms``."""

    kind: FaultKind
    after_messages: int | None = Field(default=None, ge=1, description="When the k-th client message arrives.")
    at_turn: int | None = Field(default=None, ge=0, description="During turn n (0-based).")
    phase: FaultPhase = "before_reply"
    after_ms: float | None = Field(default=None, ge=0, description="This long after the connection opened.")
    code: int | str | None = Field(default=None, description="Close code (close) or error code (error).")
    message: str | None = None
    delay_ms: float = Field(
        default=0, ge=0, description="delay: hold the server's output this long; stall: go silent this long (0: for good)."
    )
    variant: MalformedVariant = Field(default="truncated", description="For kind=malformed: which hostile frame.")
    size: int | None = Field(
        default=None, ge=1, description="For malformed huge: frame bytes (8 MiB); deep: nesting depth (100000)."
    )
    once: bool = Field(default=True, description="Fire once per emulator (not per connection).")


class VadSettings(_Model):
    """The emulator's energy-based voice activity detector."""

    threshold: float = Field(default=0.02, gt=0, lt=1, description="RMS level (0-1) that counts as speech.")
    silence_ms: float = Field(default=500, gt=0, description="Quiet needed to end a turn (providers may override).")
    prefix_ms: float = Field(default=300, ge=0, description="Audio kept before the detected start.")
    min_speech_ms: float = Field(default=100, ge=0, description="Shorter bursts are ignored.")


class Scenario(_Model):
    """A scripted provider. With no turns it echoes: it replies to each utterance with the user's own audio
    and a transcript saying how long it was."""

    name: str = "echo"
    description: str = ""
    turns: list[Turn] = Field(default_factory=list[Turn])
    faults: list[Fault] = Field(default_factory=list[Fault])
    when_exhausted: Literal["echo", "repeat_last", "silent"] = Field(default=
        "echo", description="Behaviour once every turn was played."
    )
    vad: VadSettings = Field(default_factory=VadSettings)
    latency: LatencyProfile | LatencyPreset | None = Field(
        default=None, description="How long replies take (a preset or a profile); None: the emulator's default."
    )

    @classmethod
    def echo(cls) -> Scenario:
        return cls()


def load_scenario(path: str | Path) -> Scenario:
    """Read a Scenario from a ``.json``, ``.yaml`` or ``.yml`` file.

    :raises ConfigurationError: naming the file and the first problems found.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read scenario file {p}: {exc.strerror}") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            data = _load_yaml(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise ConfigurationError(f"{p} is not valid {p.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise ConfigurationError(f"{p} is not a valid scenario: {problems}") from None


def _load_yaml(text: str) -> Any:
    """YAML with YAML 1.2 booleans: ``on: speech`` must stay the key "on", not become ``True``."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(  # pyright: ignore[reportUnknownMemberType]
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return yaml.load(text, Loader=Loader)  # noqa: S506  (a SafeLoader subclass)


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`Scenario` files."""
    return Scenario.model_json_schema()
