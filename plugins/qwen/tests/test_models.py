"""The model catalogue (research 2026-12): one test per model profile against the emulator, the default, the
endpoints each model is served on, and the profiles' differences on the wire."""

from __future__ import annotations

import asyncio

import pytest

from realtime_core import ConfigurationError, RealtimeAudioOutputDoneEvent, RealtimeResponseEvent, UnsupportedCapability
from realtime_qwen import DEFAULT_MODEL, MODELS, PROFILES, QwenRealtime, realtime_url, resolve_model

from .helpers import (
    FLASH3,
    FLASH35,
    FLASH38,
    PLUS,
    TURBO,
    EmulatorFactory,
    SessionFactory,
    client_events,
    scenario,
    speak,
    turn,
)

KEY = "sk-test-key-0000"


def test_the_catalogue_and_the_default() -> None:
    assert MODELS == (TURBO, FLASH3, PLUS, FLASH35, FLASH38)
    # the newest model served with nothing but a key (3.8 needs a workspace); Vision-Agents' default too
    assert DEFAULT_MODEL == PLUS and not resolve_model(DEFAULT_MODEL).workspace_only
    assert QwenRealtime(api_key=KEY).model == PLUS
    assert resolve_model("qwen3.8-omni-flash-realtime-2026-11-16").name == FLASH38  # dated snapshots


def test_international_mainland_and_workspace_endpoints() -> None:
    assert realtime_url(PLUS) == "wss://dashscope-intl.aliyuncs.com/api-ws/v1/realtime?model=qwen3.5-omni-plus-realtime"
    assert QwenRealtime(api_key=KEY, region="cn").url.startswith("wss://dashscope.aliyuncs.com/")
    assert QwenRealtime(api_key=KEY, region="cn-hongkong").url.startswith("wss://cn-hongkong.dashscope.aliyuncs.com/")
    assert QwenRealtime(api_key=KEY, region="us-east-1").url.startswith("wss://dashscope-intl.aliyuncs.com/")
    s = QwenRealtime(api_key=KEY, model=FLASH38, workspace="ws-1", region="cn")
    assert s.url == "wss://ws-1.cn-beijing.maas.aliyuncs.com/api-ws/v1/realtime?model=qwen3.8-omni-flash-realtime"
    with pytest.raises(ConfigurationError, match="served only on workspace hosts"):
        QwenRealtime(api_key=KEY, model=FLASH38)
    with pytest.raises(ConfigurationError, match="served only on workspace hosts"):
        QwenRealtime(api_key=KEY, model=FLASH38, workspace="ws-1", workspace_host=False)
    with pytest.raises(ConfigurationError, match="region must be one of"):
        QwenRealtime(api_key=KEY, region="mars")


@pytest.mark.parametrize("model", [p.name for p in PROFILES])
async def test_each_model_profile_against_the_emulator(emulator: EmulatorFactory, session: SessionFactory, model: str) -> None:
    profile = resolve_model(model)
    emu = await emulator(scenario(turn("Hello there.", audio_ms=300)))
    s = session(emu, model=model, finish_timeout=60, close_timeout=120, **({"workspace": "ws-test"} if profile.workspace_only else {}))
    await s.connect()
    [update] = client_events(emu, "session.update")
    server = s.server_session
    assert update["session"]["voice"] == server["voice"] == profile.default_voice
    assert server["input_audio_transcription"] == {"model": profile.transcription_model}
    assert server["output_audio_format"] == profile.output_audio_format
    caps = s.capabilities
    assert (caps.tools, caps.text_input, caps.user_transcript) == (
        profile.tools, profile.text_input, "delta" if profile.transcription_deltas else "final"
    )
    assert (caps.input_sample_rate, caps.output_sample_rate) == (16000, 24000)
    events = s.events()
    await speak(s)
    done = await events.wait_for(RealtimeAudioOutputDoneEvent, timeout=10)
    assert not done.interrupted
    if profile.text_input:
        await s.simple_response("And in text?")
        await events.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id != done.response_id, timeout=10)
    else:
        with pytest.raises(UnsupportedCapability):
            await s.simple_response("And in text?")
    async with asyncio.timeout(30):  # finish_timeout is 60: a close that waited for a missing ack would hang
        await s.close()
    [finish] = emu.facts_named("session_finished")
    finished = emu.server_events_of(kind="session.finished")
    assert bool(finished) == profile.finish_acknowledged
    assert emu.facts_named("client_closed"), "the client closed the socket itself after session.finish"
    assert finish.connection == 1


@pytest.mark.parametrize(
    ("model", "options", "refused"),
    [
        (TURBO, {"temperature": 0.5}, "fixed sampling parameters"),
        (TURBO, {"voice": "Tina"}, "has no voice 'Tina'"),
        (FLASH3, {"turn_detection": "semantic_vad"}, "semantic_vad is only available"),
        (PLUS, {"voice": "Cherry"}, "does not support the voice 'Cherry'"),
        (PLUS, {"smooth_output": True}, "smooth_output is only available on qwen3-omni-flash"),
        (FLASH35, {"smooth_output": False}, "smooth_output is only available on qwen3-omni-flash"),
        (FLASH38, {"smooth_output": True, "workspace": "ws-1"}, "smooth_output is only available on qwen3-omni-flash"),
    ],
)
def test_options_a_profile_lacks_are_refused(model: str, options: dict[str, object], refused: str) -> None:
    with pytest.raises(ConfigurationError, match=refused):
        QwenRealtime(api_key=KEY, model=model, **options)  # type: ignore[arg-type]


async def test_qwen38_takes_any_voice_and_the_sdks_nested_session(emulator: EmulatorFactory, session: SessionFactory) -> None:
    """qwen3.8's voice list is not published (the SDK's example uses ``longanlingxin``), and the official SDK
    nests ``audio.input.format`` / ``audio.output.{format,voice}``: the emulator takes both shapes."""
    emu = await emulator(scenario(turn("Text only.")))
    nested = {"audio": {"input": {"format": {"type": "pcm16", "sample_rate": 16000}}, "output": {"voice": "longanlingxin"}}}
    s = session(emu, model=FLASH38, workspace="ws-test", voice="Tina", modality="text", session_extra=nested)
    await s.connect()
    assert s.server_session["voice"] == "longanlingxin" and s.server_session["input_audio_format"] == "pcm16"
    events = s.events()
    await s.simple_response("hello")
    complete = await events.wait_for(RealtimeResponseEvent, lambda e: e.is_complete, timeout=10)
    assert complete.text == "Text only."


async def test_the_emulator_refuses_qwen38_without_a_workspace(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, model=FLASH38)  # base_url: the plugin cannot know the host, the server says no
    with pytest.raises(ConfigurationError, match="workspace"):
        await s.connect()
    assert emu.handshakes[-1]["status"] == 400 and emu.connections == 0
    relaxed = await emulator(workspace_hosts="accept")
    ok = session(relaxed, model=FLASH38)
    await ok.connect()
    assert ok.connected
