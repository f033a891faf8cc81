"""The model catalogue: every model connects to the emulator, and each profile's rules hold on both sides
(the plugin sends what the model takes; the emulator refuses what the real model refuses)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from realtime_core import (
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeUserSpeechTranscriptionEvent,
    UnsupportedCapability,
)
from realtime_core.emulator import Reply, Scenario, ToolCallSpec, Turn
from realtime_gemini import DEFAULT_MODEL, MODELS, GeminiRealtime, VertexAI, profile_for
from realtime_gemini.emulator import GeminiEmulator

from .conftest import RecorderFactory, of, send_audio, utterance

DEV = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
ALPHA = "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent"


def get_weather(city: str) -> str:
    """Weather.

    :param city: the city
    """
    return "sunny"


def tool_scenario() -> Scenario:
    filler = Reply(text="Let me check.", tool_calls=[ToolCallSpec(name="get_weather", arguments={"city": "Paris"})])
    return Scenario(turns=[Turn(on="text", reply=filler, after_tools=Reply(text="Sunny in Paris."))])


def session_for(emu: GeminiEmulator, model: str, **options: Any) -> GeminiRealtime:
    apis = next(m.apis for m in MODELS if m.id == model)
    if "developer" not in apis:
        vertex = VertexAI(project="p", access_token="emulator-access-token")
        return GeminiRealtime(base_url=emu.ws_base_url, vertex=vertex, model=model, **options)
    return GeminiRealtime(**emu.session_options(), model=model, **options)


def test_the_default_is_the_current_recommended_model() -> None:
    (default,) = [m for m in MODELS if m.id == DEFAULT_MODEL]
    assert default.status == "current" and default.apis == {"developer", "vertex"}
    assert GeminiRealtime(api_key="k").model == "gemini-3.8-live"
    assert profile_for("gemini-3.1-flash-live-preview").family == "3.1"
    assert [m.status for m in MODELS if m.id == "gemini-3.1-flash-live-preview"] == ["legacy"]
    # ids the catalogue does not know get the rule set their name implies
    assert profile_for("models/gemini-3.9-live").family == "3.8"
    assert profile_for("gemini-3.9-live-extended-thinking").family == "3.8-thinking"
    assert profile_for("gemini-4.0-transcribe-live").family == "transcribe"
    assert profile_for("gemini-live-2.5-flash-x").family == "2.5"


@pytest.mark.parametrize("model", [m.id for m in MODELS])
async def test_every_model_connects_and_takes_a_turn(model: str, recorder: RecorderFactory) -> None:
    profile = profile_for(model)
    async with GeminiEmulator() as emu, session_for(emu, model) as session:
        caps = session.capabilities
        rec = await recorder(session)
        await send_audio(session, utterance(500, 700))
        events = await rec.collect_until(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
        assert emu.setups[1]["model"].endswith(f"models/{model}")
        if profile.transcription_only:
            assert not caps.audio_output and not caps.text_output and not caps.tools and not caps.text_input
            assert not of(events, RealtimeAudioOutputEvent)
            assert emu.setups[1]["generationConfig"]["responseModalities"] == ["TEXT"]
        else:
            assert caps.audio_output and caps.tools
            assert of(events, RealtimeAudioOutputDoneEvent)
        assert not emu.closes


async def test_3_8_sends_what_it_takes_and_nothing_it_refuses(recorder: RecorderFactory) -> None:
    async with GeminiEmulator(scenario=tool_scenario()) as emu:
        async with GeminiRealtime(**emu.session_options(), tools=[get_weather], text_input="client_content") as s:
            rec = await recorder(s)
            await s.simple_response("weather?")
            await rec.wait_for(RealtimeToolCallFinishedEvent)
            await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id is not None, count=2)
            await s.simple_response("thanks")  # clientContent after the first model turn: fine on 3.8
            await rec.wait_for(RealtimeAudioOutputDoneEvent, count=3)
        setup = emu.setups[1]
        assert "thinkingConfig" not in setup["generationConfig"] and "proactivity" not in setup
        (decl,) = setup["tools"][0]["functionDeclarations"]
        assert decl["behavior"] == "BLOCKING"  # declared: 3.8's default is NON_BLOCKING
        assert len(emu.messages("clientContent")) == 2 and not emu.closes


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}}, DEV),
        ({"generationConfig": {"responseModalities": ["TEXT"]}}, DEV),
        ({"generationConfig": {"enableAffectiveDialog": True}}, ALPHA),
        ({"proactivity": {"proactiveAudio": False}}, ALPHA),
    ],
)
async def test_the_emulator_refuses_what_3_8_refuses(body: dict[str, Any], path: str) -> None:
    async with GeminiEmulator() as emu:
        code = await _setup_closes(emu, path, {"model": "models/gemini-3.8-live", **body})
        assert code == 1007


async def test_3_8_client_content_needs_a_role() -> None:
    async with (
        GeminiEmulator() as emu,
        websockets.connect(emu.ws_base_url + DEV, additional_headers={"x-goog-api-key": "emulator-key"}) as ws,
    ):
        await ws.send(json.dumps({"setup": {"model": "models/gemini-3.8-live"}}))
        await ws.recv()
        await ws.send(json.dumps({"clientContent": {"turns": [{"parts": [{"text": "hi"}]}], "turnComplete": True}}))
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1007


async def test_extended_thinking_stages_one_reply_over_its_async_tool_call(recorder: RecorderFactory) -> None:
    model = "gemini-3.8-live-extended-thinking"
    async with GeminiEmulator(scenario=tool_scenario()) as emu:
        async with GeminiRealtime(**emu.session_options(), model=model, tools=[get_weather]) as session:
            rec = await recorder(session)
            await session.simple_response("weather?")
            finished = await rec.wait_for(RealtimeToolCallFinishedEvent)
            done = await rec.wait_for(RealtimeAudioOutputDoneEvent, after=finished)
            events = rec.of(RealtimeAudioOutputEvent)
            # the filler before the call and the answer after it are one reply: one id, one done, at IDLE
            assert {e.response_id for e in events} == {done.response_id} and not done.interrupted
            assert len(rec.of(RealtimeAudioOutputDoneEvent)) == 1
            assert finished.result == "sunny"
        setup = emu.setups[1]
        assert setup["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "LOW"}  # required: low by default
        assert setup["tools"][0]["functionDeclarations"][0]["behavior"] == "NON_BLOCKING"
        statuses = [
            m["serverContent"].get("interactionStatus")
            for m in emu.sent_messages(1)
            if isinstance(m, dict) and m.get("serverContent", {}).get("turnComplete")
        ]
        assert statuses == ["IN_PROGRESS", "IDLE"]  # several turnCompletes, only IDLE ends the reply
        code = await _setup_closes(emu, DEV, {"model": f"models/{model}"})
        assert code == 1007  # no thinking level: refused


async def test_transcription_model_transcribes_and_refuses_tools(recorder: RecorderFactory) -> None:
    model = "gemini-3.5-transcribe-live"
    async with GeminiEmulator() as emu:
        session = GeminiRealtime(**emu.session_options(), model=model, tools=[get_weather])
        with pytest.raises(UnsupportedCapability):
            await session.connect()
        async with GeminiRealtime(**emu.session_options(), model=model) as session:
            rec = await recorder(session)
            await send_audio(session, utterance(600, 700))
            final = await rec.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
            deltas = rec.of(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "delta")
            assert final.text == "[0.6 seconds of speech]" == "".join(d.text for d in deltas)
        interim = [m for m in emu.sent_messages() if "interimInputTranscription" in m.get("serverContent", {})]
        assert interim, "the transcription model sends interim (cumulative) transcripts"


async def _setup_closes(emu: GeminiEmulator, path: str, setup: dict[str, Any]) -> int:
    async with websockets.connect(emu.ws_base_url + path, additional_headers={"x-goog-api-key": "emulator-key"}) as ws:
        await ws.send(json.dumps({"setup": setup}))
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None
        return info.value.rcvd.code
