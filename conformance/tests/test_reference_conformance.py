"""The kit against its own reference provider: every applicable clause must pass, none unexercised."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from realtime_conformance import ConformanceSuite, ProviderFixtures
from realtime_conformance.reference import plugin as reference_plugin
from realtime_conformance.reference.known_issues import CORE_ISSUES
from realtime_conformance.reference.plugin import VARIANTS
from realtime_core import register_plugin, unregister_plugin


@pytest.fixture(scope="module", autouse=True)
def reference_provider() -> Iterator[None]:
    name = register_plugin(reference_plugin, name="reference-provider")
    yield
    unregister_plugin(name)


class TestReference(ConformanceSuite, ProviderFixtures):
    provider = "reference"
    text_mode_options = VARIANTS["text"]  # the registration names them too (ProviderSpec.variants)
    manual_turn_options = VARIANTS["manual"]
    known_failures = CORE_ISSUES  # defects of realtime-core; reported stale once fixed
