"""What goes over the data channel and the JSON API: events, errors and providers as plain dicts.

Events use their own ``model_dump(mode="json")`` (audio is summarised there, never sent), minus the
fields that carry arbitrary provider objects (``original``, ``user_metadata``). Errors carry the type name
and message only. Nothing here ever includes a key: providers are described by the *names* of the
environment variables they read and whether one is set.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pydantic_core import PydanticSerializationError

from ..events import RealtimeEvent
from ..plugins import ProviderSpec

__all__ = ["describe_error", "describe_provider", "event_to_wire"]

log = logging.getLogger("realtime_core.playground")

_NOT_SENT = frozenset({"original", "user_metadata"})


def event_to_wire(event: RealtimeEvent) -> dict[str, Any]:
    """A JSON-ready dict of ``event`` for the page."""
    exclude = {name for name in _NOT_SENT if name in type(event).model_fields}
    try:
        return event.model_dump(mode="json", exclude=exclude)
    except PydanticSerializationError:
        # a provider put a non-JSON value in a free-form field (raw usage, session_config): drop those
        exclude |= {name for name in ("raw", "session_config") if name in type(event).model_fields}
        log.debug("event %s has fields that are not JSON; sent without %s", event.type, sorted(exclude))
        return event.model_dump(mode="json", exclude=exclude)


def describe_error(exc: BaseException) -> dict[str, Any]:
    """``{"type", "message", "recoverable"}`` for the page's error banner."""
    return {
        "type": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "recoverable": bool(getattr(exc, "recoverable", False)),
    }


def describe_provider(spec: ProviderSpec, *, emulator: bool) -> dict[str, Any]:
    """A provider as the page's picker shows it. ``available`` says whether the playground can start it."""
    key_set = any(os.environ.get(name) for name in spec.api_key_env)
    if emulator:
        available = spec.emulator is not None
        note = "" if available else "ships no emulator"
    else:
        available = True
        note = "" if key_set or not spec.api_key_env else f"no key in {' / '.join(spec.api_key_env)}"
    return {
        "name": spec.name,
        "description": spec.description,
        "distribution": spec.distribution,
        "version": spec.version,
        "default_model": spec.default_model,
        "capabilities": spec.resolve_capabilities().model_dump(mode="json"),
        "has_emulator": spec.emulator is not None,
        "key_env": list(spec.api_key_env),
        "key_set": key_set,
        "available": available,
        "note": note,
    }
