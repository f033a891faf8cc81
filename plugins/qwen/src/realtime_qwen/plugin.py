"""Registers the ``qwen`` provider with realtime-core (entry point group ``realtime``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime_core import ProviderSpec, hookimpl

from .capabilities import default_capabilities
from .models import DEFAULT_MODEL, MODELS
from .session import API_KEY_ENV, QwenRealtime


def _emulator(**options: Any) -> Any:
    from .emulator import QwenEmulator  # lazy: aiohttp and the emulator only load when asked for

    return QwenEmulator(**options)


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(
        ProviderSpec(
            name="qwen",
            session_class=QwenRealtime,
            description="Qwen-Omni realtime (DashScope / Model Studio) over WebSocket",
            capabilities=default_capabilities(),
            emulator=_emulator,
            api_key_env=API_KEY_ENV,
            models=MODELS,
            default_model=DEFAULT_MODEL,
        )
    )
