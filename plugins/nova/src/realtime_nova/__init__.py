"""realtime-nova: Amazon Nova Sonic (Bedrock ``InvokeModelWithBidirectionalStream``) for realtime-core.

    from realtime_nova import NovaRealtime

    async with NovaRealtime(voice="tiffany", instructions="Be brief.") as session:
        await session.simple_audio_response(pcm)

The loopback emulator is :class:`realtime_nova.emulator.NovaEmulator` (imported on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .capabilities import build_capabilities, default_capabilities
    from .emulator import NovaEmulator
    from .models import (
        DEFAULT_MODEL,
        DEFAULT_VOICE,
        MODELS,
        NOVA_2_5_SONIC,
        NOVA_2_SONIC,
        NOVA_SONIC,
        ModelInfo,
        model_info,
    )
    from .session import NovaRealtime

_EXPORTS: dict[str, str] = {
    "DEFAULT_MODEL": "models",
    "DEFAULT_VOICE": "models",
    "MODELS": "models",
    "ModelInfo": "models",
    "NOVA_2_5_SONIC": "models",
    "NOVA_2_SONIC": "models",
    "NOVA_SONIC": "models",
    "NovaEmulator": "emulator",
    "NovaRealtime": "session",
    "build_capabilities": "capabilities",
    "default_capabilities": "capabilities",
    "model_info": "models",
}
"""Public name -> the submodule defining it: imported on first use, so discovery (which imports
this package for its entry point) stays cheap."""


__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_VOICE",
    "MODELS",
    "NOVA_2_5_SONIC",
    "NOVA_2_SONIC",
    "NOVA_SONIC",
    "ModelInfo",
    "NovaEmulator",
    "NovaRealtime",
    "build_capabilities",
    "default_capabilities",
    "model_info",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_nova' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # next time a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
