"""The kit against its own reference provider: every clause must pass (or be honestly unsupported)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from realtime_conformance import ConformanceSuite, ProviderFixtures
from realtime_conformance.reference import plugin as reference_plugin
from realtime_core import register_plugin, unregister_plugin


@pytest.fixture(scope="module", autouse=True)
def reference_provider() -> Iterator[None]:
    name = register_plugin(reference_plugin, name="reference-provider")
    yield
    unregister_plugin(name)


class TestReference(ConformanceSuite, ProviderFixtures):
    provider = "reference"
    text_mode_options = {"modality": "text"}
    manual_turn_options = {"turn_detection": "manual"}
