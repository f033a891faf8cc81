"""Typed configuration of a Gemini Live session.

Everything the ``setup`` message carries is an option here, validated once when the session is built (bad
values raise :class:`~realtime_core.ConfigurationError` naming the option). Short lower-case names stand in
for the wire enums (``"low"`` for ``START_SENSITIVITY_LOW``); :mod:`realtime_gemini.protocol` maps them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from realtime_core import ConfigurationError

from .models import DEFAULT_MODEL, ModelProfile, known_models, model_id, profile_for

__all__ = [
    "VOICES",
    "ActivityDetection",
    "ContextWindowCompression",
    "GeminiOptions",
    "InputTranscription",
    "VertexAI",
    "build_options",
    "validation_message",
]

VOICES: tuple[str, ...] = (
    "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe", "Autonoe",
    "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib", "Rasalgethi",
    "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird", "Zubenelgenubi",
    "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
)  # fmt: skip
"""The prebuilt voices (names are case-sensitive on the wire)."""


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class ActivityDetection(_Options):
    """Server-side voice activity detection (``realtimeInputConfig.automaticActivityDetection``).

    ``None`` leaves a setting at the server's default (high sensitivities, ~800 ms of silence).
    """

    start_sensitivity: Literal["high", "low"] | None = None
    end_sensitivity: Literal["high", "low"] | None = None
    prefix_padding_ms: int | None = Field(
        default=None, ge=0, description="Speech needed before start-of-speech commits."
    )
    silence_duration_ms: int | None = Field(default=None, ge=0, description="Silence needed before end-of-speech.")


class ContextWindowCompression(_Options):
    """Sliding-window compression, which lifts the 15-minute audio (2-minute video) session limit.

    :ivar trigger_tokens: context size that triggers compression (server default: 80% of the limit).
    :ivar target_tokens: size to cut back to (server default: half the trigger).
    """

    trigger_tokens: int | None = Field(default=None, gt=0)
    target_tokens: int | None = Field(default=None, gt=0)


TokenProvider = Callable[[], "str | Awaitable[str]"]


class VertexAI(_Options):
    """Connect through Vertex AI instead of the Gemini Developer API.

    :ivar project: the Google Cloud project id.
    :ivar location: a region such as ``"us-central1"``, or ``"global"``.
    :ivar api_version: ``"v1beta1"`` or ``"v1"``.
    :ivar access_token: an OAuth2 access token (sent as ``Authorization: Bearer``).
    :ivar token_provider: called before every connection for a fresh token (sync or async); wins over
        ``access_token``. Without either, the session's ``api_key`` is used (Vertex "express mode").
    """

    project: str = Field(min_length=1)
    location: str = Field(default="us-central1", min_length=1)
    api_version: Literal["v1beta1", "v1"] = "v1beta1"
    access_token: SecretStr | None = None
    token_provider: Callable[[], Any] | None = None


class InputTranscription(_Options):
    """How the user's speech is transcribed (``inputAudioTranscription``).

    :ivar language_codes: expected languages (BCP-47; empty: detect).
    :ivar custom_vocabulary: words and names to favour.
    :ivar mode: ``"verbatim"`` (the server default) or ``"smart"`` (cleaned up).
    """

    language_codes: tuple[str, ...] = ()
    custom_vocabulary: tuple[str, ...] = ()
    mode: Literal["verbatim", "smart"] | None = None


class GeminiOptions(_Options):
    """Every provider-specific option of :class:`~realtime_gemini.GeminiRealtime` (see its docstring)."""

    model: str = DEFAULT_MODEL
    api_key: SecretStr | None = None
    ephemeral_token: SecretStr | None = None
    auth_in: Literal["header", "query"] = "header"
    vertex: VertexAI | None = None
    api_version: Literal["v1beta", "v1alpha"] | None = None
    base_url: str | None = None
    ca_file: str | None = None

    response_modality: Literal["audio", "text"] | None = None
    voice: str | None = None
    language_code: str | None = None
    media_resolution: Literal["low", "medium", "high"] | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    seed: int | None = None
    thinking_budget: int | None = None
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = None
    include_thoughts: bool | None = None
    affective_dialog: bool | None = None
    proactive_audio: bool | None = None
    tool_behavior: Literal["blocking", "non_blocking"] | None = None

    manual_activity: bool = False
    activity_detection: ActivityDetection = Field(default_factory=ActivityDetection)
    activity_handling: Literal["interrupt", "no_interruption"] | None = None
    turn_coverage: Literal["only_activity", "all_input", "audio_activity_and_all_video"] | None = None
    input_transcription: bool | InputTranscription = True
    output_transcription: bool | None = None
    session_resumption: bool = True
    context_window_compression: ContextWindowCompression | None = None
    tool_schema: Literal["auto", "parameters", "json_schema"] = "auto"
    text_input: Literal["auto", "realtime_input", "client_content"] = "auto"

    audio_stream_end_after: float | None = Field(default=1.0, gt=0)
    resume_replay_ms: float = Field(default=10_000.0, ge=0)
    make_before_break: bool = True
    go_away_margin: float = Field(default=2.0, ge=0)
    extra_setup: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> GeminiOptions:
        self._check_connection()
        self._check_model()
        if self.response_modality == "text" and self.output_transcription:
            raise ValueError("output_transcription transcribes spoken replies; it needs response_modality='audio'")
        if self.voice is not None and self.voice not in VOICES:
            fixed = next((v for v in VOICES if v.lower() == self.voice.lower()), None)
            if fixed is not None:  # the server rejects a wrongly cased name; say so now
                raise ValueError(f"voice names are case-sensitive: use {fixed!r}, not {self.voice!r}")
            raise ValueError(f"unknown voice {self.voice!r}; choose one of {', '.join(VOICES)}")
        if self.text_input == "realtime_input" and self.vertex is not None:
            raise ValueError("Vertex AI does not take realtimeInput.text; use text_input='client_content' or 'auto'")
        return self

    def _check_connection(self) -> None:
        if not self.model.strip():
            raise ValueError("model must not be empty")
        if self.ephemeral_token is not None and self.vertex is not None:
            raise ValueError("ephemeral tokens are a Developer API feature; do not combine them with vertex=...")
        if self.ephemeral_token is not None and self.api_version == "v1beta":
            raise ValueError("ephemeral tokens work only with api_version='v1alpha' (the constrained endpoint)")
        if self.vertex is not None and self.api_version is not None:
            raise ValueError("api_version is for the Developer API; set vertex=VertexAI(api_version=...) instead")
        if self.base_url is not None and not self.base_url.startswith(("ws://", "wss://", "http://", "https://")):
            raise ValueError("base_url must start with ws://, wss://, http:// or https://")
        if (
            self.vertex is not None
            and self.vertex.token_provider is not None
            and not callable(self.vertex.token_provider)
        ):
            raise ValueError("vertex.token_provider must be callable")

    def _check_model(self) -> None:
        """What the model's rule set accepts (models.py); refused here rather than by a closed socket."""
        model = self.model.strip()
        if "/" not in model and model not in known_models():
            raise ValueError(
                f"unknown model {model!r}; choose one of {', '.join(known_models())} "
                f"(or pass 'models/{model}' to use a model this plugin does not know yet)"
            )
        profile = self.profile
        name = model_id(model)
        if self.response_modality is not None and self.response_modality not in profile.modalities:
            allowed = " or ".join(repr(m) for m in sorted(profile.modalities))
            raise ValueError(f"response_modality {self.response_modality!r} is not offered by {name}; use {allowed}")
        if self.thinking_budget is not None and self.thinking_level is not None:
            raise ValueError("set thinking_budget (2.5 models) or thinking_level (3.x models), not both")
        if self.thinking_budget is not None and profile.thinking != "budget":
            raise ValueError(f"thinking_budget is for 2.5 models; {name} does not take it")
        if self.thinking_level is not None:
            if profile.thinking in ("budget", "none"):
                raise ValueError(f"{name} does not take a thinking_level (its reasoning is not configurable)")
            if self.thinking_level not in profile.thinking_levels:
                raise ValueError(
                    f"thinking_level {self.thinking_level!r} is refused by {name}; "
                    f"choose one of {', '.join(profile.thinking_levels)}"
                )
        if self.affective_dialog is not None and not profile.affective_dialog:
            raise ValueError(f"affective_dialog is a 2.5 native-audio feature; {name} does not take it")
        if self.proactive_audio is not None:
            if profile.proactivity == "none":
                raise ValueError(f"proactive_audio is not offered by {name}")
            if profile.proactivity == "always" and not self.proactive_audio:
                raise ValueError(f"proactive audio is always on for {name}; it cannot be turned off")
        if self.tool_behavior is not None and self.tool_behavior not in profile.tool_behaviors:
            allowed = ", ".join(profile.tool_behaviors) or "none (no tools)"
            raise ValueError(f"tool_behavior {self.tool_behavior!r} is refused by {name}; it takes {allowed}")
        if self.text_input == "client_content" and profile.client_content == "seed_only":
            raise ValueError(f"{name} takes clientContent only to seed the history; use text_input='realtime_input'")

    @property
    def profile(self) -> ModelProfile:
        """The rule set of :attr:`model` (models.py)."""
        return profile_for(self.model)

    @property
    def modality(self) -> Literal["audio", "text"]:
        """The response modality: the option, else audio (text for a transcription model)."""
        if self.response_modality is not None:
            return self.response_modality
        return "audio" if "audio" in self.profile.modalities else "text"

    @property
    def effective_thinking_level(self) -> str | None:
        """The level sent: the option, else ``"low"`` for a model that requires one (it has no default)."""
        if self.thinking_level is None and self.profile.thinking == "level_required":
            return "low"
        return self.thinking_level

    @property
    def effective_tool_behavior(self) -> Literal["blocking", "non_blocking"] | None:
        """The ``behavior`` declared on every function: the option, else the model's (None: not sent)."""
        return self.tool_behavior or self.profile.tool_behavior_sent

    @property
    def non_blocking_tools(self) -> bool:
        behavior = self.effective_tool_behavior or (self.profile.tool_behaviors or ("blocking",))[0]
        return behavior == "non_blocking"

    @property
    def is_vertex(self) -> bool:
        return self.vertex is not None

    @property
    def wants_input_transcription(self) -> bool:
        return self.input_transcription is not False

    @property
    def wants_output_transcription(self) -> bool:
        """Output transcription is on by default for spoken replies."""
        return self.modality == "audio" and self.output_transcription is not False

    @property
    def text_input_mode(self) -> Literal["realtime_input", "client_content"]:
        if self.text_input != "auto":
            return self.text_input
        return "client_content" if self.vertex is not None else "realtime_input"


def validation_message(exc: ValidationError) -> str:
    """A one-line summary of a pydantic error naming the options at fault (never their values)."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "options"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def build_options(**kwargs: Any) -> GeminiOptions:
    """Validate ``kwargs`` into :class:`GeminiOptions`, raising :class:`ConfigurationError` on bad input."""
    try:
        return GeminiOptions(**kwargs)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid Gemini option: {validation_message(exc)}", provider="gemini") from None
