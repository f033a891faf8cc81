"""Registers the ``openai`` provider with realtime-core (entry point group ``realtime``).

Discovery imports this module for every installed plugin, so it names the session class, the
capabilities and the emulator as ``"module:name"`` strings: they load when a session is built.
"""

from __future__ import annotations

from collections.abc import Callable

from realtime_core import ProviderSpec, hookimpl

from .models import DEFAULT_MODEL, MODELS

API_KEY_ENV: tuple[str, ...] = ("OPENAI_API_KEY",)

VARIANTS = {"text": {"modality": "text"}, "manual": {"turn_detection": None}, "webrtc": {"transport": "webrtc"}}
"""Named configurations: text replies, manual turns, the WebRTC transport (the conformance kit runs them)."""


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(
        ProviderSpec(
            name="openai",
            session_class="realtime_openai.session:OpenAIRealtime",
            description="OpenAI Realtime API (GA) over WebSocket or WebRTC",
            capabilities="realtime_openai.capabilities:default_capabilities",
            emulator="realtime_openai.emulator:OpenAIEmulator",
            api_key_env=API_KEY_ENV,
            models=MODELS,
            default_model=DEFAULT_MODEL,
            variants=VARIANTS,
        )
    )
