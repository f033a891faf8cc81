"""Building blocks for provider emulators: scenarios, the scenario player, the connection framework
(:class:`EmulatorConnection`: tasks, fault scheduling, the turn template), facts and audio counts for the
conformance kit, latency profiles, energy VAD, the loopback server harness and the run-time TLS CA. Each
provider plugin ships an emulator built from these; docs/writing-a-provider.md shows how."""

from .connection import EmulatorConnection
from .engine import PlannedReply, PlannedToolCall, PlannedTurn, ScenarioPlayer, describe_speech
from .exceptions import BadMessage, ConnectionGone, TurnAborted
from .facts import AUDIO_ACCOUNTING, CONFIG_FIELDS, FACTS, AudioTally, Fact, audio_format, session_config, tool_spec
from .faults import (
    FAULT_KINDS,
    FAULT_PHASES,
    FRAMEWORK_FAULT_KINDS,
    LEGACY_FAULT_KINDS,
    MALFORMED_VARIANTS,
    hostile_frame,
)
from .info import ConnectionInfo
from .latency import LATENCY_PRESETS, LatencyProfile, resolve_latency
from .scenario import (
    Fault,
    FaultKind,
    FaultPhase,
    MalformedVariant,
    Reply,
    Scenario,
    ToolCallSpec,
    Turn,
    VadSettings,
    load_scenario,
    scenario_json_schema,
)
from .server import EmulatorServer, ReceivedMessage, WebEmulator
from .tls import TestCertificateAuthority, shared_test_ca
from .turns import ReplyStream, TurnPlayer, reply_steps
from .vad import EnergyVad, VadEvent
from .websocket import WebSocketConnection

__all__ = [
    "AUDIO_ACCOUNTING",
    "CONFIG_FIELDS",
    "FACTS",
    "FAULT_KINDS",
    "FAULT_PHASES",
    "FRAMEWORK_FAULT_KINDS",
    "LATENCY_PRESETS",
    "LEGACY_FAULT_KINDS",
    "MALFORMED_VARIANTS",
    "AudioTally",
    "BadMessage",
    "ConnectionGone",
    "ConnectionInfo",
    "EmulatorConnection",
    "EmulatorServer",
    "EnergyVad",
    "Fact",
    "Fault",
    "FaultKind",
    "FaultPhase",
    "LatencyProfile",
    "MalformedVariant",
    "PlannedReply",
    "PlannedToolCall",
    "PlannedTurn",
    "ReceivedMessage",
    "Reply",
    "ReplyStream",
    "Scenario",
    "ScenarioPlayer",
    "TestCertificateAuthority",
    "ToolCallSpec",
    "Turn",
    "TurnAborted",
    "TurnPlayer",
    "VadEvent",
    "VadSettings",
    "WebEmulator",
    "WebSocketConnection",
    "audio_format",
    "describe_speech",
    "hostile_frame",
    "load_scenario",
    "reply_steps",
    "resolve_latency",
    "scenario_json_schema",
    "session_config",
    "shared_test_ca",
    "tool_spec",
]
