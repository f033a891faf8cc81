"""Calling plugin hooks from a session, cheaply and by the rules in :mod:`realtime_core.hookspecs`.

A session looks hook implementations up once and re-reads them only when plugins change
(:func:`realtime_core.plugins.plugin_generation`). Plain implementations are called directly, in pluggy's
order, each guarded so an exception is logged and the next implementation still runs. A hook with a
wrapper (``wrapper=True`` or ``hookwrapper=True``) is called through pluggy as one call, so the wrapper
really wraps the other implementations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pluggy

from .events import EVENT_TYPES, RealtimeEvent
from .hookspecs import METHOD_HOOKS
from .plugins import get_plugin_manager, plugin_generation

__all__ = ["HookCache"]

log = logging.getLogger("realtime_core.hooks")

Call = Callable[[dict[str, Any]], Any]
"""One hook call: takes the keyword arguments of the hook, returns the implementation's result."""

_CATCH_ALL = RealtimeEvent.hook


def _direct(impl: pluggy.HookImpl) -> Call:
    fn, names = impl.function, tuple(impl.argnames)
    return lambda kwargs: fn(**{name: kwargs.get(name) for name in names})


def _through_pluggy(caller: pluggy.HookCaller) -> Call:
    return lambda kwargs: caller(**kwargs)


def _calls(caller: pluggy.HookCaller) -> list[Call]:
    impls = caller.get_hookimpls()
    if any(impl.wrapper or impl.hookwrapper for impl in impls):
        return [_through_pluggy(caller)]
    return [_direct(impl) for impl in reversed(impls)]  # pluggy calls the latest registered first


class HookCache:
    """The hook implementations one session calls, refreshed when plugins change."""

    def __init__(self) -> None:
        self._generation = -1
        self._events: dict[type[RealtimeEvent], list[Call]] = {}
        self._methods: dict[str, list[Call]] = {}

    def _refresh(self) -> None:
        pm = get_plugin_manager()
        generation = plugin_generation()  # read after loading: loading entry points bumps it
        hook = pm.hook
        catch_all = _calls(getattr(hook, _CATCH_ALL))
        self._events = {cls: catch_all + _calls(getattr(hook, cls.hook)) for cls in EVENT_TYPES}
        self._events[RealtimeEvent] = catch_all
        self._methods = {name: _calls(getattr(hook, name)) for name in METHOD_HOOKS}
        self._generation = generation

    def event_calls(self, cls: type[RealtimeEvent]) -> list[Call]:
        """The calls for an event of class ``cls`` (a plugin's own subclass uses its nearest known base)."""
        if self._generation != plugin_generation():
            self._refresh()
        found = self._events.get(cls)
        if found is None:
            base = next(b for b in cls.__mro__ if b in self._events)
            found = self._events[cls] = self._events[base]
        return found

    def has_method_hook(self, name: str) -> bool:
        if self._generation != plugin_generation():
            self._refresh()
        return bool(self._methods[name])

    def call_method_hook(self, name: str, *, first: bool = False, **kwargs: Any) -> Any:
        """Call method hook ``name``; with ``first``, return the first non-None result."""
        if self._generation != plugin_generation():
            self._refresh()
        for call in self._methods[name]:
            try:
                result = call(kwargs)
            except Exception:
                log.exception("realtime plugin hook %s failed", name)
                continue
            if first and result is not None:
                return result
        return None
