"""The Qwen-Omni realtime models and what each family can do (protocol notes §1, §2, §5).

A :class:`ModelProfile` holds the facts one family shares: voices and the default voice, the fixed input
transcription model, which options exist (tools, text input, semantic VAD, ``smooth_output``...), limits,
token rates, and how the service treats the connection (a workspace host only; a ``session.finished`` after
``session.finish`` or not). The session derives its capabilities from it; the emulator plays it. Snapshot
names (``qwen3.5-omni-plus-realtime-2026-03-15``) resolve to the profile of their base model.

The default model is ``qwen3.5-omni-plus-realtime``: the newest family served on the regional hosts with
nothing but a key (``qwen3.8-omni-flash-realtime`` needs a Model Studio workspace), and the only peer that
has a Qwen-Omni realtime client (Vision-Agents) defaults to it too (research 2026-12).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from realtime_core import ConfigurationError

__all__ = [
    "DEFAULT_MODEL",
    "FLASH3",
    "FLASH3_VOICES",
    "FLASH35",
    "FLASH38",
    "MODELS",
    "PLUS35",
    "PROFILES",
    "QWEN35_VOICES",
    "TURBO",
    "TURBO_VOICES",
    "ModelProfile",
    "resolve_model",
]

TURBO_VOICES = ("Cherry", "Serena", "Ethan", "Chelsie")
FLASH3_VOICES = (
    "Cherry", "Serena", "Ethan", "Chelsie", "Momo", "Vivian", "Moon", "Maia", "Kai", "Nofish", "Bella",
    "Jennifer", "Ryan", "Katerina", "Aiden", "Eldric Sage", "Mia", "Mochi", "Bellona", "Vincent", "Bunny",
    "Neil", "Elias", "Arthur", "Nini", "Ebona", "Seren", "Pip", "Stella", "Bodega", "Sonrisa", "Alek",
    "Dolce", "Sohee", "Ono Anna", "Lenn", "Emilien", "Andre", "Radio Gol",
    "Jada", "Dylan", "Li", "Marcus", "Roy", "Peter", "Sunny", "Eric", "Rocky", "Kiki",
)  # fmt: skip
"""The 49 voices of qwen3-omni-flash-realtime-2025-12-01 (the 2025-09-15 snapshot has 17 of them)."""
QWEN35_VOICES = ("Tina", "Mione", *(v for v in FLASH3_VOICES if v != "Cherry"))
"""The qwen3.5 voices this SDK knows of. The service lists 55 and accepts cloned voice ids too, so the session
does not restrict qwen3.5 voices to this list; the emulator accepts exactly these. ``Cherry`` was observed
refused by qwen3.5-omni-plus-realtime."""


@dataclass(frozen=True)
class ModelProfile:
    """What one family of Qwen-Omni realtime models supports.

    :ivar name: the canonical model name (``?model=``).
    :ivar family: ``turbo``, ``flash3``, ``plus35``, ``flash35`` or ``flash38``.
    :ivar aliases: other accepted names (snapshots, ``-latest``).
    :ivar voices: the known voices (empty: not published); ``voices_open`` means other ids (cloned voices) are
        also accepted.
    :ivar refused_voices: voices known to be refused (checked even when ``voices_open``).
    :ivar transcription_model: the fixed input transcription model.
    :ivar output_audio_format: the ``output_audio_format`` label the session sends (always 24 kHz PCM).
    :ivar tools: function calling works (qwen3-omni-flash accepts tools but never calls them: off).
    :ivar text_input: user text items (``input_text``) are accepted.
    :ivar semantic_vad: ``turn_detection.type = "semantic_vad"`` exists.
    :ivar idle_timeout: ``turn_detection.idle_timeout_ms`` exists (with ``server_vad``).
    :ivar smooth_output: the ``smooth_output`` option exists.
    :ivar search: ``enable_search`` exists (mutually exclusive with tools).
    :ivar sampling: temperature/top_p/... may be changed.
    :ivar transcription_deltas: the user transcript streams (``text`` + ``stash`` previews) before ``completed``.
    :ivar cancel_sends_done: whether ``response.cancel`` was observed to end with ``response.done``
        (qwen3.5: no, 6 of 6 runs); the session never relies on it, the emulator plays it.
    :ivar workspace_only: served only on the workspace hosts (``{workspace}.{region}.maas.aliyuncs.com``),
        not on the regional ``dashscope(-intl).aliyuncs.com`` ones.
    :ivar finish_acknowledged: ``session.finish`` is answered with ``session.finished`` (qwen3.8 documents
        none: the session then closes without waiting for it).
    """

    name: str
    family: str
    aliases: tuple[str, ...]
    voices: tuple[str, ...]
    default_voice: str
    transcription_model: str
    output_audio_format: str
    context_tokens: int
    max_input_tokens: int
    max_output_tokens: int
    audio_tokens_per_second: float
    image_token_pixels: int
    voices_open: bool = False
    refused_voices: tuple[str, ...] = ()
    tools: bool = False
    text_input: bool = False
    semantic_vad: bool = False
    idle_timeout: bool = False
    smooth_output: bool = False
    search: bool = False
    sampling: bool = True
    transcription_deltas: bool = False
    cancel_sends_done: bool = True
    workspace_only: bool = False
    finish_acknowledged: bool = True
    defaults: tuple[tuple[str, float], ...] = ()
    """Sampling defaults the server reports (temperature, top_p, top_k, repetition_penalty, presence_penalty)."""

    def check_voice(self, voice: object) -> str:
        """``voice`` if this family can use it, else :class:`ConfigurationError`."""
        if not isinstance(voice, str) or not voice.strip():
            raise ConfigurationError(f"voice must be a non-empty string, got {voice!r}")
        if voice in self.refused_voices:
            raise ConfigurationError(f"voice: {self.name} does not support the voice {voice!r}")
        if not self.voices_open and voice not in self.voices:
            raise ConfigurationError(
                f"voice: {self.name} has no voice {voice!r}; use one of: {', '.join(self.voices)}"
            )
        return voice


TURBO = ModelProfile(
    name="qwen-omni-turbo-realtime",
    family="turbo",
    aliases=("qwen-omni-turbo-realtime-latest", "qwen-omni-turbo-realtime-2025-05-08"),
    voices=TURBO_VOICES,
    default_voice="Chelsie",
    transcription_model="gummy-realtime-v1",
    output_audio_format="pcm16",  # the label turbo uses; the audio is 24 kHz all the same
    context_tokens=32_768,
    max_input_tokens=30_720,
    max_output_tokens=2_048,
    audio_tokens_per_second=25.0,
    image_token_pixels=28 * 28,
    sampling=False,
    defaults=(("temperature", 1.0), ("top_p", 0.01), ("top_k", 20), ("repetition_penalty", 1.05), ("presence_penalty", 0.0)),
)
FLASH3 = ModelProfile(
    name="qwen3-omni-flash-realtime",
    family="flash3",
    aliases=("qwen3-omni-flash-realtime-2025-12-01", "qwen3-omni-flash-realtime-2025-09-15"),
    voices=FLASH3_VOICES,
    default_voice="Cherry",
    transcription_model="gummy-realtime-v1",
    output_audio_format="pcm24",
    context_tokens=65_536,
    max_input_tokens=49_152,
    max_output_tokens=16_384,
    audio_tokens_per_second=12.5,
    image_token_pixels=32 * 32,
    smooth_output=True,
    defaults=(("temperature", 0.9), ("top_p", 1.0), ("top_k", 50), ("repetition_penalty", 1.05), ("presence_penalty", 0.0)),
)
PLUS35 = ModelProfile(
    name="qwen3.5-omni-plus-realtime",
    family="plus35",
    aliases=(),
    voices=QWEN35_VOICES,
    default_voice="Tina",
    transcription_model="qwen3-asr-flash-realtime",
    output_audio_format="pcm24",
    context_tokens=262_144,
    max_input_tokens=245_760,
    max_output_tokens=16_384,
    audio_tokens_per_second=12.5,
    image_token_pixels=32 * 32,
    voices_open=True,
    refused_voices=("Cherry",),
    tools=True,
    text_input=True,
    semantic_vad=True,
    idle_timeout=True,
    search=True,
    transcription_deltas=True,
    cancel_sends_done=False,
    defaults=(("temperature", 0.7), ("top_p", 0.8), ("top_k", 20), ("repetition_penalty", 1.0), ("presence_penalty", 1.5)),
)
FLASH35 = replace(PLUS35, name="qwen3.5-omni-flash-realtime", family="flash35")
FLASH38 = replace(
    PLUS35,
    name="qwen3.8-omni-flash-realtime",
    family="flash38",
    voices=(),
    refused_voices=(),
    workspace_only=True,
    finish_acknowledged=False,
)
"""The newest (docs 2026-11): workspace hosts only, no ``session.finished``; the documented session is the flat
one with voice Tina and ``qwen3-asr-flash-realtime``. Voices, context and limits are not published yet: voices
stay open (the official SDK's example uses ``longanlingxin``) and the rest is qwen3.5's."""

PROFILES: tuple[ModelProfile, ...] = (TURBO, FLASH3, PLUS35, FLASH35, FLASH38)
MODELS: tuple[str, ...] = tuple(p.name for p in PROFILES)
DEFAULT_MODEL = PLUS35.name
_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")


def resolve_model(model: object) -> ModelProfile:
    """The profile of ``model`` (a name, an alias or a dated snapshot); :class:`ConfigurationError` if unknown."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(f"model must be a non-empty string, got {model!r}")
    for profile in PROFILES:
        if model == profile.name or model in profile.aliases:
            return profile
    match = _SNAPSHOT.match(model)
    if match:
        base = match.group("base")
        for profile in PROFILES:
            if base == profile.name:
                return profile
    raise ConfigurationError(
        f"model: unknown Qwen-Omni realtime model {model!r}; choose one of {', '.join(MODELS)} (or a dated snapshot of one)"
    )
