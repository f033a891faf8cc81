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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .capabilities import build_capabilities, default_capabilities
    from .config import QwenSessionConfig, SemanticVad, ServerVad
    from .emulator import QwenEmulator
    from .endpoints import realtime_url
    from .models import DEFAULT_MODEL, MODELS, PROFILES, ModelProfile, resolve_model
    from .protocol import DASHSCOPE, DashScopeDialect, session_payload
    from .session import QwenRealtime

_EXPORTS: dict[str, str] = {
    "DASHSCOPE": "protocol",
    "DEFAULT_MODEL": "models",
    "DashScopeDialect": "protocol",
    "MODELS": "models",
    "ModelProfile": "models",
    "PROFILES": "models",
    "QwenEmulator": "emulator",
    "QwenRealtime": "session",
    "QwenSessionConfig": "config",
    "SemanticVad": "config",
    "ServerVad": "config",
    "build_capabilities": "capabilities",
    "default_capabilities": "capabilities",
    "realtime_url": "endpoints",
    "resolve_model": "models",
    "session_payload": "protocol",
}
"""Public name -> the submodule defining it: imported on first use, so discovery (which imports
this package for its entry point) stays cheap."""


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
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_qwen' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # next time a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
