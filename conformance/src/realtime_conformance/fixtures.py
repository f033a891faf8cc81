"""The one class a plugin author fills in to run the suite against their provider."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from realtime_core import Capabilities, ProviderSpec, Realtime, ReconnectPolicy, get_provider
from realtime_core.emulator import EmulatorServer, Scenario

from .clauses import ClauseInfo
from .harness import Harness
from .requirements import Requirements

__all__ = ["HarnessFactory", "ProviderFixtures"]

HarnessFactory = Callable[..., Awaitable[Harness]]


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
    """Session options that select text replies, if the provider has them."""
    manual_turn_options: ClassVar[dict[str, Any] | None] = None
    """Session options that select manual turn-taking, if the provider has it."""
    requirements_class: ClassVar[type[Requirements]] = Requirements
    known_failures: ClassVar[dict[str, str]] = {}
    """Clause ids expected to fail, with the reason; a known failure that passes is reported as stale."""
    live: ClassVar[bool] = False
    """Run against the real service (also switched on by ``--realtime-live``)."""
    timeout: ClassVar[float] = 10.0
    """Seconds any single wait may take offline (live runs allow three times as much)."""

    _live_flag: ClassVar[bool] = False  # set by the pytest plugin from --realtime-live
    _requirements_cache: ClassVar[dict[tuple[type, bool], Requirements]] = {}
    expecting_failure: bool = False

    # ------------------------------------------------------------------ what authors override
    def spec(self) -> ProviderSpec:
        if not self.provider:
            raise pytest.UsageError(f"{type(self).__name__} must set `provider = '<registered name>'`")
        return get_provider(self.provider)

    def make_emulator(self, scenario: Scenario, **options: Any) -> EmulatorServer:
        spec = self.spec()
        factory = spec.resolve_emulator()
        if factory is None:
            pytest.skip(f"provider {spec.name!r} ships no emulator")
        return factory(scenario=scenario, **{**self.emulator_options, **options})

    def make_session(self, emulator: EmulatorServer | None, **options: Any) -> Realtime:
        base = emulator.session_options() if emulator is not None else self.live_session_options()
        return self.spec().create(**{**base, **self.session_options, **options})

    def live_session_options(self) -> dict[str, Any]:
        """Options for the real service; the key comes from the provider's environment variable."""
        spec = self.spec()
        if spec.api_key_env and not any(os.environ.get(v) for v in spec.api_key_env):
            pytest.skip(f"live mode needs {' or '.join(spec.api_key_env)} in the environment")
        return {}

    # ------------------------------------------------------------------ used by the suite
    @property
    def live_mode(self) -> bool:
        return self.live or type(self)._live_flag

    @property
    def requirements(self) -> Requirements:
        key = (type(self), self.live_mode)
        cached = ProviderFixtures._requirements_cache.get(key)
        if cached is None:
            variants: dict[str, Capabilities] = {}
            if self.text_mode_options is not None:
                variants["text"] = self.declared_capabilities(**self.text_mode_options)
            if self.manual_turn_options is not None:
                variants["manual"] = self.declared_capabilities(**self.manual_turn_options)
            cached = self.requirements_class(self.declared_capabilities(), variants)
            ProviderFixtures._requirements_cache[key] = cached
        return cached

    def declared_capabilities(self, **options: Any) -> Capabilities:
        """Capabilities of a session built with this configuration (nothing is connected)."""
        emulator = None if self.live_mode else self.make_emulator(Scenario())
        return self.make_session(emulator, **options).capabilities

    def expected_failure(self, info: ClauseInfo) -> str | None:
        known = self.known_failures.get(info.id)
        if known:
            return f"known failure: {known}"
        missing = self.requirements.missing(info.requires)
        if missing:
            return "declared unsupported: " + ", ".join(missing)
        return None

    @pytest.fixture(autouse=True)
    def _conformance_reset(self) -> None:
        self.expecting_failure = False

    @pytest_asyncio.fixture
    async def harness(self) -> AsyncIterator[HarnessFactory]:
        """``h = await harness(scenario, **session_options)``: a started emulator, a session and an event
        recorder (connected unless ``connect=False``); everything is torn down after the test."""
        made: list[Harness] = []

        async def make(scenario: Scenario | None = None, *, connect: bool = True, **options: Any) -> Harness:
            timeout = self.timeout * (3 if self.live_mode else 1)
            if self.expecting_failure:
                timeout = min(timeout, 1.5)  # the clause is expected to fail: don't wait long for it
            emulator: EmulatorServer | None = None
            if not self.live_mode:
                emulator = self.make_emulator(scenario or Scenario())
                await emulator.start()
            options.setdefault("reconnect", ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.5))
            try:
                session = self.make_session(emulator, **options)
            except BaseException:
                if emulator is not None:
                    await emulator.stop()
                raise
            h = Harness(session, emulator, timeout=timeout, live=self.live_mode)
            made.append(h)
            if connect:
                await h.connect()
            return h

        yield make
        for h in made:
            await h.aclose()
