"""Model-dependent server behaviour, gathered behind a switch.

The sources disagree or are silent on several points; each one is a field here, so a test can run the
client against either reading. ``"2.5"`` follows the native-audio 2.5 models, ``"3.1"`` Gemini 3.1 Flash
Live; ``"auto"`` picks per connection from the model in ``setup``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["PROFILES", "Profile", "profile_for"]


@dataclass(frozen=True)
class Profile:
    """How the emulated server behaves for one family of models.

    :ivar combine_parts: several fields in one message (an audio part and its transcript); 2.5 sends one
        part per message.
    :ivar client_content_seed_only: ``clientContent`` only before the first model turn and only with
        ``historyConfig.initialHistoryInClientContent`` (3.1); otherwise it closes with 1007.
    :ivar usage_at_generation_start: prompt usage rides on an empty ``serverContent`` when generation
        starts and ``turnComplete`` carries ``usageMetadata: {}`` (3.1); 2.5 reports all on
        ``turnComplete``.
    :ivar turn_coverage_default: what a user turn includes when the client does not say.
    :ivar allow_non_blocking: ``behavior: NON_BLOCKING`` function declarations are accepted (2.5).
    :ivar allow_proactivity: ``proactivity`` and ``enableAffectiveDialog`` are accepted (2.5, v1alpha).
    :ivar voice_activity: the server sends ``voiceActivity`` start/end messages.
    :ivar json_schema_tool_args: ``"empty"``: a tool declared with ``parametersJsonSchema`` is called with
        no arguments (reported for 2.x Live models); ``"kept"``: it works.
    :ivar reject_additional_properties: ``additionalProperties`` inside ``parameters`` closes with 1007
        (reported for 3.x).
    """

    name: str
    combine_parts: bool
    client_content_seed_only: bool
    usage_at_generation_start: bool
    turn_coverage_default: str
    allow_non_blocking: bool
    allow_proactivity: bool
    voice_activity: bool
    json_schema_tool_args: Literal["empty", "kept"]
    reject_additional_properties: bool

    def with_(self, **changes: object) -> Profile:
        """A copy with some switches changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


PROFILES: dict[str, Profile] = {
    "2.5": Profile(
        name="2.5",
        combine_parts=False,
        client_content_seed_only=False,
        usage_at_generation_start=False,
        turn_coverage_default="TURN_INCLUDES_ONLY_ACTIVITY",
        allow_non_blocking=True,
        allow_proactivity=True,
        voice_activity=False,
        json_schema_tool_args="empty",
        reject_additional_properties=False,
    ),
    "3.1": Profile(
        name="3.1",
        combine_parts=True,
        client_content_seed_only=True,
        usage_at_generation_start=True,
        turn_coverage_default="TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
        allow_non_blocking=False,
        allow_proactivity=False,
        voice_activity=True,
        json_schema_tool_args="kept",
        reject_additional_properties=True,
    ),
}


def profile_for(choice: str | Profile, model_id: str) -> Profile:
    """The profile for a connection: an explicit one, or ``"auto"`` by the model's generation."""
    if isinstance(choice, Profile):
        return choice
    if choice != "auto":
        return PROFILES[choice]
    from ..options import model_generation

    return PROFILES[model_generation(model_id)]
