"""realtime-openai: the OpenAI Realtime API (GA) as a realtime-core provider.

    from realtime_openai import OpenAIRealtime

    async with OpenAIRealtime(instructions="Be brief.") as session:
        await session.simple_audio_response(pcm)
        async for event in session.events():
            ...

The loopback emulator lives in :mod:`realtime_openai.emulator` (imported lazily: ``OpenAIEmulator`` here
loads it on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .capabilities import build_capabilities, default_capabilities
    from .client_secrets import ClientSecret, create_client_secret
    from .config import (
        DEFAULT_BASE_URL,
        REASONING_EFFORTS,
        VOICES,
        InputTranscription,
        SemanticVad,
        ServerVad,
        SessionConfig,
    )
    from .dialect import GA, Dialect
    from .emulator import OpenAIEmulator
    from .models import (
        DEFAULT_MODEL,
        DEFAULT_TRANSCRIPTION_MODEL,
        MODEL_PROFILES,
        MODELS,
        TRANSCRIPTION_MODELS,
        ModelProfile,
        profile_of,
    )
    from .session import OpenAIRealtime
    from .webrtc_protocol import WebRtcOptions

_EXPORTS: dict[str, str] = {
    "ClientSecret": "client_secrets",
    "DEFAULT_BASE_URL": "config",
    "DEFAULT_MODEL": "models",
    "DEFAULT_TRANSCRIPTION_MODEL": "models",
    "Dialect": "dialect",
    "GA": "dialect",
    "InputTranscription": "config",
    "MODELS": "models",
    "MODEL_PROFILES": "models",
    "ModelProfile": "models",
    "OpenAIEmulator": "emulator",
    "OpenAIRealtime": "session",
    "REASONING_EFFORTS": "config",
    "SemanticVad": "config",
    "ServerVad": "config",
    "SessionConfig": "config",
    "TRANSCRIPTION_MODELS": "models",
    "VOICES": "config",
    "WebRtcOptions": "webrtc_protocol",
    "build_capabilities": "capabilities",
    "create_client_secret": "client_secrets",
    "default_capabilities": "capabilities",
    "profile_of": "models",
}
"""Public name -> the submodule defining it: imported on first use, so discovery (which imports
this package for its entry point) stays cheap."""


__version__ = "0.2.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "GA",
    "MODELS",
    "MODEL_PROFILES",
    "REASONING_EFFORTS",
    "TRANSCRIPTION_MODELS",
    "VOICES",
    "ClientSecret",
    "Dialect",
    "InputTranscription",
    "ModelProfile",
    "OpenAIEmulator",
    "OpenAIRealtime",
    "SemanticVad",
    "ServerVad",
    "SessionConfig",
    "WebRtcOptions",
    "__version__",
    "build_capabilities",
    "create_client_secret",
    "default_capabilities",
    "profile_of",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_openai' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # next time a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
