"""realtime-gemini: Google Gemini Live for realtime-core.

    from realtime_gemini import GeminiRealtime

    async with GeminiRealtime(voice="Kore", instructions="Be brief.") as session:
        await session.simple_audio_response(pcm)
        async for event in session.events():
            ...

The emulator (:class:`realtime_gemini.emulator.GeminiEmulator`) is imported on first use, so importing
this package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .capabilities import build_capabilities, default_capabilities
from .models import DEFAULT_MODEL, MODEL_PROFILES, MODELS, Model, ModelProfile, known_models, profile_for
from .options import VOICES, ActivityDetection, ContextWindowCompression, GeminiOptions, InputTranscription, VertexAI
from .session import GeminiRealtime

if TYPE_CHECKING:
    from .emulator import GeminiEmulator

__all__ = [
    "DEFAULT_MODEL",
    "KNOWN_MODELS",
    "MODELS",
    "MODEL_PROFILES",
    "VOICES",
    "ActivityDetection",
    "ContextWindowCompression",
    "GeminiEmulator",
    "GeminiOptions",
    "GeminiRealtime",
    "InputTranscription",
    "Model",
    "ModelProfile",
    "Realtime",
    "VertexAI",
    "build_capabilities",
    "default_capabilities",
    "known_models",
    "profile_for",
]

KNOWN_MODELS: tuple[str, ...] = known_models()
"""Every model id in the catalogue (``MODELS`` has what each supports)."""

Realtime = GeminiRealtime
"""Alias so ``from realtime_gemini import Realtime`` reads like the other plugins."""


def __getattr__(name: str) -> Any:
    if name == "GeminiEmulator":
        from .emulator import GeminiEmulator

        return GeminiEmulator
    raise AttributeError(f"module 'realtime_gemini' has no attribute {name!r}")
