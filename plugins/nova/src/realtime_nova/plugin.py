"""The ``realtime`` entry point: registers the ``nova`` provider."""

from __future__ import annotations

from typing import Any

from realtime_core import ProviderSpec, hookimpl

from .capabilities import default_capabilities
from .models import DEFAULT_MODEL, MODELS
from .session import NovaRealtime

__all__ = ["realtime_register_providers"]


def _emulator(**options: Any) -> Any:
    from .emulator import NovaEmulator  # h2 and the emulator load only when an emulator is wanted

    return NovaEmulator(**options)


@hookimpl
def realtime_register_providers(register: Any) -> None:
    register(
        ProviderSpec(
            name="nova",
            session_class=NovaRealtime,
            description="Amazon Nova Sonic over Bedrock's bidirectional HTTP/2 stream",
            capabilities=default_capabilities(),
            emulator=_emulator,
            api_key_env=("AWS_ACCESS_KEY_ID", "AWS_PROFILE"),
            models=tuple(MODELS),
            default_model=DEFAULT_MODEL,
        )
    )
