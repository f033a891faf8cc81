"""The one class a plugin author fills in to run the suite against their provider."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from realtime_core import Capabilities, ConfigurationError, ProviderSpec, Realtime, ReconnectPolicy, get_provider
from realtime_core.emulator import EmulatorServer, Scenario
from realtime_core.testing import FaultProxy

from .clauses import ClauseInfo, not_exercised
from .harness import Harness
from .requirements import Requirements

__all__ = ["HarnessFactory", "ProviderFixtures", "spec_variants"]

HarnessFactory = Callable[..., Awaitable[Harness]]


def spec_variants(spec: ProviderSpec) -> dict[str, dict[str, Any]] | None:
    """The named configurations a plugin registers (``ProviderSpec.variants``: name -> session options;
    ``"text"`` selects text replies, ``"manual"`` manual turns), or None when it names none. An empty mapping
    says the provider has no other configuration. Read with getattr: older realtime-core releases have no
    such field."""
    variants: Mapping[str, Mapping[str, Any]] | None = getattr(spec, "variants", None)
    if variants is None:
        return None
    return {name: dict(options) for name, options in variants.items()}


class ProviderFixtures:
    """How to build sessions and emulators for one provider configuration.

    Minimal use (the provider is found through its entry point)::

        class TestAcmeConformance(ConformanceSuite, ProviderFixtures):
            provider = "acme"

    Override the class attributes for options, or the ``make_*`` methods for full control.
    """

    provider: ClassVar[str] = ""
    """The registered provider name."""
    label: ClassVar[str | None] = None
    """Name of this configuration in reports (default: the provider name)."""
    session_options: ClassVar[dict[str, Any]] = {}
    """Extra keyword arguments for every session (model, voice...)."""
    emulator_options: ClassVar[dict[str, Any]] = {}
    """Extra keyword arguments for the emulator (profiles, switches)."""
    text_mode_options: ClassVar[dict[str, Any] | None] = None
    """Session options that select text replies (default: the plugin's registered ``"text"`` variant)."""
    manual_turn_options: ClassVar[dict[str, Any] | None] = None
    """Session options that select manual turn-taking (default: the registered ``"manual"`` variant)."""
    requirements_class: ClassVar[type[Requirements]] = Requirements
    known_failures: ClassVar[dict[str, str]] = {}
    """Clause ids expected to fail, with the reason; a known failure that passes is reported as stale."""
    live: ClassVar[bool] = False
    """Run against the real service (also switched on by ``--realtime-live``)."""
    timeout: ClassVar[float] = 10.0
    """Seconds any single wait may take offline (live runs allow three times as much)."""

    _live_flag: ClassVar[bool] = False  # set by the pytest plugin from --realtime-live
    _requirements_cache: ClassVar[dict[tuple[type, bool], Requirements]] = {}
    _emulator_class_cache: ClassVar[dict[type, type[EmulatorServer] | None]] = {}
    expecting_failure: bool = False
    current_clause: ClauseInfo | None = None

    # ------------------------------------------------------------------ what authors override
    def spec(self) -> ProviderSpec:
        if not self.provider:
            raise pytest.UsageError(f"{type(self).__name__} must set `provider = '<registered name>'`")
        return get_provider(self.provider)

    def make_emulator(self, scenario: Scenario, **options: Any) -> EmulatorServer:
        spec = self.spec()
        factory = spec.resolve_emulator()
        if factory is None:
            not_exercised(f"provider {spec.name!r} ships no emulator")
            raise AssertionError("unreachable")
        return factory(scenario=scenario, **{**self.emulator_options, **options})

    def make_session(self, emulator: EmulatorServer | None, **options: Any) -> Realtime:
        base = emulator.session_options() if emulator is not None else self.live_session_options()
        return self.spec().create(**{**base, **self.session_options, **options})

    def live_session_options(self) -> dict[str, Any]:
        """Options for the real service; the key comes from the provider's environment variable."""
        spec = self.spec()
        if spec.api_key_env and not any(os.environ.get(v) for v in spec.api_key_env):
            not_exercised(f"live mode needs {' or '.join(spec.api_key_env)} in the environment")
        return {}

    # ------------------------------------------------------------------ used by the suite
    @property
    def live_mode(self) -> bool:
        return self.live or type(self)._live_flag

    def variant_options(self, name: str) -> dict[str, Any] | None:
        """Options of the ``"text"`` or ``"manual"`` configuration: the class attribute, else the plugin's
        registered variant of that name, else None (the configuration is not known)."""
        given = {"text": self.text_mode_options, "manual": self.manual_turn_options}.get(name)
        if given is not None:
            return dict(given)
        return (spec_variants(self.spec()) or {}).get(name)

    @property
    def requirements(self) -> Requirements:
        key = (type(self), self.live_mode)
        cached = ProviderFixtures._requirements_cache.get(key)
        if cached is None:
            variants: dict[str, Capabilities] = {}
            for name in ("text", "manual"):
                options = self.variant_options(name)
                if options is not None:
                    variants[name] = self.declared_capabilities(**options)
            named = spec_variants(self.spec()) is not None
            cached = self.requirements_class(self.declared_capabilities(), variants, named=named)
            ProviderFixtures._requirements_cache[key] = cached
        return cached

    def declared_capabilities(self, **options: Any) -> Capabilities:
        """Capabilities of a session built with this configuration (nothing is connected)."""
        emulator = None if self.live_mode else self.make_emulator(Scenario())
        return self.make_session(emulator, **options).capabilities

    def emulator_class(self) -> type[EmulatorServer] | None:
        """The class of this configuration's emulator (what it observes, which faults it injects)."""
        key = type(self)
        if key not in ProviderFixtures._emulator_class_cache:
            spec = self.spec()
            cls = None if spec.resolve_emulator() is None else type(self.make_emulator(Scenario()))
            ProviderFixtures._emulator_class_cache[key] = cls
        return ProviderFixtures._emulator_class_cache[key]

    def expected_failure(self, info: ClauseInfo) -> str | None:
        known = self.known_failures.get(info.id)
        if known:
            return f"known failure: {known}"
        unknown = self.requirements.unknown(info.requires)
        if unknown:
            not_exercised(
                f"whether {', '.join(unknown)} is supported depends on a configuration the kit was not given: "
                "set text_mode_options / manual_turn_options, register ProviderSpec.variants "
                "('text', 'manual'), or give the CLI the options"
            )
        missing = self.requirements.missing(info.requires)
        if missing:
            return "declared unsupported: " + ", ".join(missing)
        return None

    @pytest.fixture(autouse=True)
    def _conformance_reset(self) -> None:
        self.expecting_failure = False
        self.current_clause = None

    @pytest_asyncio.fixture
    async def harness(self) -> AsyncIterator[HarnessFactory]:
        """``h = await harness(scenario, **session_options)``: a started emulator (behind a
        :class:`~realtime_core.testing.FaultProxy` with ``proxy=True``), a session and an event recorder
        (connected unless ``connect=False``); everything is torn down after the test."""
        made: list[Harness] = []

        async def make(
            scenario: Scenario | None = None, *, connect: bool = True, proxy: bool = False, **options: Any
        ) -> Harness:
            timeout = self.timeout * (3 if self.live_mode else 1)
            if self.expecting_failure:
                timeout = min(timeout, 1.5)  # the clause is expected to fail: don't wait long for it
            emulator = None if self.live_mode else self._emulator_for(scenario or Scenario())
            fault_proxy: FaultProxy | None = None
            if emulator is not None:
                await emulator.start()
                if proxy:
                    fault_proxy = FaultProxy(emulator.host, emulator.port)
                    await fault_proxy.start()
                    emulator.advertise(*fault_proxy.address)
            elif proxy:
                not_exercised("a fault proxy needs the emulator")
            options.setdefault("reconnect", ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.5))
            try:
                session = self.make_session(emulator, **options)
            except BaseException:
                if fault_proxy is not None:
                    await fault_proxy.stop()
                if emulator is not None:
                    await emulator.stop()
                raise
            h = Harness(session, emulator, timeout=timeout, live=self.live_mode, proxy=fault_proxy)
            made.append(h)
            if connect:
                await h.connect()
            return h

        yield make
        for h in made:
            await h.aclose()

    def _emulator_for(self, scenario: Scenario) -> EmulatorServer:
        """A new emulator playing ``scenario``; the clause is not exercised if the emulator cannot observe
        what the clause checks or cannot inject the scenario's faults."""
        try:
            emulator = self.make_emulator(scenario)
        except ConfigurationError as exc:
            not_exercised(f"the emulator cannot play the clause's scenario: {exc}")
            raise AssertionError("unreachable") from exc
        info = self.current_clause
        if info is not None and info.observes:
            missing = [n for n in info.observes if not emulator.can_observe(n)]
            if missing:
                declared = ", ".join(sorted(type(emulator).observes)) or "nothing"
                not_exercised(
                    f"the {emulator.provider} emulator cannot observe {', '.join(missing)} "
                    f"(its `observes` declares: {declared})"
                )
        return emulator
