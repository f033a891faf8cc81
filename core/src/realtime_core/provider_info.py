"""What ``realtime providers`` tells about an installed provider, as data (``--json``) and as text.

Everything comes from the provider's registration (:class:`~realtime_core.ProviderSpec`) and its session
class (the options: :mod:`realtime_core.options`); nothing here knows a provider by name.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING, Any

from .options import describe_options

if TYPE_CHECKING:
    from .plugins import PluginInfo, ProviderSpec

__all__ = ["EMULATOR_EXTRA", "describe_observer", "describe_provider", "emulator_available", "provider_lines"]

EMULATOR_EXTRA = "realtime-core[emulator]"
"""What to install for the emulators (the web server, TLS certificates, YAML scenarios)."""


def emulator_available() -> bool:
    """Whether the emulators' dependencies are installed (``realtime-core[emulator]``)."""
    return all(importlib.util.find_spec(m) is not None for m in ("aiohttp", "trustme", "yaml"))


def describe_provider(spec: ProviderSpec, *, options: bool = True) -> dict[str, Any]:
    """Everything about one provider as JSON-ready data (``options=False`` skips importing its session class)."""
    info: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "distribution": spec.distribution,
        "version": spec.version,
        "plugin": spec.plugin,
        "session_class": _qualname(spec.session_class),
        "api_key_env": list(spec.api_key_env),
        "api_key_set": any(os.environ.get(var) for var in spec.api_key_env),
        "models": list(spec.models),
        "default_model": spec.default_model,
        "variants": {name: dict(opts) for name, opts in (spec.variants or {}).items()},
        "emulator": spec.emulator is not None,
        "capabilities": spec.resolve_capabilities().model_dump(mode="json"),
    }
    if options:
        session_class = spec.resolve_session_class()
        info["options"] = [o.as_json() for o in describe_options(session_class)] if isinstance(session_class, type) else []
    return info


def describe_observer(plugin: PluginInfo) -> dict[str, Any]:
    return {"name": plugin.name, "distribution": plugin.distribution, "version": plugin.version, "hooks": list(plugin.hooks)}


def _qualname(ref: object) -> str:
    if isinstance(ref, str):
        return ref
    return f"{getattr(ref, '__module__', '?')}:{getattr(ref, '__qualname__', repr(ref))}"


def provider_lines(info: dict[str, Any]) -> list[str]:
    """The detail view of ``realtime providers NAME``."""
    caps: dict[str, Any] = info["capabilities"]
    source = f"{info['distribution'] or '?'} {info['version'] or ''}".strip()
    lines = [f"{info['name']}: {info['description']}", f"  from        {source} (plugin {info['plugin']}, {info['session_class']})"]
    if info["api_key_env"]:
        state = "set" if info["api_key_set"] else "not set"
        lines.append(f"  key         {' or '.join(info['api_key_env'])} ({state})")
    if info["models"]:
        models = [f"{m} (default)" if m == info["default_model"] else m for m in info["models"]]
        lines.append(f"  models      {', '.join(models)}")
    emulator = "yes" if info["emulator"] else "no"
    if info["emulator"] and not emulator_available():
        emulator += f" (install {EMULATOR_EXTRA} to run it)"
    lines.append(f"  emulator    {emulator}")
    if info["variants"]:
        lines.append("  variants    " + "; ".join(f"{k}: {v}" for k, v in info["variants"].items()))
    lines.append("  capabilities")
    for key, value in caps.items():
        lines.append(f"    {key:24} {value}")
    options: list[dict[str, Any]] = info.get("options") or []
    if options:
        lines.append("  options (provider, then every provider's)")
        for o in options:
            default = "required" if o["required"] else f"default {o['default']!r}"
            text = f"    {o['name']:26} {o['type']}, {default}"
            lines.append(text + (f": {o['description']}" if o["description"] else ""))
    return lines
