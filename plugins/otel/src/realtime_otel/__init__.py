"""realtime-otel: OpenTelemetry traces and metrics for every realtime-core session.

Installed, it is active: the entry point ``otel`` registers :data:`~realtime_otel.plugin.observer`, which
records to the global tracer and meter providers. Call :func:`instrument` to send to providers of your own
and :func:`uninstrument` to stop::

    import realtime_otel
    realtime_otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
"""

from __future__ import annotations

from typing import Any

from realtime_core import get_plugin_manager, register_plugin, unregister_plugin

from .plugin import RealtimeOtel, observer

__all__ = ["RealtimeOtel", "instrument", "observer", "uninstrument"]

PLUGIN_NAME = "otel"


def instrument(*, tracer_provider: Any = None, meter_provider: Any = None) -> RealtimeOtel:
    """Record every session from now on to these providers (None: the global ones).

    Registers the observer if it is not (``REALTIME_LOAD_PLUGINS`` left it out, or after
    :func:`uninstrument`). Sessions already running keep the providers they started with.
    """
    observer.configure(tracer_provider, meter_provider)
    if not get_plugin_manager().is_registered(observer):
        register_plugin(observer, name=PLUGIN_NAME)
    return observer


def uninstrument() -> None:
    """Stop recording: end every open span now, forget every session and unregister the observer."""
    if get_plugin_manager().is_registered(observer):
        unregister_plugin(observer)
    observer.end_all()
