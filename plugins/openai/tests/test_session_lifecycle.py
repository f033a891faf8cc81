"""Connecting, configuration, TLS, authentication failures, and keeping the API key secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    MissingAPIKeyError,
    RealtimeConnectedEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
)
from realtime_core.emulator import Fault
from realtime_openai import InputTranscription, OpenAIRealtime, SemanticVad, ServerVad
from realtime_openai.protocol import realtime_url as _realtime_url

from .helpers import EmulatorFactory, SessionFactory, client_events, scenario, speak, turn

SECRET = "sk-proj-DoNotLeakThisKey0123456789abcdef"


async def test_connect_sends_the_full_ga_session_and_emits_connected_first(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator()

    def lookup(city: str) -> str:
        """Look something up.

        :param city: where
        """
        return city

    s = session(
        emu,
        instructions="Be brief.",
        voice="cedar",
        turn_detection=ServerVad(silence_duration_ms=400, threshold=0.6),
        input_transcription=InputTranscription("whisper-1", language="en"),
        noise_reduction="near_field",
        tools=[lookup],
        tool_choice="required",
        max_output_tokens=500,
        speed=1.1,
    )
    events = s.events()
    await s.connect()
    first = await events.next(timeout=30)
    assert isinstance(first, RealtimeConnectedEvent)
    assert first.capabilities == s.capabilities and first.session_config["audio"]["output"]["voice"] == "cedar"
    update = client_events(emu, "session.update")[0]["session"]
    assert (
        update["type"] == "realtime" and update["model"] == "gpt-realtime-2.1" and update["output_modalities"] == ["audio"]
    )
    assert (
        update["instructions"] == "Be brief."
        and update["max_output_tokens"] == 500
        and update["tool_choice"] == "required"
    )
    audio_in = update["audio"]["input"]
    assert audio_in["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio_in["turn_detection"]["silence_duration_ms"] == 400 and audio_in["turn_detection"]["threshold"] == 0.6
    assert audio_in["transcription"] == {"model": "whisper-1", "language": "en"}
    assert audio_in["noise_reduction"] == {"type": "near_field"}
    assert update["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar", "speed": 1.1}
    assert update["tools"][0]["name"] == "lookup" and update["tools"][0]["type"] == "function"
    assert "strict" not in update["tools"][0] and "function" not in update["tools"][0]
    assert s.server_session["audio"]["output"]["voice"] == "cedar"
    assert s.connected


async def test_close_is_clean_once_and_idempotent(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn()))
    s = session(emu)
    events = s.events()
    await s.connect()
    await s.close()
    await s.close()
    seen = [e async for e in events]
    disconnects = [e for e in seen if isinstance(e, RealtimeDisconnectedEvent)]
    assert len(disconnects) == 1 and disconnects[0].was_clean and seen[-1] is disconnects[0]


async def test_semantic_vad_and_text_modality_reach_the_server(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator()
    s = session(emu, turn_detection=SemanticVad(eagerness="high"), modality="text", input_transcription=None)
    await s.connect()
    update = client_events(emu, "session.update")[0]["session"]
    assert update["output_modalities"] == ["text"]
    assert update["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert update["audio"]["input"]["transcription"] is None
    caps = s.capabilities
    assert caps.text_output and not caps.audio_output and not caps.truncation and caps.user_transcript == "none"


async def test_tls_emulator_needs_its_ca(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(tls=True)
    s = session(emu)
    await s.connect()
    assert s.connected
    untrusting = session(emu, ca_file=None)
    with pytest.raises(ConnectionFailedError) as info:
        await untrusting.connect()
    assert "certificate" in str(info.value).lower() and info.value.recoverable is False


async def test_dead_port_fails_fast(session: SessionFactory, emulator: EmulatorFactory) -> None:
    emu = await emulator()
    await emu.stop()
    s = session(emu, connect_timeout=60)
    with pytest.raises(ConnectionFailedError) as info:
        await s.connect()
    # refused at once, not the connect timeout running out
    assert "refused" in str(info.value).lower() or "connect call failed" in str(info.value).lower()


@pytest.mark.parametrize("mode", ["close", "http", "event"])
async def test_bad_key_is_a_fatal_authentication_error(
    emulator: EmulatorFactory, session: SessionFactory, mode: str
) -> None:
    emu = await emulator(auth_failure=mode)
    s = session(emu, api_key=SECRET)
    with pytest.raises(AuthenticationError) as info:
        await s.connect()
    assert info.value.recoverable is False
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


async def test_rejected_configuration_fails_connect_with_the_server_reason(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator()
    s = session(emu, session_extra={"modalities": ["audio"]})  # a beta field: GA refuses it
    with pytest.raises(ConfigurationError) as info:
        await s.connect()
    assert "session.modalities" in str(info.value)
    assert not s.connected


async def test_the_key_never_leaks(
    emulator: EmulatorFactory, session: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu = await emulator(
        scenario(turn(), faults=[Fault(kind="error", at_turn=0, code="server_error", message=f"boom {SECRET}")]),
        api_key=SECRET,
    )
    s = session(emu)
    events = s.events()
    await s.connect()
    await speak(s)
    error = await events.wait_for(RealtimeErrorEvent)
    texts: list[Any] = [repr(s), str(s), repr(s.session_config), str(error.error), repr(error.error)]
    texts.append(error.model_dump_json())
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(t) for t in [s._transport]]  # pyright: ignore[reportPrivateUsage]
    assert all(SECRET not in str(t) for t in texts)
    assert "***" in str(error.error)  # the server echoed it; redaction caught it


@pytest.mark.parametrize(
    "options",
    [
        {"voice": "nobody"},
        {"modality": "both"},
        {"transport": "sip"},
        {"transport": "webrtc", "webrtc": {"ice_servers": []}},
        {"turn_detection": "push_to_talk"},
        {"max_output_tokens": 0},
        {"speed": 3.0},
        {"base_url": "ftp://example.com"},
        {"say_mode": "always"},
        {"noise_reduction": "loud"},
        {"min_append_ms": -1},
        {"video_max_fps": -1},
    ],
)
def test_bad_options_are_configuration_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        OpenAIRealtime(api_key="sk-test", **options)


def test_bad_vad_values_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        ServerVad(threshold=2)
    with pytest.raises(ConfigurationError):
        ServerVad(silence_duration_ms=-5)
    with pytest.raises(ConfigurationError):
        SemanticVad(eagerness="eager")  # type: ignore[arg-type]


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        OpenAIRealtime()
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    s = OpenAIRealtime()
    assert SECRET not in repr(s)


def test_realtime_url_from_base_url() -> None:
    assert (
        _realtime_url("https://api.openai.com/v1", "gpt-realtime")
        == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    )
    assert _realtime_url("http://127.0.0.1:9/v1/", "m x") == "ws://127.0.0.1:9/v1/realtime?model=m+x"
    assert _realtime_url("wss://proxy/openai/v1?tenant=a", "m") == "wss://proxy/openai/v1/realtime?tenant=a&model=m"
