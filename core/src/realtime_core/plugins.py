"""Plugin discovery: the entry-point group ``realtime``, the provider registry, ``load`` and ``connect``.

Every installed distribution that declares ``[project.entry-points.realtime]`` is imported once, the first
time something asks for providers. A plugin that fails to import is recorded (see :func:`plugin_errors`)
and does not stop the others from loading. ``REALTIME_LOAD_PLUGINS=openai,gemini`` restricts loading to
the named entry points or distributions (an empty value loads none), which helps when debugging a plugin
or isolating one under test.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import re
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError, ProviderNotFoundError

if TYPE_CHECKING:
    from .capabilities import Capabilities
    from .emulator.server import EmulatorServer
    from .session import Realtime

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginLoadFailure",
    "ProviderSpec",
    "connect",
    "get_plugin_manager",
    "get_provider",
    "hookimpl",
    "list_plugins",
    "load",
    "plugin_errors",
    "providers",
    "register_plugin",
    "reset_plugins",
    "unregister_plugin",
]

log = logging.getLogger("realtime_core.plugins")
ENTRY_POINT_GROUP = "realtime"
ENV_LOAD_PLUGINS = "REALTIME_LOAD_PLUGINS"
hookimpl = hookspecs.hookimpl
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


def _resolve(ref: str) -> Any:
    """``"package.module:attribute"`` -> the attribute (imported now)."""
    module, _, attr = ref.partition(":")
    if not module or not attr:
        raise ConfigurationError(f"a lazy reference must look like 'package.module:name', got {ref!r}")
    return getattr(importlib.import_module(module), attr)


def _no_capabilities() -> Capabilities:
    from .capabilities import Capabilities

    return Capabilities()


@dataclass(frozen=True)
class ProviderSpec:
    """How a plugin describes one provider.

    Discovery reads every installed plugin's registration, so keep it cheap: name the session class, the
    capabilities function and the emulator factory as ``"package.module:name"`` strings, and they are
    imported only when a session, the capabilities or the emulator is asked for.

    :param name: the provider name users pass to :func:`load` (lower case, e.g. ``"openai"``).
    :param session_class: the :class:`~realtime_core.Realtime` subclass (or any factory taking keyword
        options and returning one), or its ``"module:name"``.
    :param description: one line for ``realtime providers``.
    :param capabilities: what a session built with default options supports: a :class:`Capabilities`, a
        function returning one, or its ``"module:name"``.
    :param emulator: factory for the plugin's loopback emulator (or its ``"module:name"``): called as
        ``emulator(scenario=..., tls=..., **options)`` and returning an
        :class:`~realtime_core.emulator.EmulatorServer`. Used by ``realtime emulate``, ``realtime demo``
        and the conformance kit.
    :param api_key_env: environment variables the plugin reads its key from, in order.
    :param models: known model names; ``default_model`` is the one used when none is given.
    :param variants: named configurations worth testing (``{"text": {"modality": "text"}}``): the
        conformance kit runs them, ``realtime providers NAME`` lists them. ``"text"`` selects text
        replies and ``"manual"`` manual turns. ``None`` (the default) names nothing, so the kit reports
        those clauses as not exercised; ``{}`` says the provider has no other configuration.
    """

    name: str
    session_class: Callable[..., Realtime] | str
    description: str = ""
    capabilities: Capabilities | Callable[[], Capabilities] | str = _no_capabilities
    emulator: Callable[..., EmulatorServer] | str | None = None
    api_key_env: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    default_model: str | None = None
    variants: Mapping[str, Mapping[str, Any]] | None = None
    distribution: str | None = None
    version: str | None = None
    plugin: str | None = None

    def resolve_session_class(self) -> Callable[..., Realtime]:
        ref = self.session_class
        return _resolve(ref) if isinstance(ref, str) else ref

    def resolve_capabilities(self) -> Capabilities:
        """The default capabilities (imports the plugin's capabilities module if named lazily)."""
        ref = self.capabilities
        found: Any = _resolve(ref) if isinstance(ref, str) else ref
        caps = found() if callable(found) else found
        from .capabilities import Capabilities

        if not isinstance(caps, Capabilities):
            raise ConfigurationError(f"provider {self.name!r} declares capabilities that are not Capabilities: {caps!r}")
        return caps

    def resolve_emulator(self) -> Callable[..., EmulatorServer] | None:
        """The emulator factory (importing it if named lazily).

        :raises ConfigurationError: the emulator's packages are not installed (naming the extra to install).
        """
        ref = self.emulator
        if not isinstance(ref, str):
            return ref
        try:
            return _resolve(ref)
        except ImportError as exc:
            if exc.name is None or exc.name.split(".")[0] in ref:  # a bug in the plugin, not a missing extra
                raise
            dist = self.distribution or f"realtime-{self.name}"
            raise ConfigurationError(
                f"the {self.name} emulator needs packages that are not installed ({exc.name}): "
                f"pip install '{dist}[emulator]'"
            ) from None

    def create(self, **options: Any) -> Realtime:
        """Build a session with ``options`` (the session class's keyword arguments).

        :raises ConfigurationError: an unknown option (with the closest known name) or a value of the
            wrong type, before anything is built.
        """
        session_class = self.resolve_session_class()
        if isinstance(session_class, type):
            from .options import check_options

            check_options(self.name, session_class, options)
        return session_class(**options)


@dataclass(frozen=True)
class PluginLoadFailure:
    """A plugin that could not be loaded or registered, and why."""

    plugin: str
    distribution: str | None
    error: str

    def __str__(self) -> str:
        dist = f" ({self.distribution})" if self.distribution else ""
        return f"{self.plugin}{dist}: {self.error}"


@dataclass(frozen=True)
class PluginInfo:
    """An installed plugin: its entry-point name, distribution, version and implemented hooks."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


class _Registry:
    def __init__(self) -> None:
        self.pm: pluggy.PluginManager | None = None
        self.failures: list[PluginLoadFailure] = []  # import failures (entry points load once)
        self.register_failures: list[PluginLoadFailure] = []  # recomputed with the provider list
        self.dists: dict[str, tuple[str | None, str | None]] = {}
        self.generation = 0
        self._providers: dict[str, ProviderSpec] | None = None

    def manager(self) -> pluggy.PluginManager:
        if self.pm is None:
            pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            pm.add_hookspecs(hookspecs)
            self.pm = pm
            self._load_entry_points(pm)
        return self.pm

    def _load_entry_points(self, pm: pluggy.PluginManager) -> None:
        wanted = os.environ.get(ENV_LOAD_PLUGINS)
        allowed = None if wanted is None else {w.strip().lower() for w in wanted.split(",") if w.strip()}
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist_name = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if allowed is not None and ep.name.lower() not in allowed and (dist_name or "").lower() not in allowed:
                continue
            if pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not break the others
                failure = PluginLoadFailure(ep.name, dist_name, f"{type(exc).__name__}: {exc}")
                self.failures.append(failure)
                log.warning("realtime plugin %s failed to load: %s", ep.name, failure.error)
                continue
            self.dists[ep.name] = (dist_name, version)
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.failures.append(PluginLoadFailure(str(exc.plugin), None, str(exc)))
            log.warning("realtime plugin implements an unknown hook: %s", exc)
        self.generation += 1

    def providers(self) -> dict[str, ProviderSpec]:
        pm = self.manager()
        if self._providers is not None:
            return self._providers
        found: dict[str, ProviderSpec] = {}
        self.register_failures = []
        for impl in pm.hook.realtime_register_providers.get_hookimpls():
            plugin_name = pm.get_name(impl.plugin) or repr(impl.plugin)
            dist, version = self.dists.get(plugin_name, (None, None))

            def register(spec: ProviderSpec, *, _plugin: str = plugin_name, _d: Any = dist, _v: Any = version) -> None:
                if not isinstance(spec, ProviderSpec):  # pyright: ignore[reportUnnecessaryIsInstance]
                    raise ConfigurationError(f"register() takes a ProviderSpec, got {type(spec).__name__}")
                if not _NAME_RE.match(spec.name):
                    raise ConfigurationError(f"provider name {spec.name!r} must be lower case letters/digits/-/_")
                if spec.name in found:
                    raise ConfigurationError(
                        f"provider {spec.name!r} is already registered by {found[spec.name].plugin}"
                    )
                found[spec.name] = replace(
                    spec, distribution=spec.distribution or _d, version=spec.version or _v, plugin=_plugin
                )

            try:
                impl.function(register=register)
            except Exception as exc:
                failure = PluginLoadFailure(plugin_name, dist, f"{type(exc).__name__}: {exc}")
                self.register_failures.append(failure)
                log.warning("realtime plugin %s failed to register providers: %s", plugin_name, failure.error)
        self._providers = found
        return found

    def changed(self) -> None:
        self._providers = None
        self.generation += 1


_registry = _Registry()


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide pluggy manager, with entry-point plugins loaded."""
    return _registry.manager()


def plugin_generation() -> int:
    """A counter that changes whenever plugins are (un)registered; sessions use it to cache hook lookups."""
    return _registry.generation


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Register a plugin object or module in-process (tests, apps with local observers).

    :return: the name it was registered under (pass it or the object to :func:`unregister_plugin`).
    """
    pm = get_plugin_manager()
    registered = pm.register(plugin, name=name)
    if registered is None:
        raise ConfigurationError(f"plugin {name or plugin!r} is blocked or already registered")
    pm.check_pending()
    _registry.changed()
    return registered


def unregister_plugin(plugin: object | str) -> None:
    """Remove a plugin registered with :func:`register_plugin` (by object or name)."""
    pm = get_plugin_manager()
    if isinstance(plugin, str):
        pm.unregister(name=plugin)
    else:
        pm.unregister(plugin)
    _registry.changed()


def reset_plugins() -> None:
    """Forget all plugins; the next lookup loads entry points again (honouring ``REALTIME_LOAD_PLUGINS``)."""
    global _registry
    generation = _registry.generation
    _registry = _Registry()
    _registry.generation = generation + 1


def plugin_errors() -> list[PluginLoadFailure]:
    """Plugins that failed to import or register, with the error text."""
    _registry.providers()
    return [*_registry.failures, *_registry.register_failures]


def list_plugins() -> list[PluginInfo]:
    """Every registered plugin with its distribution, version and the hooks it implements."""
    pm = get_plugin_manager()
    out: list[PluginInfo] = []
    for name, plugin in pm.list_name_plugin():
        dist, version = _registry.dists.get(name, (None, None))
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        out.append(PluginInfo(name, dist, version, hooks))
    return out


def providers() -> list[ProviderSpec]:
    """Every installed provider, sorted by name, with distribution, version and default capabilities."""
    return sorted(_registry.providers().values(), key=lambda spec: spec.name)


def get_provider(name: str) -> ProviderSpec:
    """The provider registered as ``name``.

    :raises ProviderNotFoundError: listing what is installed (and what failed to load).
    """
    found = _registry.providers()
    spec = found.get(name.lower().strip()) if isinstance(name, str) else None  # pyright: ignore[reportUnnecessaryIsInstance]
    if spec is None:
        import difflib

        installed = sorted(found)
        close = difflib.get_close_matches(str(name).lower().strip(), installed, n=1, cutoff=0.75)
        msg = f"unknown realtime provider {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        msg += f"; installed providers: {', '.join(installed) or 'none'}"
        failures = [str(f) for f in (*_registry.failures, *_registry.register_failures)]
        if failures:
            msg += "; failed to load: " + "; ".join(failures)
        if not close:  # never a package name built from what the user typed
            msg += ". Provider plugins are separate packages, e.g. `pip install realtime-openai`; `realtime providers` lists what is installed"
        raise ProviderNotFoundError(msg)
    return spec


def load(name: str, **options: Any) -> Realtime:
    """Build an (unconnected) session of provider ``name`` with ``options``.

    >>> session = realtime_core.load("openai", voice="marin", instructions="Be brief.")
    """
    return get_provider(name).create(**options)


class Connecting:
    """What :func:`connect` returns: use it with ``async with`` (closed on exit) or ``await`` it (then close
    the session yourself). The session is built at once, so option errors raise right away."""

    def __init__(self, session: Realtime) -> None:
        self.session = session

    def __await__(self) -> Generator[Any, None, Realtime]:
        return self._connect().__await__()

    async def _connect(self) -> Realtime:
        try:
            await self.session.connect()
        except BaseException:
            await self.session.close()
            raise
        return self.session

    async def __aenter__(self) -> Realtime:
        return await self._connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()


def connect(name: str, **options: Any) -> Connecting:
    """Build and connect a session of provider ``name``, in either form::

        async with realtime_core.connect("gemini", instructions="Be brief.") as session:
            ...                                   # closed on exit

        session = await realtime_core.connect("gemini")   # yours to close: await session.close()
    """
    return Connecting(load(name, **options))


def provider_names(specs: Iterable[ProviderSpec] | None = None) -> list[str]:
    return [s.name for s in (specs if specs is not None else providers())]
