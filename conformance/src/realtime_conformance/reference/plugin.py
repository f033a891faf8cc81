"""Registration of the reference provider (what a plugin's entry point module looks like)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime_core import ProviderSpec, hookimpl

from .capabilities import build_capabilities
from .emulator import ReferenceEmulator
from .session import ReferenceRealtime

VARIANTS: dict[str, dict[str, Any]] = {"text": {"modality": "text"}, "manual": {"turn_detection": "manual"}}
"""Named configurations: text replies and manual turns (the conformance kit runs those clauses with them)."""

SPEC = ProviderSpec(
    name="reference",
    session_class=ReferenceRealtime,
    description="The conformance kit's reference provider (JSON over WebSocket)",
    capabilities=build_capabilities(),
    emulator=ReferenceEmulator,
    api_key_env=ReferenceRealtime.api_key_env,
    variants=VARIANTS,
)


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(SPEC)
