"""The first message of a connection: credentials, then ``setup``, checked the way the real server does.

Every refusal is a :class:`~realtime_gemini.emulator.schema.WireError`: the connection closes with the
server's close code and wording (1008 no credentials, unknown model or handle; 1007 a wrong key or a setup
the model refuses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from realtime_core.emulator import EnergyVad, audio_format, tool_spec

from ..options import VOICES
from .profiles import Profile, profile_for_model
from .schema import INVALID_ARGUMENT, Context, WireError, normalize

if TYPE_CHECKING:
    from aiohttp import web

    from .server import GeminiEmulator

__all__ = [
    "BAD_KEY",
    "SESSION_NOT_FOUND",
    "UNREGISTERED",
    "Route",
    "SessionSetup",
    "check_credentials",
    "read_setup",
    "truncate_reason",
]

UNREGISTERED = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
BAD_KEY = "API key not valid. Please pass a valid API key."
SESSION_NOT_FOUND = "BidiGenerateContent session not found"
VAD_RATE = 16000


@dataclass(frozen=True)
class Route:
    """Which endpoint a connection came in on."""

    api: Literal["developer", "constrained", "vertex"]
    version: str


@dataclass
class SessionSetup:
    """What one connection's ``setup`` asked for (normalised), and the server behaviour it gets."""

    raw: dict[str, Any]
    model_id: str
    profile: Profile
    modality: str
    manual: bool
    no_interruption: bool
    input_tx: bool
    output_tx: bool
    resumption: bool
    handle: str | None
    seed_allowed: bool
    instruction: str | None
    vad: EnergyVad | None
    json_schema_tools: set[str] = field(default_factory=set[str])

    def config_fact(self) -> dict[str, Any]:
        """The ``session_configured`` fact's fields (everything the setup carries)."""
        setup = self.raw
        gen = setup.get("generationConfig", {})
        tools = [
            tool_spec(d.get("name"), d.get("description"), d.get("parametersJsonSchema", d.get("parameters")))
            for t in setup.get("tools", [])
            for d in t.get("functionDeclarations", [])
        ]
        voice = gen.get("speechConfig", {}).get("voiceConfig", {}).get("prebuiltVoiceConfig", {}).get("voiceName")
        return {
            "model": self.model_id,
            "instructions": self.instruction,
            "tools": tools,
            "voice": voice,
            "output_modality": "audio" if self.modality == "AUDIO" else "text",
            "input_audio": audio_format(VAD_RATE),
            "output_audio": audio_format(24000) if self.modality == "AUDIO" else None,
            "turn_detection": "manual" if self.manual else "server",
            "input_transcription": self.input_tx,
            "temperature": gen.get("temperature"),
            "max_output_tokens": gen.get("maxOutputTokens"),
        }


def truncate_reason(reason: str, limit: int = 123) -> str:
    """Close reasons are cut to 123 bytes (the close-frame limit), on a UTF-8 boundary."""
    raw = reason.encode("utf-8")
    if len(raw) <= limit:
        return reason
    return raw[:limit].decode("utf-8", "ignore")


def _credential(request: web.Request, route: Route) -> tuple[str | None, str]:
    if route.api == "developer":
        if "key" in request.query:
            return request.query["key"], "query"
        key = request.headers.get("x-goog-api-key")
        return (key, "header") if key is not None else (None, "none")
    auth = request.headers.get("Authorization", "")
    if route.api == "constrained":
        if "access_token" in request.query:
            return request.query["access_token"], "query"
        return (auth.removeprefix("Token ").strip(), "header") if auth.startswith("Token ") else (None, "none")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip(), "bearer"
    key = request.headers.get("x-goog-api-key")
    return (key, "express") if key is not None else (None, "none")


def check_credentials(emu: GeminiEmulator, request: web.Request, route: Route, connection: int) -> None:
    """Record how the client authenticated; refuse a missing (1008) or wrong (1007) credential."""
    value, via = _credential(request, route)
    emu.record(
        "connect", {"path": request.path, "api": route.api, "version": route.version, "credential_via": via}, connection
    )
    if not value:
        raise WireError(1008, UNREGISTERED)
    if route.api == "constrained":
        expected = emu.ephemeral_token
    elif route.api == "vertex" and via == "bearer":
        expected = emu.vertex_token
    else:
        expected = emu.api_key
    if expected is not None and value != expected:
        raise WireError(1007, BAD_KEY)


def read_setup(emu: GeminiEmulator, route: Route, message: dict[str, Any]) -> SessionSetup:
    """The first message, which must be ``setup``, checked against the schema and the model's profile."""
    ctx = Context(vertex=route.api == "vertex", alpha=route.version == "v1alpha")
    name, setup = normalize(message, ctx) if len(message) == 1 else ("", {})
    if name != "setup":
        raise WireError(1007, INVALID_ARGUMENT)
    model = setup.get("model")
    if not isinstance(model, str) or not model:
        raise WireError(1007, INVALID_ARGUMENT)
    model_id = _check_model(emu, route, model)
    profile = profile_for_model(emu.profile, model_id)
    gen = setup.get("generationConfig", {})
    modalities = gen.get("responseModalities") or [emu.default_modality]
    if len(set(modalities)) != 1 or modalities[0] not in profile.modalities:
        raise WireError(1007, INVALID_ARGUMENT)
    voice = gen.get("speechConfig", {}).get("voiceConfig", {}).get("prebuiltVoiceConfig", {}).get("voiceName")
    if voice is not None and voice not in VOICES:
        raise WireError(1007, f"Voice name {voice} is not supported. {INVALID_ARGUMENT}")
    _check_features(setup, gen, profile)
    json_schema_tools = _check_tools(setup.get("tools", []), profile)
    ric = setup.get("realtimeInputConfig", {})
    aad = ric.get("automaticActivityDetection", {})
    manual = bool(aad.get("disabled", False))
    modality = modalities[0]
    instruction = setup.get("systemInstruction")
    texts = [p.get("text", "") for p in instruction.get("parts", [])] if isinstance(instruction, Mapping) else []
    return SessionSetup(
        raw=setup,
        model_id=model_id,
        profile=profile,
        modality=modality,
        manual=manual,
        no_interruption=ric.get("activityHandling") == "NO_INTERRUPTION",
        input_tx="inputAudioTranscription" in setup,
        output_tx="outputAudioTranscription" in setup and modality == "AUDIO",
        resumption="sessionResumption" in setup,
        handle=setup.get("sessionResumption", {}).get("handle") or None,
        seed_allowed=bool(setup.get("historyConfig", {}).get("initialHistoryInClientContent", False)),
        instruction="\n".join(t for t in texts if t) or None,
        vad=None if manual else _vad(emu, aad),
        json_schema_tools=json_schema_tools,
    )


def _vad(emu: GeminiEmulator, aad: Mapping[str, Any]) -> EnergyVad:
    vad = emu.scenario.vad
    threshold = vad.threshold * (2.0 if aad.get("startOfSpeechSensitivity") == "START_SENSITIVITY_LOW" else 1.0)
    silence = float(aad.get("silenceDurationMs", vad.silence_ms))
    if aad.get("endOfSpeechSensitivity") == "END_SENSITIVITY_LOW":
        silence *= 1.5
    return EnergyVad(
        VAD_RATE,
        threshold=threshold,
        silence_ms=max(10.0, silence),
        prefix_ms=float(aad.get("prefixPaddingMs", vad.prefix_ms)),
        min_speech_ms=vad.min_speech_ms,
    )


def _check_model(emu: GeminiEmulator, route: Route, model: str) -> str:
    known = emu.known_models
    if route.api == "vertex":
        parts = model.split("/")
        if (
            len(parts) < 8
            or parts[0] != "projects"
            or parts[2] != "locations"
            or parts[4:6] != ["publishers", "google"]
            or parts[6] != "models"
            or (known is not None and parts[7] not in known)
        ):
            raise WireError(1008, truncate_reason(f"Publisher Model `{model}` not found."))
        return parts[7]
    model_id = model.removeprefix("models/")
    if not model.startswith("models/") or (known is not None and model_id not in known):
        raise WireError(
            1008,
            truncate_reason(
                f"models/{model_id} is not found for API version {route.version}, or is not supported for "
                "bidiGenerateContent. Call ModelService.ListModels to see the list of available models and "
                "their supported methods."
            ),
        )
    return model_id


def _check_features(setup: Mapping[str, Any], gen: Mapping[str, Any], profile: Profile) -> None:
    """What the model's profile refuses (the real reason texts are unknown: the generic one is used)."""
    proactivity = setup.get("proactivity")
    if proactivity is not None and (
        profile.proactivity == "none"
        or (profile.proactivity == "always" and proactivity.get("proactiveAudio") is False)
    ):
        raise WireError(1007, INVALID_ARGUMENT)
    if "enableAffectiveDialog" in gen and not profile.affective_dialog:
        raise WireError(1007, INVALID_ARGUMENT)
    thinking = gen.get("thinkingConfig")
    level = thinking.get("thinkingLevel") if thinking else None
    if thinking is not None and profile.thinking == "none":
        raise WireError(1007, INVALID_ARGUMENT)
    if "thinkingBudget" in (thinking or {}) and profile.thinking != "budget":
        raise WireError(1007, INVALID_ARGUMENT)
    if level is not None and level not in profile.thinking_levels:
        raise WireError(1007, INVALID_ARGUMENT)
    if profile.thinking == "level_required" and level is None:
        raise WireError(1007, INVALID_ARGUMENT)  # "the API has no default and rejects a setup without one"


def _check_tools(tools: list[Any], profile: Profile) -> set[str]:
    json_schema_tools: set[str] = set()
    for ti, tool in enumerate(tools):
        for di, decl in enumerate(tool.get("functionDeclarations", [])):
            behavior = decl.get("behavior")
            if behavior not in (None, "UNSPECIFIED") and behavior not in profile.tool_behaviors:
                raise WireError(1007, INVALID_ARGUMENT)
            params = decl.get("parameters")
            if profile.reject_additional_properties and _find_key(params, "additionalProperties"):
                raise WireError(
                    1007,
                    'Invalid JSON payload received. Unknown name "additionalProperties" at '
                    f"'setup.tools[{ti}].function_declarations[{di}].parameters': Cannot find field.",
                )
            if "parametersJsonSchema" in decl and "parameters" not in decl:
                json_schema_tools.add(str(decl.get("name", "")))
    return json_schema_tools


def _find_key(value: Any, key: str) -> bool:
    if isinstance(value, Mapping):
        return key in value or any(_find_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_find_key(v, key) for v in value)
    return False
