"""The realtime conformance kit against the Nova emulator (real SDK, real HTTP/2, real TLS)."""

from __future__ import annotations

import realtime_core
from realtime_conformance import ConformanceSuite, ProviderFixtures


class TestNovaConformance(ConformanceSuite, ProviderFixtures):
    provider = "nova"


class TestNovaSonic1Conformance(ConformanceSuite, ProviderFixtures):
    """Nova Sonic 1: the same contract, without text input."""

    provider = "nova"
    label = "nova-sonic-v1"
    session_options = {"model": "amazon.nova-sonic-v1:0"}


def test_registered_through_entry_point() -> None:
    assert "nova" in [spec.name for spec in realtime_core.providers()]


class TestNovaConformanceRealisticLatency(ConformanceSuite, ProviderFixtures):
    """The same contract with the emulator answering like the real service (about 450 ms to the first
    audio, audio paced at real time): races that instant replies hide show here."""

    provider = "nova"
    label = "nova-realistic-latency"
    emulator_options = {"latency": "realistic"}
