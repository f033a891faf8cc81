"""The realtime-conformance kit against the Qwen plugin and its emulator, once per model profile.

Each profile runs with text replies (``modality="text"``) and manual turns (``turn_detection=None``) as its
variants. The qwen3.5 profiles run with the emulator's switches flipped on the second one (a response.done
after a cancel, transcripts before the response, over TLS) so the client is shown not to depend on them;
qwen3.8 (on a workspace endpoint, no ``session.finished``) runs under the realistic latency profile.
"""

from __future__ import annotations

from typing import Any, ClassVar

from realtime_conformance import ConformanceSuite, ProviderFixtures

_VARIANTS: dict[str, Any] = {
    "text_mode_options": {"modality": "text"},
    "manual_turn_options": {"turn_detection": None},
}


class TestQwen35PlusConformance(ConformanceSuite, ProviderFixtures):
    provider = "qwen"
    label = "qwen (qwen3.5-omni-plus-realtime)"
    session_options: ClassVar[dict[str, Any]] = {"model": "qwen3.5-omni-plus-realtime"}
    text_mode_options: ClassVar[dict[str, Any] | None] = _VARIANTS["text_mode_options"]
    manual_turn_options: ClassVar[dict[str, Any] | None] = _VARIANTS["manual_turn_options"]


class TestQwen35FlashConformance(ConformanceSuite, ProviderFixtures):
    provider = "qwen"
    label = "qwen (qwen3.5-omni-flash-realtime; tls, semantic vad, switches flipped)"
    session_options: ClassVar[dict[str, Any]] = {"model": "qwen3.5-omni-flash-realtime", "turn_detection": "semantic_vad"}
    emulator_options: ClassVar[dict[str, Any]] = {
        "tls": True,
        "cancel_response_done": True,
        "transcription_timing": "before_response",
        "expire_close_code": 1001,
    }
    text_mode_options: ClassVar[dict[str, Any] | None] = _VARIANTS["text_mode_options"]
    manual_turn_options: ClassVar[dict[str, Any] | None] = _VARIANTS["manual_turn_options"]


class TestQwen3FlashConformance(ConformanceSuite, ProviderFixtures):
    provider = "qwen"
    label = "qwen (qwen3-omni-flash-realtime)"
    session_options: ClassVar[dict[str, Any]] = {"model": "qwen3-omni-flash-realtime"}
    text_mode_options: ClassVar[dict[str, Any] | None] = _VARIANTS["text_mode_options"]
    manual_turn_options: ClassVar[dict[str, Any] | None] = _VARIANTS["manual_turn_options"]


class TestQwenTurboConformance(ConformanceSuite, ProviderFixtures):
    provider = "qwen"
    label = "qwen (qwen-omni-turbo-realtime)"
    session_options: ClassVar[dict[str, Any]] = {"model": "qwen-omni-turbo-realtime"}
    emulator_options: ClassVar[dict[str, Any]] = {"cancel_response_done": False}
    text_mode_options: ClassVar[dict[str, Any] | None] = _VARIANTS["text_mode_options"]
    manual_turn_options: ClassVar[dict[str, Any] | None] = _VARIANTS["manual_turn_options"]


class TestQwen38Conformance(ConformanceSuite, ProviderFixtures):
    provider = "qwen"
    label = "qwen (qwen3.8-omni-flash-realtime; workspace, realistic latency)"
    session_options: ClassVar[dict[str, Any]] = {"model": "qwen3.8-omni-flash-realtime", "workspace": "ws-kit"}
    emulator_options: ClassVar[dict[str, Any]] = {"latency": "realistic"}
    text_mode_options: ClassVar[dict[str, Any] | None] = _VARIANTS["text_mode_options"]
    manual_turn_options: ClassVar[dict[str, Any] | None] = _VARIANTS["manual_turn_options"]
