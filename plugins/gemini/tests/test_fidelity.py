"""Fidelity: the official google-genai live client works against the emulator (over TLS, trusting the
run-time CA explicitly), every server message the emulator sends fits the SDK's ``LiveServerMessage``
exactly, and every client message this plugin sends fits the SDK's ``LiveClientMessage``."""

from __future__ import annotations

import json
import ssl
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest

from realtime_conformance import PatternTrack
from realtime_core import (
    PcmData,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeUserSpeechTranscriptionEvent,
)
from realtime_core.emulator import Reply, Scenario, ToolCallSpec, Turn
from realtime_gemini import GeminiRealtime, InputTranscription
from realtime_gemini.emulator import GeminiEmulator

from .conftest import RecorderFactory, send_audio, speech, utterance

genai = pytest.importorskip("google.genai")
from google.genai import _live_converters, types  # noqa: E402

SERVER_KEYS = {
    "setupComplete",
    "serverContent",
    "toolCall",
    "toolCallCancellation",
    "usageMetadata",
    "goAway",
    "sessionResumptionUpdate",
    "voiceActivityDetectionSignal",
    "voiceActivity",
}


def check_server_message(message: Any) -> None:
    """Validate one server message the way the SDK reads it, but strictly (no unknown fields anywhere)."""
    assert isinstance(message, dict), f"not a JSON object: {message!r}"
    unknown = set(message) - SERVER_KEYS
    assert not unknown, f"top-level keys the SDK does not know (its receive() raises on them): {unknown}"
    converted = _live_converters._LiveServerMessage_from_mldev(message)
    types.LiveServerMessage.model_validate(converted)  # extra="forbid" at every depth


SETUP_FIELDS: dict[str, Any] = {
    "model": str,
    "generationConfig": types.GenerationConfig,
    "systemInstruction": types.Content,
    "tools": types.Tool,
    "realtimeInputConfig": types.RealtimeInputConfig,  # sent by the SDK, missing from its LiveClientSetup
    "sessionResumption": types.SessionResumptionConfig,
    "contextWindowCompression": types.ContextWindowCompressionConfig,
    "inputAudioTranscription": types.AudioTranscriptionConfig,
    "outputAudioTranscription": types.AudioTranscriptionConfig,
    "proactivity": types.ProactivityConfig,
    "historyConfig": types.HistoryConfig,
}


def check_client_message(message: Any) -> None:
    assert isinstance(message, dict) and len(message) == 1, message
    if "setup" not in message:
        types.LiveClientMessage.model_validate_json(json.dumps(message))
        return
    # The SDK's LiveClientSetup model lacks realtimeInputConfig although its connect() sends it, so the
    # setup is checked field by field against the models the SDK builds each field from.
    for key, value in message["setup"].items():
        model = SETUP_FIELDS.get(key)
        assert model is not None, f"setup.{key} is not something the SDK sends"
        if model is str:
            assert isinstance(value, str)
        elif key == "tools":
            for tool in value:
                model.model_validate_json(json.dumps(tool))
        else:
            model.model_validate_json(json.dumps(value))


def check_all_sent(emu: GeminiEmulator) -> int:
    count = 0
    for _, message in emu.sent:
        check_server_message(message)
        count += 1
    return count


@pytest.fixture
async def tls_emulator() -> AsyncIterator[GeminiEmulator]:
    scenario = Scenario(
        turns=[
            Turn(on="speech", reply=Reply(audio="echo", text="You spoke for 0.7 seconds.")),
            Turn(
                on="text",
                reply=Reply(tool_calls=[ToolCallSpec(name="get_weather", arguments={"city": "Paris"})]),
                after_tools=Reply(text="It is sunny in Paris."),
            ),
        ]
    )
    async with GeminiEmulator(tls=True, scenario=scenario) as emu:
        yield emu


def sdk_client(emu: GeminiEmulator) -> Any:
    assert emu.ca_file
    trust = ssl.create_default_context(cafile=emu.ca_file)  # verification on, our CA trusted explicitly
    options = types.HttpOptions(base_url=emu.base_url + "/", api_version="v1beta", async_client_args={"ssl": trust})
    return genai.Client(api_key="emulator-key", http_options=options)


async def receive_turn(session: Any) -> list[Any]:
    return [message async for message in session.receive()]


async def test_official_sdk_spoken_turn_tool_call_and_resumption(tls_emulator: GeminiEmulator) -> None:
    emu = tls_emulator
    client = sdk_client(emu)
    model = "gemini-3.1-flash-live-preview"
    config: dict[str, Any] = {
        "response_modalities": ["AUDIO"],
        "speech_config": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}},
        "input_audio_transcription": {},
        "output_audio_transcription": {},
        "session_resumption": {},
        "realtime_input_config": {"automatic_activity_detection": {"silence_duration_ms": 400}},
        "tools": [
            {
                "function_declarations": [
                    {
                        "name": "get_weather",
                        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
                    }
                ]
            }
        ],
    }
    async with client.aio.live.connect(model=model, config=config) as session:
        # a spoken turn: speech then silence, as 100 ms chunks
        audio = PcmData.concat([speech(700), PcmData.silence(600, 16000)])
        for chunk in audio.chunks(100):
            await session.send_realtime_input(audio=types.Blob(data=chunk.to_bytes(), mime_type="audio/pcm;rate=16000"))
        messages = await receive_turn(session)
        sound = b"".join(m.data for m in messages if m.data)
        assert len(sound) == pytest.approx(0.7 * 24000 * 2, rel=0.05)  # the echo, at 24 kHz
        said = "".join(
            m.server_content.output_transcription.text
            for m in messages
            if m.server_content and m.server_content.output_transcription
        )
        assert said == "You spoke for 0.7 seconds."
        assert messages[-1].server_content.turn_complete

        # a tool call: receive() yields the toolCall and would wait for turnComplete, so stop reading there
        await session.send_realtime_input(text="weather in Paris?")
        call = None
        async for message in session.receive():
            if message.tool_call:
                call = message.tool_call.function_calls[0]
                break
        assert call is not None and call.name == "get_weather" and call.args == {"city": "Paris"}
        await session.send_tool_response(
            function_responses=[types.FunctionResponse(id=call.id, name=call.name, response={"output": "sunny"})]
        )
        messages = await receive_turn(session)
        said = "".join(
            m.server_content.output_transcription.text
            for m in messages
            if m.server_content and m.server_content.output_transcription
        )
        assert said == "It is sunny in Paris."
        async for message in session.receive():  # the handle follows turnComplete
            if message.session_resumption_update:
                update = message.session_resumption_update
                break
        assert update.resumable and update.new_handle
        handle = update.new_handle

    # resumption: a new connection with the handle keeps the conversation
    resumed = dict(config, session_resumption={"handle": handle})
    async with client.aio.live.connect(model=model, config=resumed) as session:
        assert session.setup_complete is not None
    assert [f.connection for f in emu.facts_named("state_restored")] == [2]
    assert emu.conversation(2).texts("model")[-1] == "It is sunny in Paris."
    assert emu.facts_named("tool_result")[0].data["output"] == {"output": "sunny"}

    # the SDK spoke to the emulator the way it speaks to Google: header key, "//ws" path, snake_case keys
    connect = emu.messages("connect")[0].payload
    assert connect["credential_via"] == "header" and connect["path"].startswith("//ws/")
    assert any("tool_response" in m.payload for m in emu.messages("toolResponse"))
    assert check_all_sent(emu) > 10


async def test_every_server_message_fits_the_sdk_model(recorder: RecorderFactory) -> None:
    """Drive every kind of server message (both profiles, barge-in, tools, usage, goAway...) and check each."""
    slow = Reply(text="A slow answer.", audio="tone", audio_ms=2000, chunk_ms=100, chunk_interval_ms=20)
    tools = Turn(
        on="text",
        reply=Reply(tool_calls=[ToolCallSpec(name="get_weather", arguments={"city": "Paris"})]),
        after_tools=Reply(text="Sunny."),
    )
    for profile in ("3.1", "2.5"):
        scenario = Scenario(turns=[Turn(on="text", reply=slow), Turn(on="speech"), tools])

        def get_weather(city: str) -> str:
            return "sunny"

        async with GeminiEmulator(scenario=scenario, profile=profile, resumption_update_on_setup=True) as emu:
            session = GeminiRealtime(**emu.session_options(), tools=[get_weather])
            async with session:
                rec = await recorder(session)
                await session.simple_response("talk")
                await send_audio(session, utterance(500, 600))  # barges in, then is echoed
                heard = await rec.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
                await session.simple_response("weather?")
                finished = await rec.wait_for(RealtimeToolCallFinishedEvent, after=heard)
                await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, after=finished)
                await emu.go_away_all(time_left=5.0)
                await emu.wait_for(lambda m: m.kind == "setup" and m.connection == 2)
            kinds = {key for _, m in emu.sent if isinstance(m, dict) for key in m}
            assert {
                "setupComplete",
                "serverContent",
                "toolCall",
                "usageMetadata",
                "goAway",
                "sessionResumptionUpdate",
            } <= kinds
            assert check_all_sent(emu) > 20


async def test_every_client_message_of_the_plugin_fits_the_sdk_model() -> None:
    def get_weather(city: str) -> str:
        """Weather."""
        return "sunny"

    scenario = Scenario(
        turns=[
            Turn(
                on="text",
                reply=Reply(tool_calls=[ToolCallSpec(name="get_weather", arguments={"city": "Paris"})]),
                after_tools=Reply(text="Sunny."),
            )
        ]
    )
    async with GeminiEmulator(scenario=scenario.model_copy(update={"when_exhausted": "repeat_last"})) as emu:
        options = emu.session_options() | {
            "model": "gemini-3.1-flash-live-preview",
            "tools": [get_weather],
            "instructions": "Be brief.",
            "voice": "Kore",
            "language_code": "en-US",
            "media_resolution": "low",
            "thinking_level": "low",
            "temperature": 0.5,
            "context_window_compression": {"trigger_tokens": 20000, "target_tokens": 10000},
            "turn_coverage": "all_input",
            "activity_detection": {
                "start_sensitivity": "low",
                "end_sensitivity": "high",
                "prefix_padding_ms": 20,
                "silence_duration_ms": 400,
            },
            "audio_stream_end_after": 0.1,
        }
        async with GeminiRealtime(**options) as session:
            stream = session.events()
            await session.simple_response("weather?")
            await stream.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
            await send_audio(session, utterance(300, 600))
            await emu.wait_for("realtimeInput.audioStreamEnd")
            track = PatternTrack()
            await session.watch_video_track(track)
            await emu.wait_fact("video_frame")
            await session.stop_watching_video_track()
            track.stop()
        async with GeminiRealtime(**emu.session_options(), manual_activity=True) as session:
            await session.begin_user_turn()
            await send_audio(session, speech(200))
            await session.end_user_turn()
            await emu.wait_for("realtimeInput.activityEnd")
        model = "gemini-2.5-flash-native-audio-preview-12-2025"
        async with GeminiRealtime(
            **emu.session_options(),
            model=model,
            text_input="client_content",
            tools=[get_weather],
            proactive_audio=True,
            affective_dialog=True,
            thinking_budget=0,
        ) as session:
            await session.simple_response("hi")
            await emu.wait_for("clientContent")
        for model, extra in (
            ("gemini-3.8-live", {"text_input": "client_content"}),  # tools declared BLOCKING
            ("gemini-3.8-live-extended-thinking", {"thinking_level": "medium"}),  # tools NON_BLOCKING
        ):
            async with GeminiRealtime(**emu.session_options(), model=model, tools=[get_weather], **extra) as session:
                stream = session.events()
                await session.simple_response("weather?")
                await stream.wait_for(RealtimeToolCallFinishedEvent)
                await stream.wait_for(RealtimeAudioOutputDoneEvent)
        transcription = InputTranscription(language_codes=("en-US",), custom_vocabulary=("Gemini",), mode="smart")
        async with GeminiRealtime(
            **emu.session_options(), model="gemini-3.5-transcribe-live", input_transcription=transcription
        ) as session:
            stream = session.events()
            await send_audio(session, utterance(300, 600))
            await stream.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
        assert not emu.closes, emu.closes
        kinds = set()
        for message in emu.received:
            if message.kind.startswith(("fact:", "connect", "fault")):
                continue
            check_client_message(message.payload)
            kinds.add(message.kind)
        assert {
            "setup",
            "realtimeInput.audio",
            "realtimeInput.text",
            "realtimeInput.video",
            "realtimeInput.audioStreamEnd",
            "toolResponse",
            "clientContent",
            "realtimeInput.activityStart",
            "realtimeInput.activityEnd",
        } <= kinds


async def test_official_sdk_sees_the_servers_errors(tls_emulator: GeminiEmulator) -> None:
    """Close frames reach the SDK as the APIError codes and texts the real server produces."""
    emu = tls_emulator
    assert emu.ca_file
    trust = ssl.create_default_context(cafile=emu.ca_file)
    options = types.HttpOptions(base_url=emu.base_url + "/", api_version="v1beta", async_client_args={"ssl": trust})
    bad_key = genai.Client(api_key="not-the-key", http_options=options)
    with pytest.raises(genai.errors.APIError) as info:
        async with bad_key.aio.live.connect(model="gemini-3.1-flash-live-preview"):
            pass
    assert info.value.code == 1007 and "API key not valid" in str(info.value)
    client = sdk_client(emu)
    with pytest.raises(genai.errors.APIError) as info:
        async with client.aio.live.connect(model="gemini-live-2.5-flash-preview"):
            pass
    assert info.value.code == 1008 and "is not found for API version v1beta" in str(info.value)


async def test_an_outside_client_connects_from_what_realtime_emulate_prints(tls_emulator: GeminiEmulator) -> None:
    """``realtime emulate gemini`` prints connection_info(): with only that, the official SDK connects with
    the ephemeral token (the constrained endpoint, ``Authorization: Token``), and so does this plugin."""
    info = tls_emulator.connection_info()
    token = info.credentials["ephemeral_token"]
    assert info.credentials["api_key"] and info.credentials["vertex_access_token"]
    assert info.ca_file and any(token in line for line in info.lines())
    trust = ssl.create_default_context(cafile=info.ca_file)
    base = info.urls["base URL (google-genai HttpOptions.base_url)"]
    options = types.HttpOptions(base_url=base, api_version="v1alpha", async_client_args={"ssl": trust})
    client = genai.Client(api_key=token, http_options=options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK flags ephemeral tokens as experimental
        async with client.aio.live.connect(model="gemini-3.8-live") as session:
            assert session.setup_complete is not None
    ws_base = info.urls["websocket (ephemeral token)"].split("/ws/")[0]
    async with GeminiRealtime(base_url=ws_base, ca_file=info.ca_file, ephemeral_token=token) as ours:
        assert ours.connected
    sdk, plugin = (m.payload for m in tls_emulator.messages("connect"))
    assert (
        sdk["api"] == plugin["api"] == "constrained" and sdk["credential_via"] == plugin["credential_via"] == "header"
    )
    check_all_sent(tls_emulator)


async def test_official_sdk_with_the_current_models() -> None:
    """Pipecat's default (gemini-3.8-live) connects; extended thinking's staged reply ends, for the SDK's
    receive(), at interactionStatus IDLE, not at the first turnComplete."""
    filler = Reply(text="Let me check.", tool_calls=[ToolCallSpec(name="get_weather", arguments={"city": "Paris"})])
    scenario = Scenario(turns=[Turn(on="text", reply=filler, after_tools=Reply(text="It is sunny in Paris."))])
    async with GeminiEmulator(tls=True, scenario=scenario) as emu:
        client = sdk_client(emu)
        async with client.aio.live.connect(model="gemini-3.8-live", config={"response_modalities": ["AUDIO"]}) as s:
            assert s.setup_complete is not None
        config: dict[str, Any] = {
            "response_modalities": ["AUDIO"],
            "output_audio_transcription": {},
            "thinking_config": {"thinking_level": "LOW"},
            "tools": [{"function_declarations": [{"name": "get_weather", "behavior": "NON_BLOCKING"}]}],
        }
        async with client.aio.live.connect(model="gemini-3.8-live-extended-thinking", config=config) as session:
            await session.send_realtime_input(text="weather in Paris?")
            before: list[Any] = []
            async for message in session.receive():
                if message.tool_call:
                    call = message.tool_call.function_calls[0]
                    break
                before.append(message)
            # receive() went on past the filler's turnComplete (IN_PROGRESS): the reply was not over
            assert before[-1].server_content.turn_complete
            assert before[-1].server_content.interaction_status == types.InteractionStatus.IN_PROGRESS
            await session.send_tool_response(
                function_responses=[types.FunctionResponse(id=call.id, name=call.name, response={"output": "sunny"})]
            )
            messages = await receive_turn(session)
            assert messages[-1].server_content.interaction_status == types.InteractionStatus.IDLE
            said = "".join(
                m.server_content.output_transcription.text
                for m in messages
                if m.server_content and m.server_content.output_transcription
            )
            assert said == "It is sunny in Paris."
        check_all_sent(emu)
