"""realtime-qwen: Qwen-Omni realtime (DashScope / Alibaba Cloud Model Studio) as a realtime-core provider.

    from realtime_qwen import QwenRealtime

    async with QwenRealtime(model="qwen3.5-omni-flash-realtime", instructions="Be brief.") as session:
        await session.simple_audio_response(pcm)
        async for event in session.events():
            ...

The loopback emulator lives in :mod:`realtime_qwen.emulator` (imported lazily: ``QwenEmulator`` here loads
it on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .capabilities import build_capabilities, default_capabilities
from .config import QwenSessionConfig, SemanticVad, ServerVad
from .endpoints import realtime_url
from .models import DEFAULT_MODEL, MODELS, PROFILES, ModelProfile, resolve_model
from .protocol import DASHSCOPE, DashScopeDialect, session_payload
from .session import QwenRealtime

if TYPE_CHECKING:
    from .emulator import QwenEmulator

__version__ = "0.2.0"

__all__ = [
    "DASHSCOPE",
    "DEFAULT_MODEL",
    "MODELS",
    "PROFILES",
    "DashScopeDialect",
    "ModelProfile",
    "QwenEmulator",
    "QwenRealtime",
    "QwenSessionConfig",
    "SemanticVad",
    "ServerVad",
    "__version__",
    "build_capabilities",
    "default_capabilities",
    "realtime_url",
    "resolve_model",
    "session_payload",
]


def __getattr__(name: str) -> Any:
    if name == "QwenEmulator":
        from .emulator import QwenEmulator

        return QwenEmulator
    raise AttributeError(f"module 'realtime_qwen' has no attribute {name!r}")
