"""Registers the ``gemini`` provider with realtime-core (entry point group ``realtime``).

Discovery imports this module for every installed plugin, so it names the session class, the
capabilities and the emulator as ``"module:name"`` strings: they load when a session is built.
"""

from __future__ import annotations

from collections.abc import Callable

from realtime_core import ProviderSpec, hookimpl

from .models import DEFAULT_MODEL, known_models

API_KEY_ENV: tuple[str, ...] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

VARIANTS = {
    "text": {"model": "gemini-3.1-flash-live-preview", "response_modality": "text"},
    "manual": {"manual_activity": True},
}
"""Named configurations: text replies (a model that still offers them) and manual turns (the conformance
kit runs them)."""


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(
        ProviderSpec(
            name="gemini",
            session_class="realtime_gemini.session:GeminiRealtime",
            description="Google Gemini Live (BidiGenerateContent over WebSocket), with session resumption and video",
            capabilities="realtime_gemini.capabilities:default_capabilities",
            emulator="realtime_gemini.emulator:GeminiEmulator",
            api_key_env=API_KEY_ENV,
            models=known_models(),
            default_model=DEFAULT_MODEL,
            variants=VARIANTS,
        )
    )
