"""Connecting, closing, credentials and endpoints, over real sockets to the emulator."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    MissingAPIKeyError,
    ProviderError,
    RateLimitedError,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeConnectedEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
    SessionClosedError,
)
from realtime_core.emulator import Fault, Scenario
from realtime_gemini import GeminiRealtime, VertexAI
from realtime_gemini.emulator import GeminiEmulator

from .conftest import RecorderFactory, of, send_audio, utterance

SECRET = "AIzaSyTEST-secret-value-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connected_first_once_and_one_clean_disconnect(emulator: GeminiEmulator) -> None:
    session = GeminiRealtime(**emulator.session_options())
    stream = session.events()
    await session.connect()
    await session.connect()  # idempotent
    await session.close()
    await session.close()  # idempotent
    events = [e async for e in stream]
    assert isinstance(events[0], RealtimeConnectedEvent)
    assert len(of(events, RealtimeConnectedEvent)) == 1
    disconnects = of(events, RealtimeDisconnectedEvent)
    assert len(disconnects) == 1 and disconnects[0].was_clean
    assert events[-1] is disconnects[0]
    assert events[0].capabilities.output_sample_rate == 24000
    assert emulator.facts_named("session_finished")  # the socket was closed with 1000


async def test_connected_only_after_setup_complete(emulator: GeminiEmulator) -> None:
    async with GeminiRealtime(**emulator.session_options()) as session:
        assert session.connected
        # by the time connect() returned the server had received setup and answered setupComplete
        assert emulator.messages("setup", connection=1)
        assert emulator.sent_messages(1)[0] == {"setupComplete": {}}
        setup = emulator.messages("setup")[0].payload["setup"]
        assert setup["model"] == "models/gemini-3.8-live"
        assert setup["sessionResumption"] == {}
        assert setup["inputAudioTranscription"] == {} and setup["outputAudioTranscription"] == {}


async def test_dead_port_fails_fast_with_connection_failed() -> None:
    session = GeminiRealtime(api_key="k", base_url=f"ws://127.0.0.1:{free_port()}", connect_timeout=5)
    async with asyncio.timeout(5):
        with pytest.raises(ConnectionFailedError):
            await session.connect()
    with pytest.raises(SessionClosedError):
        await session.simple_response("hello")


async def test_bad_key_is_an_authentication_error(emulator: GeminiEmulator) -> None:
    options = emulator.session_options() | {"api_key": "wrong-key"}
    with pytest.raises(AuthenticationError) as info:
        await GeminiRealtime(**options).connect()
    assert info.value.code == "1007" and not info.value.recoverable
    assert "wrong-key" not in str(info.value)


async def test_unknown_model_is_a_configuration_error(emulator: GeminiEmulator) -> None:
    with pytest.raises(ConfigurationError, match="unknown model 'gemini-live-2.5-flash-preview'; choose one of"):
        GeminiRealtime(**emulator.session_options(), model="gemini-live-2.5-flash-preview")  # refused up front
    # passed through as models/<id>, the server is the judge (a retired model: 1008 "not found")
    with pytest.raises(ConfigurationError) as info:
        await GeminiRealtime(**emulator.session_options(), model="models/gemini-live-2.5-flash-preview").connect()
    assert info.value.code == "1008"
    assert "not found for API version v1beta" in str(info.value)


async def test_http_status_at_upgrade_maps_to_typed_errors() -> None:
    async with GeminiEmulator(reject_upgrades=[429]) as emu:
        with pytest.raises(RateLimitedError):
            await GeminiRealtime(**emu.session_options()).connect()
        # the next upgrade succeeds: a rate limit is not fatal
        async with GeminiRealtime(**emu.session_options()) as session:
            assert session.connected
        wrong_path = emu.session_options() | {"base_url": emu.ws_base_url + "/nowhere"}
        with pytest.raises(ConfigurationError) as info:
            await GeminiRealtime(**wrong_path).connect()
        assert info.value.code == "404"


async def test_missing_credentials_are_refused_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="GEMINI_API_KEY"):
        GeminiRealtime()
    with pytest.raises(MissingAPIKeyError):
        GeminiRealtime(vertex=VertexAI(project="p"))
    monkeypatch.setenv("GEMINI_API_KEY", "from-env")
    assert GeminiRealtime().options.api_key is not None


async def test_key_in_query_string(emulator: GeminiEmulator) -> None:
    async with GeminiRealtime(**emulator.session_options(), auth_in="query") as session:
        assert session.connected
    assert emulator.messages("connect")[0].payload["credential_via"] == "query"


async def test_ephemeral_token_uses_the_constrained_endpoint(emulator: GeminiEmulator) -> None:
    base = {"base_url": emulator.ws_base_url}
    async with GeminiRealtime(**base, ephemeral_token="auth_tokens/emulator-token") as session:
        assert session.connected
    async with GeminiRealtime(**base, ephemeral_token="auth_tokens/emulator-token", auth_in="query") as session:
        assert session.connected
    connects = [m.payload for m in emulator.messages("connect")]
    assert [c["api"] for c in connects] == ["constrained", "constrained"]
    assert [c["credential_via"] for c in connects] == ["header", "query"]
    assert all(c["version"] == "v1alpha" for c in connects)
    with pytest.raises(AuthenticationError):
        await GeminiRealtime(**base, ephemeral_token="auth_tokens/forged").connect()


async def test_vertex_bearer_token_and_resource_name(emulator: GeminiEmulator) -> None:
    calls = 0

    async def fresh_token() -> str:
        nonlocal calls
        calls += 1
        return "emulator-access-token"

    vertex = VertexAI(project="my-proj", location="us-central1", token_provider=fresh_token)
    async with GeminiRealtime(
        base_url=emulator.ws_base_url, vertex=vertex, model="gemini-live-2.5-flash-native-audio"
    ) as session:
        stream = session.events()
        await send_audio(session, utterance())
        await stream.wait_for(RealtimeAudioOutputDoneEvent)
    assert calls == 1
    connect = emulator.messages("connect")[0].payload
    assert connect["api"] == "vertex" and connect["credential_via"] == "bearer"
    setup = emulator.setups[1]
    assert (
        setup["model"]
        == "projects/my-proj/locations/us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio"
    )
    # Vertex takes no audioStreamEnd: the client must not send one
    assert not emulator.messages("realtimeInput.audioStreamEnd")


async def test_text_and_binary_server_frames_both_work(recorder: RecorderFactory) -> None:
    for frames in ("binary", "text"):
        async with GeminiEmulator(frames=frames) as emu, GeminiRealtime(**emu.session_options()) as session:
            rec = await recorder(session)
            await session.simple_response("hello")
            events = await rec.collect_until(RealtimeAudioOutputDoneEvent)
            assert of(events, RealtimeAudioOutputEvent), frames


async def test_api_key_never_leaks(caplog: pytest.LogCaptureFixture, recorder: RecorderFactory) -> None:
    caplog.set_level(logging.DEBUG)
    async with GeminiEmulator(api_key=SECRET, scenario=None) as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=ReconnectPolicy(max_attempts=1, initial_delay=0.01))
        assert SECRET not in repr(session) and SECRET not in repr(session.options)
        assert SECRET not in str(session.options.model_dump())
        rec = await recorder(session)
        async with session:
            await send_audio(session, utterance())
            await emu.drop_all()  # a lost connection and a reconnect log and emit more
            await rec.wait_for(RealtimeReconnectedEvent)
        events = await rec.wait_ended()
        for event in events:
            assert SECRET not in event.model_dump_json()
        for error in of(events, RealtimeErrorEvent):
            assert SECRET not in repr(error.error)
        with pytest.raises(AuthenticationError) as info:
            await GeminiRealtime(**emu.session_options() | {"api_key": SECRET + "x"}).connect()
        assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "x-goog-api-key" in logged.lower() or "GET" in logged  # the handshake was logged...
    assert SECRET not in logged  # ...without the key


async def test_a_server_error_during_setup_is_raised_recoverable_with_no_event_before(
    recorder: RecorderFactory,
) -> None:
    # the server fails (1011) before it answers the setup: connect() raises it, typed and recoverable
    scenario = Scenario(faults=[Fault(kind="close", code=1011, after_messages=1)])
    async with GeminiEmulator(scenario=scenario) as emu:
        session = GeminiRealtime(**emu.session_options())
        rec = await recorder(session)
        with pytest.raises(ProviderError) as info:
            await session.connect()
        assert info.value.recoverable and info.value.code == "1011"
        assert not rec.events  # no error event (and no connected event) before the exception
        async with GeminiRealtime(**emu.session_options()) as again:  # transient: the next connect works
            assert again.connected


async def test_the_emulator_notes_the_whole_configuration(emulator: GeminiEmulator) -> None:
    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    options = {"voice": "Puck", "instructions": "Be brief.", "tools": [lookup], "temperature": 0.4}
    async with GeminiRealtime(**emulator.session_options(), **options):
        fact = await emulator.wait_fact("session_configured")
    config = fact.data
    assert config["instructions"] == "Be brief." and config["voice"] == "Puck" and config["temperature"] == 0.4
    assert config["model"] == "gemini-3.8-live" and config["output_modality"] == "audio"
    assert config["input_audio"] == {"sample_rate": 16000, "encoding": "pcm16"}
    assert config["output_audio"] == {"sample_rate": 24000, "encoding": "pcm16"}
    assert config["turn_detection"] == "server" and config["input_transcription"] is True
    (tool,) = config["tools"]
    assert tool["name"] == "lookup" and tool["description"] == "Look a city up."
    assert tool["parameters"]["properties"]["city"]["type"] == "string"
