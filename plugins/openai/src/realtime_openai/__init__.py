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

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .emulator import OpenAIEmulator

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
    if name == "OpenAIEmulator":
        from .emulator import OpenAIEmulator

        return OpenAIEmulator
    raise AttributeError(f"module 'realtime_openai' has no attribute {name!r}")
