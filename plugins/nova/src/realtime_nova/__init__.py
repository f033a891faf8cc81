"""realtime-nova: Amazon Nova Sonic (Bedrock ``InvokeModelWithBidirectionalStream``) for realtime-core.

    from realtime_nova import NovaRealtime

    async with NovaRealtime(voice="tiffany", instructions="Be brief.") as session:
        await session.simple_audio_response(pcm)

The loopback emulator is :class:`realtime_nova.emulator.NovaEmulator` (imported on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .capabilities import build_capabilities, default_capabilities
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

if TYPE_CHECKING:
    from .emulator import NovaEmulator

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
    if name == "NovaEmulator":  # keeps h2 out of plain client imports
        from .emulator import NovaEmulator

        return NovaEmulator
    raise AttributeError(f"module 'realtime_nova' has no attribute {name!r}")
