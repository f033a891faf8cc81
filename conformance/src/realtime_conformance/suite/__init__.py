"""The contract (docs/contract.md), as mixin test classes grouped by area (one module per area)."""

from .audio import AudioTests
from .capabilities import CapabilityTests
from .errors import ErrorTests
from .inputs import InputTests, PatternTrack
from .interruption import InterruptionTests
from .lifecycle import LifecycleTests
from .liveness import LivenessTests
from .observers import ObserverTests
from .setup import SetupTests
from .tools import ToolTests
from .transcripts import TranscriptTests


class ConformanceSuite(
    LifecycleTests,
    SetupTests,
    AudioTests,
    TranscriptTests,
    InterruptionTests,
    ToolTests,
    InputTests,
    ErrorTests,
    LivenessTests,
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
    "LivenessTests",
    "ObserverTests",
    "PatternTrack",
    "SetupTests",
    "ToolTests",
    "TranscriptTests",
]
