"""The conformance kit against the Gemini plugin and its emulator, in both protocol profiles."""

from __future__ import annotations

from typing import Any, ClassVar

from realtime_conformance import ConformanceSuite, ProviderFixtures


class TestGeminiConformance(ConformanceSuite, ProviderFixtures):
    provider = "gemini"
    label = "gemini 3.1 (default model)"
    text_mode_options: ClassVar[dict[str, Any] | None] = {"response_modality": "text"}
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"manual_activity": True}


class TestGemini25Conformance(ConformanceSuite, ProviderFixtures):
    provider = "gemini"
    label = "gemini 2.5 native audio (text frames)"
    session_options: ClassVar[dict[str, Any]] = {"model": "gemini-2.5-flash-native-audio-preview-12-2025"}
    emulator_options: ClassVar[dict[str, Any]] = {"frames": "text"}
    text_mode_options: ClassVar[dict[str, Any] | None] = {"response_modality": "text"}
    manual_turn_options: ClassVar[dict[str, Any] | None] = {"manual_activity": True}
