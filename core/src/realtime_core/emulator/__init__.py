"""Building blocks for provider emulators: scenarios, the scenario player, energy VAD, the loopback
server harness and the run-time TLS CA. Each provider plugin ships an emulator built from these."""

from .engine import PlannedReply, PlannedToolCall, PlannedTurn, ScenarioPlayer, describe_speech
from .scenario import Fault, Reply, Scenario, ToolCallSpec, Turn, VadSettings, load_scenario, scenario_json_schema
from .server import FACTS, EmulatorServer, Fact, ReceivedMessage, WebEmulator
from .tls import TestCertificateAuthority, shared_test_ca
from .vad import EnergyVad, VadEvent

__all__ = [
    "FACTS",
    "Fact",
    "EmulatorServer",
    "EnergyVad",
    "Fault",
    "PlannedReply",
    "PlannedToolCall",
    "PlannedTurn",
    "ReceivedMessage",
    "Reply",
    "Scenario",
    "ScenarioPlayer",
    "TestCertificateAuthority",
    "ToolCallSpec",
    "Turn",
    "VadEvent",
    "VadSettings",
    "WebEmulator",
    "describe_speech",
    "load_scenario",
    "scenario_json_schema",
    "shared_test_ca",
]
