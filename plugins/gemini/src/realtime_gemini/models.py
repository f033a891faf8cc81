"""The Live model catalogue: which models exist, which one is the default, and what each one supports.

Facts come from Google's model pages and migration guides, the official SDK and the peers' clients
(/work/research/models.md, December 2026). Each model follows one *rule set* (:class:`ModelProfile`);
a model id that is not in the catalogue gets the rule set its name implies (:func:`profile_for`), and the
server stays the judge of whether it exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_VERTEX_MODEL",
    "MODELS",
    "MODEL_PROFILES",
    "ModelProfile",
    "Model",
    "known_models",
    "model_id",
    "profile_for",
]

Family = Literal["2.5", "3.1", "3.8", "3.8-thinking", "transcribe"]
Thinking = Literal["budget", "level", "none", "level_required"]
ToolBehavior = Literal["blocking", "non_blocking"]
Api = Literal["developer", "vertex"]


@dataclass(frozen=True)
class ModelProfile:
    """The rules one family of Live models follows.

    :ivar family: the rule set's name.
    :ivar modalities: the ``responseModalities`` the model answers in.
    :ivar thinking: ``"budget"`` (``thinkingBudget``, 2.5), ``"level"`` (optional ``thinkingLevel``, 3.1),
        ``"none"`` (no ``thinkingConfig`` at all, 3.8) or ``"level_required"`` (extended thinking).
    :ivar thinking_levels: the levels it accepts.
    :ivar affective_dialog: ``enableAffectiveDialog`` is accepted (v1alpha).
    :ivar proactivity: ``"option"`` (``proactiveAudio`` may be set, v1alpha), ``"always"`` (always on;
        ``proactiveAudio: false`` is an error) or ``"none"`` (not accepted).
    :ivar client_content: ``"any"`` (history and turns all session), ``"seed_only"`` (only to seed the
        history before the first model turn) or ``"with_role"`` (all session, each turn with a ``role``).
    :ivar tool_behaviors: the function ``behavior`` values accepted; the first is the model's default.
    :ivar tool_behavior_sent: the ``behavior`` this plugin declares (None: leave it out).
    :ivar interaction_status: one reply may hold several ``turnComplete``; ``interactionStatus: IDLE``
        ends it.
    :ivar transcription_only: the model transcribes the user and never answers.
    :ivar tool_schema: how tool parameters are declared (``parametersJsonSchema`` or the OpenAPI subset).
    """

    family: Family
    modalities: frozenset[Literal["audio", "text"]]
    thinking: Thinking
    thinking_levels: tuple[str, ...] = ()
    affective_dialog: bool = False
    proactivity: Literal["option", "always", "none"] = "none"
    client_content: Literal["any", "seed_only", "with_role"] = "any"
    tool_behaviors: tuple[ToolBehavior, ...] = ("blocking",)
    tool_behavior_sent: ToolBehavior | None = None
    interaction_status: bool = False
    transcription_only: bool = False
    tool_schema: Literal["parameters", "json_schema"] = "json_schema"

    @property
    def tools(self) -> bool:
        return not self.transcription_only

    @property
    def non_blocking_tools(self) -> bool:
        """Tool calls do not stop the model: it keeps talking while they run (the reply goes on)."""
        return (self.tool_behavior_sent or self.tool_behaviors[0]) == "non_blocking"


MODEL_PROFILES: dict[Family, ModelProfile] = {
    "2.5": ModelProfile(
        family="2.5",
        modalities=frozenset({"audio"}),  # native-audio models answer in audio only
        thinking="budget",
        affective_dialog=True,
        proactivity="option",
        client_content="any",
        tool_behaviors=("blocking", "non_blocking"),
        tool_schema="parameters",  # parametersJsonSchema declarations were seen called with empty arguments
    ),
    "3.1": ModelProfile(
        family="3.1",
        modalities=frozenset({"audio", "text"}),
        thinking="level",
        thinking_levels=("minimal", "low", "medium", "high"),
        client_content="seed_only",
        tool_behaviors=("blocking",),
    ),
    "3.8": ModelProfile(
        family="3.8",
        modalities=frozenset({"audio"}),
        thinking="none",  # "thinkingLevel is not supported": interleaved reasoning, no thinkingConfig
        proactivity="always",
        client_content="with_role",
        tool_behaviors=("non_blocking", "blocking"),
        # Declared explicitly (as LiveKit and Pipecat do): BLOCKING keeps core's model of a tool round trip
        # (the reply ends at the call, the answer follows the results).
        tool_behavior_sent="blocking",
    ),
    "3.8-thinking": ModelProfile(
        family="3.8-thinking",
        modalities=frozenset({"audio"}),
        thinking="level_required",
        thinking_levels=("low", "medium", "high"),
        proactivity="always",
        client_content="with_role",
        tool_behaviors=("non_blocking",),  # "Async only": a BLOCKING declaration is refused
        tool_behavior_sent="non_blocking",
        interaction_status=True,
    ),
    "transcribe": ModelProfile(
        family="transcribe",
        modalities=frozenset({"text"}),
        thinking="none",
        client_content="any",
        tool_behaviors=(),
        transcription_only=True,
    ),
}


@dataclass(frozen=True)
class Model:
    """One catalogue entry.

    :ivar status: ``"current"``, ``"preview"`` or ``"legacy"`` (still served, superseded).
    :ivar apis: where it is offered (``"developer"``: the Gemini API, ``"vertex"``: Vertex AI).
    """

    id: str
    family: Family
    status: Literal["current", "preview", "legacy"]
    apis: frozenset[Api]
    note: str

    @property
    def profile(self) -> ModelProfile:
        return MODEL_PROFILES[self.family]


_DEV: frozenset[Api] = frozenset({"developer"})
_VERTEX: frozenset[Api] = frozenset({"vertex"})
_BOTH: frozenset[Api] = frozenset({"developer", "vertex"})

MODELS: tuple[Model, ...] = (
    Model("gemini-3.8-live", "3.8", "current", _BOTH, "Google's default for low-latency voice agents (GA 2026-09)"),
    Model("gemini-3.8-live-extended-thinking", "3.8-thinking", "current", _DEV, "background reasoning, async tools"),
    Model("gemini-3.5-transcribe-live", "transcribe", "current", _DEV, "transcription only"),
    Model("gemini-3.1-flash-live-preview", "3.1", "legacy", _DEV, "superseded by gemini-3.8-live"),
    Model("gemini-2.5-flash-native-audio-preview-12-2025", "2.5", "preview", _DEV, "native audio, v1alpha extras"),
    Model("gemini-2.5-flash-native-audio-preview-09-2025", "2.5", "legacy", _DEV, "older native-audio preview"),
    Model("gemini-live-2.5-flash-native-audio", "2.5", "current", _VERTEX, "native audio on Vertex AI (GA)"),
    Model("gemini-live-2.5-flash-preview-native-audio-09-2025", "2.5", "legacy", _VERTEX, "Vertex preview"),
)
"""Every Live model named by Google or the official SDK; other ids are passed to the server as they are."""

DEFAULT_MODEL = "gemini-3.8-live"
"""Google's recommended Live model ("the default option for most low-latency voice agents"), GA on both
APIs, and the peers' default (Pipecat); gemini-3.1-flash-live-preview is now a legacy preview."""

DEFAULT_VERTEX_MODEL = "gemini-3.8-live"
"""Also GA on Vertex AI."""

_BY_ID = {m.id: m for m in MODELS}
_VERSION = re.compile(r"(\d+)\.(\d+)")


def known_models() -> tuple[str, ...]:
    return tuple(m.id for m in MODELS)


def model_id(model: str) -> str:
    """The bare model id of ``models/x``, ``publishers/google/models/x``, a full Vertex resource name, or
    Pipecat's ``google/x``."""
    return model.rsplit("/", 1)[-1]


def profile_for(model: str) -> ModelProfile:
    """The rule set of ``model``: the catalogue's, else the one its name implies (``-transcribe``,
    ``-extended-thinking``, the version: 3.8 and later, 3.x, 2.x)."""
    name = model_id(model)
    entry = _BY_ID.get(name)
    if entry is not None:
        return entry.profile
    if "transcribe" in name:
        return MODEL_PROFILES["transcribe"]
    match = _VERSION.search(name)
    major, minor = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if (major, minor) >= (3, 8):
        return MODEL_PROFILES["3.8-thinking" if "thinking" in name else "3.8"]
    if major >= 3:
        return MODEL_PROFILES["3.1"]
    return MODEL_PROFILES["2.5"]
