"""Entry point of the ``realtime`` plugin group: registers the ``gemini`` provider."""

from __future__ import annotations

from typing import Any

from realtime_core import ProviderSpec, hookimpl
from realtime_core.emulator import EmulatorServer

from .capabilities import default_capabilities
from .models import DEFAULT_MODEL, known_models
from .session import API_KEY_ENV, GeminiRealtime

__all__ = ["make_emulator", "realtime_register_providers"]


def make_emulator(**options: Any) -> EmulatorServer:
    """Build a :class:`~realtime_gemini.emulator.GeminiEmulator` (imported lazily: it pulls in aiohttp)."""
    from .emulator import GeminiEmulator

    return GeminiEmulator(**options)


@hookimpl
def realtime_register_providers(register: Any) -> None:
    register(
        ProviderSpec(
            name="gemini",
            session_class=GeminiRealtime,
            description="Google Gemini Live (BidiGenerateContent over WebSocket), with session resumption and video",
            capabilities=default_capabilities(),
            emulator=make_emulator,
            api_key_env=API_KEY_ENV,
            models=known_models(),
            default_model=DEFAULT_MODEL,
        )
    )
