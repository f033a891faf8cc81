"""Registers the ``nova`` provider with realtime-core (entry point group ``realtime``).

Discovery imports this module for every installed plugin, so it names the session class, the
capabilities and the emulator as ``"module:name"`` strings: they load when a session is built.
"""

from __future__ import annotations

from collections.abc import Callable

from realtime_core import ProviderSpec, hookimpl

from .models import DEFAULT_MODEL, MODELS

__all__ = ["realtime_register_providers"]


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(
        ProviderSpec(
            name="nova",
            session_class="realtime_nova.session:NovaRealtime",
            description="Amazon Nova Sonic over Bedrock's bidirectional HTTP/2 stream",
            capabilities="realtime_nova.capabilities:default_capabilities",
            emulator="realtime_nova.emulator:NovaEmulator",
            api_key_env=("AWS_ACCESS_KEY_ID", "AWS_PROFILE"),
            models=tuple(MODELS),
            default_model=DEFAULT_MODEL,
            variants={},  # speech replies only, server turn detection only: no other configuration
        )
    )
