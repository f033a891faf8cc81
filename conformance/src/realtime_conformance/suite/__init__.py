"""The contract, as mixin test classes grouped by area (one module per area)."""

from .audio import AudioTests
from .capabilities import CapabilityTests
from .errors import ErrorTests
from .inputs import InputTests, PatternTrack
from .interruption import InterruptionTests
from .lifecycle import LifecycleTests
from .observers import ObserverTests
from .tools import ToolTests
from .transcripts import TranscriptTests


class ConformanceSuite(
    LifecycleTests,
    AudioTests,
    TranscriptTests,
    InterruptionTests,
    ToolTests,
    InputTests,
    ErrorTests,
    CapabilityTests,
    ObserverTests,
):
    """Every clause of the contract. Combine with a :class:`~realtime_conformance.ProviderFixtures` subclass."""


__all__ = [
    "AudioTests",
    "CapabilityTests",
    "ConformanceSuite",
    "ErrorTests",
    "InputTests",
    "InterruptionTests",
    "LifecycleTests",
    "ObserverTests",
    "PatternTrack",
    "ToolTests",
    "TranscriptTests",
]
