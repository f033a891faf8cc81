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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .capabilities import build_capabilities, default_capabilities
    from .emulator import GeminiEmulator
    from .models import DEFAULT_MODEL, MODEL_PROFILES, MODELS, Model, ModelProfile, known_models, profile_for
    from .options import (
        VOICES,
        ActivityDetection,
        ContextWindowCompression,
        GeminiOptions,
        InputTranscription,
        VertexAI,
    )
    from .session import GeminiRealtime

    KNOWN_MODELS: tuple[str, ...]
    Realtime = GeminiRealtime

_EXPORTS: dict[str, str] = {
    "ActivityDetection": "options",
    "ContextWindowCompression": "options",
    "DEFAULT_MODEL": "models",
    "GeminiEmulator": "emulator",
    "GeminiOptions": "options",
    "GeminiRealtime": "session",
    "InputTranscription": "options",
    "MODELS": "models",
    "MODEL_PROFILES": "models",
    "Model": "models",
    "ModelProfile": "models",
    "VOICES": "options",
    "VertexAI": "options",
    "build_capabilities": "capabilities",
    "default_capabilities": "capabilities",
    "known_models": "models",
    "profile_for": "models",
}
"""Public name -> the submodule defining it: imported on first use, so discovery (which imports
this package for its entry point) stays cheap."""


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

# KNOWN_MODELS: every model id in the catalogue (``MODELS`` has what each supports).
# Realtime: alias so ``from realtime_gemini import Realtime`` reads like the other plugins.
_DERIVED: dict[str, tuple[str, str]] = {
    "KNOWN_MODELS": ("models", "known_models"),
    "Realtime": ("session", "GeminiRealtime"),
}


def __getattr__(name: str) -> Any:
    if name in _DERIVED:
        module, source = _DERIVED[name]
        value = getattr(importlib.import_module(f".{module}", __name__), source)
        globals()[name] = value = value() if name == "KNOWN_MODELS" else value
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_gemini' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # next time a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
