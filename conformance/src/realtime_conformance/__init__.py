"""realtime-conformance: prove a realtime-core provider plugin right.

In a plugin's test suite::

    from realtime_conformance import ConformanceSuite, ProviderFixtures

    class TestAcme(ConformanceSuite, ProviderFixtures):
        provider = "acme"

From the command line: ``realtime-conformance acme [--live] [--report r.json] [--markdown r.md]``.
"""

from .clauses import CLAUSES, ClauseFailure, ClauseInfo, clause, expect, not_applicable, not_exercised
from .fixtures import HarnessFactory, ProviderFixtures
from .harness import Harness
from .report import ClauseResult, Report, load_reports, markdown_matrix
from .requirements import Requirements
from .suite import (
    AudioTests,
    CapabilityTests,
    ConformanceSuite,
    ErrorTests,
    InputTests,
    InterruptionTests,
    LifecycleTests,
    LivenessTests,
    ObserverTests,
    PatternTrack,
    SetupTests,
    ToolTests,
    TranscriptTests,
)

__version__ = "0.2.0"

__all__ = [
    "CLAUSES",
    "AudioTests",
    "CapabilityTests",
    "ClauseFailure",
    "ClauseInfo",
    "ClauseResult",
    "ConformanceSuite",
    "ErrorTests",
    "Harness",
    "HarnessFactory",
    "InputTests",
    "InterruptionTests",
    "LifecycleTests",
    "LivenessTests",
    "ObserverTests",
    "PatternTrack",
    "ProviderFixtures",
    "Report",
    "Requirements",
    "SetupTests",
    "ToolTests",
    "TranscriptTests",
    "__version__",
    "clause",
    "expect",
    "load_reports",
    "markdown_matrix",
    "not_applicable",
    "not_exercised",
]
