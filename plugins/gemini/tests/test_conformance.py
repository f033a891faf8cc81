"""The conformance kit against the Gemini plugin and its emulator: the default model, under realistic latency,
and the other rule sets (3.1 with text replies, 2.5 native audio over text frames, extended thinking)."""

from __future__ import annotations

from typing import Any, ClassVar

from realtime_conformance import ConformanceSuite, ProviderFixtures


class TestGeminiConformance(ConformanceSuite, ProviderFixtures):
    provider = "gemini"
    label = "gemini 3.8 live (default model)"
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"manual_activity": True}


class TestGeminiRealisticLatencyConformance(ConformanceSuite, ProviderFixtures):
    provider = "gemini"
    label = "gemini 3.8 live, realistic latency"
    emulator_options: ClassVar[dict[str, Any]] = {"latency": "realistic"}
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"manual_activity": True}


class TestGemini31Conformance(ConformanceSuite, ProviderFixtures):
    provider = "gemini"
    label = "gemini 3.1 (legacy, text replies too)"
    session_options: ClassVar[dict[str, Any]] = {"model": "gemini-3.1-flash-live-preview"}
    text_mode_options: ClassVar[dict[str, Any] | None] = {"response_modality": "text"}
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"manual_activity": True}


class TestGemini25Conformance(ConformanceSuite, ProviderFixtures):
    provider = "gemini"
    label = "gemini 2.5 native audio (text frames)"
    session_options: ClassVar[dict[str, Any]] = {"model": "gemini-2.5-flash-native-audio-preview-12-2025"}
    emulator_options: ClassVar[dict[str, Any]] = {"frames": "text"}
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"manual_activity": True}


class TestGeminiExtendedThinkingConformance(ConformanceSuite, ProviderFixtures):
    provider = "gemini"
    label = "gemini 3.8 live extended thinking (staged replies, async tools)"
    session_options: ClassVar[dict[str, Any]] = {"model": "gemini-3.8-live-extended-thinking"}
