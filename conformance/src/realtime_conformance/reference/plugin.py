"""Registration of the reference provider (what a plugin's entry point module looks like)."""

from __future__ import annotations

from collections.abc import Callable

from realtime_core import ProviderSpec, hookimpl

from .capabilities import build_capabilities
from .emulator import ReferenceEmulator
from .session import ReferenceRealtime

SPEC = ProviderSpec(
    name="reference",
    session_class=ReferenceRealtime,
    description="The conformance kit's reference provider (JSON over WebSocket)",
    capabilities=build_capabilities(),
    emulator=ReferenceEmulator,
    api_key_env=ReferenceRealtime.api_key_env,
)


@hookimpl
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(SPEC)
