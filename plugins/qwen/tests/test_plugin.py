"""Registration, model profiles, configuration checks, capabilities per model, endpoints and key hygiene."""

from __future__ import annotations

import logging

import pytest

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    MissingAPIKeyError,
    RealtimeErrorEvent,
    UnsupportedCapability,
    get_provider,
)
from realtime_qwen import (
    QwenRealtime,
    QwenSessionConfig,
    SemanticVad,
    ServerVad,
    build_capabilities,
    realtime_url,
    resolve_model,
    session_payload,
)
from realtime_qwen.emulator import QwenEmulator

from .helpers import FLASH3, FLASH35, PLUS, TURBO, EmulatorFactory, SessionFactory, speak

SECRET = "sk-0123456789abcdefSECRETSECRET"


def test_registered_with_the_emulator_and_models() -> None:
    spec = get_provider("qwen")
    assert spec.resolve_session_class() is QwenRealtime
    assert spec.api_key_env == ("DASHSCOPE_API_KEY",)
    assert set(spec.models) == {TURBO, FLASH3, PLUS, FLASH35, "qwen3.8-omni-flash-realtime"}
    assert spec.default_model == PLUS
    assert spec.emulator is not None
    emu = spec.resolve_emulator()()
    assert isinstance(emu, QwenEmulator)
    assert spec.resolve_capabilities().tools and spec.resolve_capabilities().input_sample_rate == 16000


def test_snapshots_and_aliases_resolve_to_their_family() -> None:
    assert resolve_model("qwen3.5-omni-plus-realtime-2026-03-15").name == PLUS
    assert resolve_model("qwen-omni-turbo-realtime-latest").name == TURBO
    assert resolve_model("qwen3-omni-flash-realtime-2025-09-15").name == FLASH3
    with pytest.raises(ConfigurationError, match="unknown Qwen-Omni realtime model"):
        resolve_model("gpt-realtime")


def test_default_voices_per_model() -> None:
    assert QwenSessionConfig(model=PLUS).voice == "Tina"
    assert QwenSessionConfig(model=FLASH3).voice == "Cherry"
    assert QwenSessionConfig(model=TURBO).voice == "Chelsie"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"model": TURBO, "voice": "Tina"}, "has no voice 'Tina'"),
        ({"model": PLUS, "voice": "Cherry"}, "does not support the voice 'Cherry'"),
        ({"model": FLASH3, "turn_detection": SemanticVad()}, "semantic_vad is only available on qwen3.5"),
        ({"model": FLASH3, "turn_detection": ServerVad(idle_timeout_ms=10_000)}, "idle_timeout_ms"),
        ({"model": PLUS, "smooth_output": True}, "smooth_output is only available on qwen3-omni-flash"),
        ({"model": FLASH3, "enable_search": True}, "enable_search is only available on qwen3.5"),
        ({"model": TURBO, "temperature": 0.5}, "fixed sampling parameters"),
        ({"model": PLUS, "temperature": 2.0}, "temperature must be in"),
        ({"model": PLUS, "max_tokens": 10**6}, "max_tokens must be an int between"),
        ({"model": PLUS, "modality": "video"}, "modality must be"),
    ],
)
def test_configuration_refused_before_anything_is_sent(options: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        QwenSessionConfig(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("vad", "match"),
    [
        ({"threshold": 1.5}, "threshold must be between -1.0 and 1.0"),
        ({"silence_duration_ms": 100}, "silence_duration_ms must be an int between 200 and 6000"),
        ({"idle_timeout_ms": 1000}, "idle_timeout_ms must be an int between 5000 and 30000"),
        ({"create_response": "yes"}, "create_response must be True or False"),
    ],
)
def test_vad_ranges(vad: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        ServerVad(**vad)  # type: ignore[arg-type]


def test_session_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="turn_detection must be"):
        QwenRealtime(api_key=SECRET, turn_detection="push_to_talk")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="video_max_fps must be at most 2"):
        QwenRealtime(api_key=SECRET, video_max_fps=5)
    with pytest.raises(ConfigurationError, match="region must be"):
        QwenRealtime(api_key=SECRET, region="eu")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="workspace must be"):
        QwenRealtime(api_key=SECRET, workspace="bad workspace!")
    with pytest.raises(ConfigurationError, match="renew_margin_s must be smaller"):
        QwenRealtime(api_key=SECRET, max_session_seconds=60, renew_margin_s=120)


@pytest.mark.parametrize(
    ("model", "tools", "text_input", "user_transcript"),
    [(TURBO, False, False, "final"), (FLASH3, False, False, "final"), (PLUS, True, True, "delta"), (FLASH35, True, True, "delta")],
)
def test_capabilities_follow_the_model(model: str, tools: bool, text_input: bool, user_transcript: str) -> None:
    caps = build_capabilities(QwenSessionConfig(model=model))
    assert (caps.tools, caps.text_input, caps.user_transcript) == (tools, text_input, user_transcript)
    assert caps.input_sample_rate == 16000 and caps.output_sample_rate == 24000
    assert caps.video_input and caps.video_max_fps == 1.0 and (caps.video_max_width, caps.video_max_height) == (1280, 720)
    assert not caps.truncation and not caps.session_resumption and caps.reconnection
    assert caps.max_session_seconds == 7200


def test_capabilities_follow_the_configuration() -> None:
    text = build_capabilities(QwenSessionConfig(modality="text", input_transcription=False, turn_detection=None))
    assert (text.audio_output, text.text_output, text.agent_transcript, text.user_transcript) == (False, True, "none", "none")
    assert text.manual_turns and not text.server_vad and not text.user_speech_events
    search = build_capabilities(QwenSessionConfig(enable_search=True))
    assert not search.tools, "web search and tools are mutually exclusive"
    no_auto = build_capabilities(QwenSessionConfig(turn_detection=ServerVad(create_response=False)))
    assert no_auto.server_vad and no_auto.manual_turns
    no_video = build_capabilities(QwenSessionConfig(), video_max_fps=0)
    assert not no_video.video_input


def test_endpoints() -> None:
    assert realtime_url(PLUS) == "wss://dashscope-intl.aliyuncs.com/api-ws/v1/realtime?model=qwen3.5-omni-plus-realtime"
    assert realtime_url(PLUS, region="cn") == "wss://dashscope.aliyuncs.com/api-ws/v1/realtime?model=qwen3.5-omni-plus-realtime"
    assert realtime_url(PLUS, workspace="ws-123") == (
        "wss://ws-123.ap-southeast-1.maas.aliyuncs.com/api-ws/v1/realtime?model=qwen3.5-omni-plus-realtime"
    )
    assert realtime_url(TURBO, region="cn", workspace="abc") == (
        "wss://abc.cn-beijing.maas.aliyuncs.com/api-ws/v1/realtime?model=qwen-omni-turbo-realtime"
    )
    assert realtime_url(PLUS, workspace="abc", workspace_host=False).startswith("wss://dashscope-intl.aliyuncs.com/")
    assert realtime_url(PLUS, base_url="http://127.0.0.1:9") == "ws://127.0.0.1:9/api-ws/v1/realtime?model=qwen3.5-omni-plus-realtime"
    assert realtime_url(PLUS, base_url="wss://relay.example/v1/omni") == "wss://relay.example/v1/omni?model=qwen3.5-omni-plus-realtime"
    with pytest.raises(ConfigurationError):
        realtime_url(PLUS, base_url="ftp://x")


def test_flat_session_payload_in_the_dashscope_shape() -> None:
    config = QwenSessionConfig(
        model=FLASH3, instructions="Be brief.", smooth_output="auto", temperature=0.3, turn_detection=ServerVad(threshold=-0.2)
    )
    session = session_payload(config, [{"name": "get_weather", "description": "d", "parameters": {"type": "object"}}])
    assert session == {
        "modalities": ["text", "audio"],
        "voice": "Cherry",
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm24",
        "input_audio_transcription": {"model": "gummy-realtime-v1"},
        "turn_detection": {
            "type": "server_vad", "threshold": -0.2, "prefix_padding_ms": 300, "silence_duration_ms": 800,
            "create_response": True, "interrupt_response": True,
        },
        "instructions": "Be brief.",
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d", "parameters": {"type": "object"}}}],
        "tool_choice": "auto",
        "smooth_output": None,
        "temperature": 0.3,
    }  # fmt: skip
    manual = session_payload(QwenSessionConfig(model=PLUS, modality="text", turn_detection=None, input_transcription=False))
    assert manual["turn_detection"] is None and manual["input_audio_transcription"] is None
    assert manual["modalities"] == ["text"] and manual["voice"] == "Tina"


def test_missing_key_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="DASHSCOPE_API_KEY"):
        QwenRealtime()
    monkeypatch.setenv("DASHSCOPE_API_KEY", SECRET)
    s = QwenRealtime()
    assert SECRET not in repr(s) and "dashscope-intl" in s.url


async def test_tools_refused_on_models_that_cannot_call_them(emulator: EmulatorFactory, session: SessionFactory) -> None:
    def get_weather(city: str) -> str:
        """Weather."""
        return city

    emu = await emulator()
    s = session(emu, model=FLASH3, tools=[get_weather])
    with pytest.raises(UnsupportedCapability):
        await s.connect()
    assert emu.connections == 0
    text = session(emu, model=TURBO)
    await text.connect()
    with pytest.raises(UnsupportedCapability):
        await text.simple_response("hello")
    assert not [m for m in emu.received if m.kind == "conversation.item.create"]


async def test_workspace_header_and_region_hint(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, workspace="ws-42")
    await s.connect()
    assert emu.handshakes[-1] == {"model": PLUS, "workspace": "ws-42", "status": 101}
    await s.close()

    other_region = await emulator(wrong_region_keys=[SECRET], api_key=SECRET)
    bad = session(other_region, api_key=SECRET)
    with pytest.raises(AuthenticationError, match="keys belong to one region") as info:
        await bad.connect()
    assert SECRET not in str(info.value) and "127.0.0.1" in str(info.value)
    await bad.close()


async def test_the_key_never_leaks(
    emulator: EmulatorFactory, session: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu = await emulator(api_key=SECRET)
    s = session(emu, api_key=SECRET)
    events = s.events()
    await s.connect()
    await speak(s, 400, 900)
    await emu.wait_for("input_audio_buffer.append")
    await s.close()
    seen = [e async for e in events]
    wrong = session(emu, api_key="sk-wrongwrongwrongwrong")
    with pytest.raises(AuthenticationError) as info:
        await wrong.connect()
    for text in (caplog.text, repr(s), repr(s._transport), str(info.value), repr(info.value), *(repr(e) for e in seen)):  # pyright: ignore[reportPrivateUsage]
        assert SECRET not in text
        assert "sk-wrongwrongwrongwrong" not in text
    assert not [e for e in seen if isinstance(e, RealtimeErrorEvent)]
