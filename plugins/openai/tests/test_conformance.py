"""The realtime-conformance kit against the OpenAI plugin and its emulator.

Two configurations: the defaults, and a variant over TLS with ``say`` on, semantic VAD, and the
emulator's switches for the protocol's open points flipped (so the client is shown not to depend on them).
"""

from __future__ import annotations

from typing import Any, ClassVar

from realtime_conformance import ConformanceSuite, ProviderFixtures


class TestOpenAIConformance(ConformanceSuite, ProviderFixtures):
    provider = "openai"
    text_mode_options: ClassVar[dict[str, Any] | None] = {"modality": "text"}
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"turn_detection": None}


class TestOpenAIConformanceVariant(ConformanceSuite, ProviderFixtures):
    provider = "openai"
    label = "openai (tls, say, semantic vad, switches flipped)"
    session_options: ClassVar[dict[str, Any]] = {"say_mode": "instructions", "turn_detection": "semantic_vad"}
    emulator_options: ClassVar[dict[str, Any]] = {
        "tls": True,
        "rate_limits_at": "start",
        "content_part_types": "output_audio",
        "transcription_timing": "before_response",
        "assistant_item_done": False,
        "expire_close_code": 1001,
    }
    text_mode_options: ClassVar[dict[str, Any] | None] = {"modality": "text"}
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"turn_detection": None}


class TestOpenAIWebRtcConformance(ConformanceSuite, ProviderFixtures):
    """The same kit over WebRTC: aiortc on both sides, events on the data channel, Opus audio on the tracks.

    The emulator plays reply audio out 4x faster than real time (the protocol does not care, and the tests
    stay short); everything else is as a real peer does it.
    """

    provider = "openai"
    label = "openai (webrtc)"
    session_options: ClassVar[dict[str, Any]] = {"transport": "webrtc"}
    emulator_options: ClassVar[dict[str, Any]] = {"webrtc_playout_speed": 4.0}
    text_mode_options: ClassVar[dict[str, Any] | None] = {"modality": "text"}
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"turn_detection": None}


class TestOpenAIRealisticLatencyConformance(ConformanceSuite, ProviderFixtures):
    """The kit with the emulator answering like a real service (~450 ms to the first audio, real-time pace)."""

    provider = "openai"
    label = "openai (realistic latency)"
    emulator_options: ClassVar[dict[str, Any]] = {"latency": "realistic"}
    text_mode_options: ClassVar[dict[str, Any] | None] = {"modality": "text"}
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"turn_detection": None}
