"""Registers the ``openai`` provider with realtime-core (entry point group ``realtime``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime_core import ProviderSpec, hookimpl

from .capabilities import default_capabilities
from .models import DEFAULT_MODEL, MODELS
from .session import API_KEY_ENV, OpenAIRealtime


def _emulator(**options: Any) -> Any:
    from .emulator import OpenAIEmulator  # lazy: aiohttp and the emulator only load when asked for

    return OpenAIEmulator(**options)


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(
        ProviderSpec(
            name="openai",
            session_class=OpenAIRealtime,
            description="OpenAI Realtime API (GA) over WebSocket or WebRTC",
            capabilities=default_capabilities(),
            emulator=_emulator,
            api_key_env=API_KEY_ENV,
            models=MODELS,
            default_model=DEFAULT_MODEL,
        )
    )
