"""Model-dependent server behaviour, and the fields real traffic carries, gathered behind switches.

A :class:`Profile` is how the emulated server behaves for one family of models (``"auto"`` picks it per
connection from the model in ``setup``). :class:`Traffic` holds the fields and orderings the real service
sends that a client must tolerate; its defaults are what the real service does, and each can be turned off
(or changed) so a client is tested against both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ..models import model_id, profile_for

__all__ = ["PROFILES", "Profile", "Traffic", "profile_for_model"]

Usage = Literal["end", "start", "split", "none"]


@dataclass(frozen=True)
class Profile:
    """How the emulated server behaves for one family of models.

    :ivar combine_parts: several fields in one message (an audio part and its transcript); 2.5 sends one
        part per message.
    :ivar client_content: ``"any"``; ``"seed_only"`` (only before the first model turn and only with
        ``historyConfig.initialHistoryInClientContent``, else 1007: 3.1 as first documented);
        ``"with_role"`` (all session, but a turn without ``role`` closes with 1007).
    :ivar usage: ``"end"``: all counts on ``turnComplete`` (2.5); ``"start"``: prompt counts when generation
        starts and ``usageMetadata: {}`` on ``turnComplete`` (3.1, as observed); ``"split"``: prompt counts at
        the start, response counts (``responseTokenCount``, ``responseTokensDetails``, ``thoughtsTokenCount``)
        on ``turnComplete``; ``"none"``.
    :ivar turn_coverage_default: what a user turn includes when the client does not say.
    :ivar tool_behaviors: the function ``behavior`` values accepted; the first is the default.
    :ivar proactivity: ``"option"`` (``proactivity`` accepted, v1alpha), ``"always"`` (accepted, but
        ``proactiveAudio: false`` closes with 1007) or ``"none"`` (1007).
    :ivar affective_dialog: ``enableAffectiveDialog`` accepted (v1alpha).
    :ivar thinking: ``"budget"``, ``"level"`` (optional), ``"none"`` (any ``thinkingConfig`` closes with
        1007) or ``"level_required"`` (a setup without a level closes with 1007).
    :ivar thinking_levels: the levels accepted.
    :ivar modalities: the response modalities accepted.
    :ivar voice_activity: the server sends ``voiceActivity`` start/end messages.
    :ivar interaction_status: replies are staged: ``turnComplete`` with ``interactionStatus: IN_PROGRESS``
        before tool calls, ``IDLE`` at the end (extended thinking).
    :ivar transcription_only: the model only transcribes the user (no model output).
    :ivar interim_transcription: ``interimInputTranscription`` (cumulative) before the final transcript.
    :ivar thinks: the model reasons (``thoughtsTokenCount`` in its usage).
    :ivar json_schema_tool_args: ``"empty"``: a tool declared with ``parametersJsonSchema`` is called with
        no arguments (reported for 2.x Live models); ``"kept"``: it works.
    :ivar reject_additional_properties: ``additionalProperties`` inside ``parameters`` closes with 1007.
    """

    name: str
    combine_parts: bool = True
    client_content: Literal["any", "seed_only", "with_role"] = "any"
    usage: Usage = "split"
    turn_coverage_default: str = "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"
    tool_behaviors: tuple[str, ...] = ("BLOCKING",)
    proactivity: Literal["option", "always", "none"] = "none"
    affective_dialog: bool = False
    thinking: Literal["budget", "level", "none", "level_required"] = "level"
    thinking_levels: tuple[str, ...] = ("MINIMAL", "LOW", "MEDIUM", "HIGH")
    modalities: tuple[str, ...] = ("AUDIO", "TEXT")
    voice_activity: bool = True
    interaction_status: bool = False
    transcription_only: bool = False
    interim_transcription: bool = False
    thinks: bool = True
    json_schema_tool_args: Literal["empty", "kept"] = "kept"
    reject_additional_properties: bool = True

    def with_(self, **changes: object) -> Profile:
        """A copy with some switches changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


PROFILES: dict[str, Profile] = {
    "2.5": Profile(
        name="2.5",
        combine_parts=False,
        usage="end",
        turn_coverage_default="TURN_INCLUDES_ONLY_ACTIVITY",
        tool_behaviors=("BLOCKING", "NON_BLOCKING"),
        proactivity="option",
        affective_dialog=True,
        thinking="budget",
        thinking_levels=(),
        modalities=("AUDIO",),
        voice_activity=False,
        json_schema_tool_args="empty",
        reject_additional_properties=False,
    ),
    "3.1": Profile(name="3.1", client_content="seed_only", usage="start"),
    "3.8": Profile(
        name="3.8",
        client_content="with_role",
        tool_behaviors=("NON_BLOCKING", "BLOCKING"),
        proactivity="always",
        thinking="none",
        thinking_levels=(),
        modalities=("AUDIO",),
    ),
    "3.8-thinking": Profile(
        name="3.8-thinking",
        client_content="with_role",
        tool_behaviors=("NON_BLOCKING",),
        proactivity="always",
        thinking="level_required",
        thinking_levels=("LOW", "MEDIUM", "HIGH", "XHIGH"),
        modalities=("AUDIO",),
        interaction_status=True,
    ),
    "transcribe": Profile(
        name="transcribe",
        usage="none",
        tool_behaviors=(),
        thinking="none",
        thinking_levels=(),
        modalities=("TEXT",),
        transcription_only=True,
        interim_transcription=True,
        thinks=False,
    ),
}


def profile_for_model(choice: str | Profile, model: str) -> Profile:
    """The profile for a connection: an explicit one, or ``"auto"``: the family of the model's rule set."""
    if isinstance(choice, Profile):
        return choice
    if choice != "auto":
        return PROFILES[choice]
    return PROFILES[profile_for(model_id(model)).family]


@dataclass(frozen=True)
class Traffic:
    """Fields and orderings of real server traffic (defaults: what the real service sends).

    :ivar model_turn_role: ``modelTurn`` carries ``"role": "model"``.
    :ivar voice_activity: send ``voiceActivity`` messages (None: the profile decides).
    :ivar voice_activity_key: the key of its kind: ``"type"`` (the wire name, what the official SDK reads)
        or ``"voiceActivityType"`` (a spelling a client may meet elsewhere).
    :ivar empty_messages: send an empty ``{}`` and an empty ``{"serverContent": {}}`` when speech starts,
        as the real server does.
    :ivar interim_transcription: send ``interimInputTranscription`` (None: the profile decides).
    :ivar usage: where usage goes (``"profile"``: the profile's ``usage``).
    :ivar thoughts_tokens: a thinking model's usage carries ``thoughtsTokenCount``.
    """

    model_turn_role: bool = True
    voice_activity: bool | None = None
    voice_activity_key: Literal["type", "voiceActivityType"] = "type"
    empty_messages: bool = True
    interim_transcription: bool | None = None
    usage: Literal["profile", "end", "start", "split", "none"] = "profile"
    thoughts_tokens: bool = True

    def with_(self, **changes: object) -> Traffic:
        return replace(self, **changes)  # type: ignore[arg-type]
