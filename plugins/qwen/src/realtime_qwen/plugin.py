"""Registers the ``qwen`` provider with realtime-core (entry point group ``realtime``).

Discovery imports this module for every installed plugin, so it names the session class, the
capabilities and the emulator as ``"module:name"`` strings: they load when a session is built.
"""

from __future__ import annotations

from collections.abc import Callable

from realtime_core import ProviderSpec, hookimpl

from .models import DEFAULT_MODEL, MODELS

API_KEY_ENV: tuple[str, ...] = ("DASHSCOPE_API_KEY",)

VARIANTS = {"text": {"modality": "text"}, "manual": {"turn_detection": None}}
"""Named configurations: text replies and manual turns (the conformance kit runs them)."""


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(
        ProviderSpec(
            name="qwen",
            session_class="realtime_qwen.session:QwenRealtime",
            description="Qwen-Omni realtime (DashScope / Model Studio) over WebSocket",
            capabilities="realtime_qwen.capabilities:default_capabilities",
            emulator="realtime_qwen.emulator:QwenEmulator",
            api_key_env=API_KEY_ENV,
            models=MODELS,
            default_model=DEFAULT_MODEL,
            variants=VARIANTS,
        )
    )
