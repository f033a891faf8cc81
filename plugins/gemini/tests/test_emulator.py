"""The emulator's protocol rules, driven with a raw WebSocket client (what the real server does)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from realtime_core import PcmData
from realtime_core.emulator import Fault, Reply, Scenario, Turn
from realtime_gemini.emulator import PROFILES, GeminiEmulator

DEV = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
ALPHA = "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent"
VERTEX = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
KEY = {"x-goog-api-key": "emulator-key"}
MODEL = "models/gemini-3.1-flash-live-preview"
MODEL_25 = "models/gemini-2.5-flash-native-audio-preview-12-2025"


async def open_ws(emu: GeminiEmulator, path: str = DEV, headers: dict[str, str] | None = None) -> ClientConnection:
    return await websockets.connect(emu.ws_base_url + path, additional_headers=KEY if headers is None else headers)


async def recv(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(5):
        raw = await ws.recv()
    assert isinstance(raw, bytes), "server frames are binary"
    return json.loads(raw)


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; return its close code and reason."""
    try:
        async with asyncio.timeout(5):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "no close frame"
        return exc.rcvd.code, exc.rcvd.reason


async def setup(ws: ClientConnection, body: dict[str, Any] | None = None, *, key: str = "setup") -> dict[str, Any]:
    await ws.send(json.dumps({key: {"model": MODEL, **(body or {})}}))
    return await recv(ws)


def audio_message(pcm: PcmData, snake: bool = False) -> str:
    blob = {
        "mime_type" if snake else "mimeType": "audio/pcm;rate=16000",
        "data": base64.b64encode(pcm.to_bytes()).decode(),
    }
    return json.dumps({"realtime_input" if snake else "realtimeInput": {"audio": blob}})


async def until(ws: ClientConnection, predicate: Any) -> list[dict[str, Any]]:
    seen = []
    while True:
        message = await recv(ws)
        seen.append(message)
        if predicate(message):
            return seen


def turn_complete(m: dict[str, Any]) -> bool:
    return bool(m.get("serverContent", {}).get("turnComplete"))


async def test_paths_double_slash_and_404(emulator: GeminiEmulator) -> None:
    for path in (DEV, "/" + DEV, ALPHA):
        ws = await open_ws(emulator, path)
        assert await setup(ws) == {"setupComplete": {}}
        await ws.close()
    with pytest.raises(InvalidStatus) as info:
        await open_ws(emulator, "/ws/google.ai.generativelanguage.v1beta.GenerativeService.Nope")
    assert info.value.response.status_code == 404
    with pytest.raises(InvalidStatus):  # the constrained endpoint exists only in v1alpha
        await open_ws(emulator, DEV.replace("BidiGenerateContent", "BidiGenerateContentConstrained"))


@pytest.mark.parametrize(
    ("headers", "code", "reason"),
    [
        ({}, 1008, "Method doesn't allow unregistered callers"),
        ({"x-goog-api-key": "nope"}, 1007, "API key not valid. Please pass a valid API key."),
    ],
)
async def test_credentials_are_checked_after_the_first_message(
    emulator: GeminiEmulator, headers: dict[str, str], code: int, reason: str
) -> None:
    ws = await open_ws(emulator, headers=headers)  # the upgrade itself always succeeds
    await ws.send(json.dumps({"setup": {"model": MODEL}}))
    got_code, got_reason = await closed_with(ws)
    assert got_code == code and got_reason.startswith(reason)
    assert len(got_reason.encode()) <= 123


async def test_query_key_is_accepted(emulator: GeminiEmulator) -> None:
    ws = await websockets.connect(emulator.ws_base_url + DEV + "?key=emulator-key")
    assert await setup(ws) == {"setupComplete": {}}
    await ws.close()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"generationConfig": {"inputAudioTranscription": {}}},
            "Unknown name \"inputAudioTranscription\" at 'setup.generation_config'",
        ),
        ({"sessionResumption": {"transparent": True}}, "Unknown name \"transparent\" at 'setup.session_resumption'"),
        ({"bogus": 1}, "Unknown name \"bogus\" at 'setup'"),
        ({"generationConfig": {"responseMimeType": "application/json"}}, "Request contains an invalid argument."),
        ({"generationConfig": {"temperature": "hot"}}, "Invalid value at 'setup.generation_config.temperature'"),
        ({"generationConfig": {"responseModalities": ["AUDIO", "TEXT"]}}, "Request contains an invalid argument."),
        ({"proactivity": {"proactiveAudio": True}}, "Unknown name \"proactivity\" at 'setup'"),  # v1alpha only
    ],
)
async def test_setup_is_validated_like_the_server(emulator: GeminiEmulator, body: dict[str, Any], reason: str) -> None:
    ws = await open_ws(emulator)
    await ws.send(json.dumps({"setup": {"model": MODEL, **body}}))
    code, got = await closed_with(ws)
    assert code == 1007 and reason in got


async def test_first_message_must_be_setup(emulator: GeminiEmulator) -> None:
    ws = await open_ws(emulator)
    await ws.send(audio_message(PcmData.silence(20, 16000)))
    assert await closed_with(ws) == (1007, "Request contains an invalid argument.")


async def test_unknown_model_and_bad_handle_are_1008(emulator: GeminiEmulator) -> None:
    ws = await open_ws(emulator)
    await ws.send(json.dumps({"setup": {"model": "models/gemini-live-2.5-flash-preview"}}))
    code, reason = await closed_with(ws)
    assert code == 1008 and reason.startswith(
        "models/gemini-live-2.5-flash-preview is not found for API version v1beta"
    )
    assert len(reason.encode()) == 123  # truncated to the close-frame limit
    ws = await open_ws(emulator)
    await ws.send(json.dumps({"setup": {"model": MODEL, "sessionResumption": {"handle": "emu-forged"}}}))
    assert await closed_with(ws) == (1008, "BidiGenerateContent session not found")


async def test_snake_case_at_every_depth_and_enums_in_any_case(emulator: GeminiEmulator) -> None:
    ws = await open_ws(emulator)
    body = {
        "setup": {
            "model": MODEL,
            "generation_config": {
                "response_modalities": ["audio"],
                "speech_config": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}},
            },
            "realtime_input_config": {
                "automatic_activity_detection": {
                    "silence_duration_ms": 300,
                    "start_of_speech_sensitivity": "start_sensitivity_low",
                }
            },
            "context_window_compression": {"trigger_tokens": "1000", "sliding_window": {"target_tokens": 10}},
            "input_audio_transcription": {},
            "tools": [
                {
                    "function_declarations": [
                        {
                            "name": "f",
                            "parameters_json_schema": {
                                "type": "object",
                                "properties": {"some_arg": {"type": "string"}},
                            },
                        }
                    ]
                }
            ],
        }
    }
    await ws.send(json.dumps(body))
    assert await recv(ws) == {"setupComplete": {}}
    normalized = emulator.setups[1]
    assert normalized["realtimeInputConfig"]["automaticActivityDetection"] == {
        "silenceDurationMs": 300,
        "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
    }
    assert normalized["contextWindowCompression"]["triggerTokens"] == 1000
    # free-form values (a tool's JSON schema) keep their keys exactly
    assert normalized["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["properties"] == {
        "some_arg": {"type": "string"}
    }
    await ws.send(
        audio_message(
            PcmData.concat([PcmData.tone(500, 16000, amplitude=0.3), PcmData.silence(400, 16000)]), snake=True
        )
    )
    messages = await until(ws, turn_complete)
    assert any("modelTurn" in m.get("serverContent", {}) for m in messages)
    await ws.close()


async def test_one_top_level_field_per_message(emulator: GeminiEmulator) -> None:
    ws = await open_ws(emulator)
    await setup(ws)
    await ws.send(json.dumps({"realtimeInput": {"text": "a"}, "clientContent": {"turnComplete": True}}))
    code, reason = await closed_with(ws)
    assert code == 1007 and "oneof" in reason


async def test_empty_manual_activity_ends_the_turn_then_the_session(emulator: GeminiEmulator) -> None:
    ws = await open_ws(emulator)
    await setup(ws, {"realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}}})
    await ws.send(json.dumps({"realtimeInput": {"activityStart": {}}}))
    await ws.send(json.dumps({"realtimeInput": {"activityEnd": {}}}))
    messages = await until(ws, turn_complete)
    assert messages[-1] == {"serverContent": {"turnComplete": True}, "usageMetadata": {}}
    assert await closed_with(ws) == (1007, "Precondition check failed.")


async def test_activity_signals_need_manual_mode(emulator: GeminiEmulator) -> None:
    ws = await open_ws(emulator)
    await setup(ws)
    await ws.send(json.dumps({"realtimeInput": {"activityStart": {}}}))
    assert (await closed_with(ws))[0] == 1007


async def test_3_1_takes_client_content_only_as_a_history_seed() -> None:
    async with GeminiEmulator(scenario=Scenario(turns=[Turn(reply=Reply(text="hi"))])) as emu:
        ws = await open_ws(emu)
        await setup(ws, {"historyConfig": {"initialHistoryInClientContent": True}})
        seed = {
            "turns": [
                {"role": "user", "parts": [{"text": "I am Ann."}]},
                {"role": "model", "parts": [{"text": "Hi Ann."}]},
            ]
        }
        await ws.send(json.dumps({"clientContent": seed}))  # seeding: fine
        await ws.send(json.dumps({"realtimeInput": {"text": "hello"}}))
        await until(ws, turn_complete)
        assert emu.conversation(1).texts()[:2] == ["I am Ann.", "Hi Ann."]
        await ws.send(
            json.dumps(
                {"clientContent": {"turns": [{"role": "user", "parts": [{"text": "more"}]}], "turnComplete": True}}
            )
        )
        assert (await closed_with(ws))[0] == 1007  # after the first model turn: refused
        ws = await open_ws(emu)
        await setup(ws)  # no historyConfig: refused from the start
        await ws.send(json.dumps({"clientContent": seed}))
        assert (await closed_with(ws))[0] == 1007


async def test_2_5_takes_client_content_and_alpha_features() -> None:
    async with GeminiEmulator(profile="2.5", scenario=Scenario(turns=[Turn(reply=Reply(text="hi"))])) as emu:
        ws = await open_ws(emu, ALPHA)
        await ws.send(
            json.dumps(
                {
                    "setup": {
                        "model": MODEL_25,
                        "proactivity": {"proactive_audio": True},
                        "generationConfig": {"enableAffectiveDialog": True},
                    }
                }
            )
        )
        assert await recv(ws) == {"setupComplete": {}}
        await ws.send(
            json.dumps(
                {"client_content": {"turns": [{"role": "user", "parts": [{"text": "hello"}]}], "turn_complete": True}}
            )
        )
        messages = await until(ws, turn_complete)
        parts = [
            m["serverContent"]["modelTurn"]["parts"] for m in messages if "modelTurn" in m.get("serverContent", {})
        ]
        assert all(len(p) == 1 for p in parts)  # 2.5: one part per message
        assert "usageMetadata" in messages[-1] and messages[-1]["usageMetadata"]["responseTokenCount"] > 0
        await ws.close()


async def test_tool_response_needs_the_call_id() -> None:
    scenario = Scenario(turns=[Turn(reply=Reply(tool_calls=[{"name": "f"}]), after_tools=Reply(text="ok"))])
    async with GeminiEmulator(scenario=scenario) as emu:
        ws = await open_ws(emu)
        await setup(ws, {"tools": [{"functionDeclarations": [{"name": "f"}]}]})
        await ws.send(json.dumps({"realtimeInput": {"text": "call f"}}))
        messages = await until(ws, lambda m: "toolCall" in m)
        call = messages[-1]["toolCall"]["functionCalls"][0]
        assert call["id"].startswith("function-call-") and call["name"] == "f"
        await ws.send(json.dumps({"tool_response": {"function_responses": [{"name": "f", "response": {"output": 1}}]}}))
        assert await closed_with(ws) == (1007, "Request contains an invalid argument.")


async def test_go_away_is_enforced_with_1008() -> None:
    async with GeminiEmulator(session_lifetime_s=0.05, go_away_time_left_s=0.2) as emu:
        ws = await open_ws(emu)
        await setup(ws)
        assert await recv(ws) == {"goAway": {"timeLeft": "0.200s"}}
        code, reason = await closed_with(ws)  # the client ignored it
        assert code == 1008 and reason.startswith(
            "Connection aborted because the client failed to close the connection after receiving a GoAway"
        )


async def test_scenario_faults_in_gemini_terms() -> None:
    faults = [
        Fault(kind="malformed", after_messages=2),
        Fault(kind="error", at_turn=0, code="PROHIBITED_INPUT_CONTENT"),
        Fault(kind="close", at_turn=1, code=1011),
    ]
    async with GeminiEmulator(scenario=Scenario(faults=faults)) as emu:
        ws = await open_ws(emu)
        await setup(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "one"}}))
        raw = await ws.recv()
        with pytest.raises(ValueError):
            json.loads(raw)  # the malformed frame
        assert await recv(ws) == {
            "serverContent": {"turnComplete": True, "turnCompleteReason": "PROHIBITED_INPUT_CONTENT"}
        }
        await ws.send(json.dumps({"realtimeInput": {"text": "two"}}))
        assert await closed_with(ws) == (1011, "Internal error occurred.")


async def test_turn_complete_can_wait_for_playback() -> None:
    reply = Reply(text="x", audio="tone", audio_ms=400, chunk_ms=100)
    async with GeminiEmulator(turn_complete_delay="playback", scenario=Scenario(turns=[Turn(reply=reply)])) as emu:
        ws = await open_ws(emu)
        await setup(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "go"}}))
        await until(ws, turn_complete)
        # held back until a client playing the 0.4 s reply in real time from its first chunk is done (the
        # emulator's own clock: no timing luck either way)
        playout_end = emu.connection(1).turns.last.playout_end
        assert playout_end is not None and time.monotonic() >= playout_end
        await ws.close()


async def test_late_interrupt_after_turn_complete() -> None:
    reply = Reply(text="x", audio="tone", audio_ms=5000, chunk_ms=500)
    async with GeminiEmulator(late_interrupt=True, scenario=Scenario(turns=[Turn(reply=reply)])) as emu:
        ws = await open_ws(emu)
        await setup(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "go"}}))
        await until(ws, turn_complete)
        # speech while the 5 s reply is presumably still playing: a lone "interrupted"
        await ws.send(audio_message(PcmData.tone(300, 16000, amplitude=0.3)))
        messages = await until(ws, lambda m: m.get("serverContent", {}).get("interrupted"))
        assert messages[-1] == {"serverContent": {"interrupted": True}}
        assert emu.facts_named("barge_in")[0].data["late"]
        await ws.close()


async def test_deprecated_media_chunks_use_only_the_first_element(emulator: GeminiEmulator) -> None:
    ws = await open_ws(emulator)
    await setup(ws)
    pcm = PcmData.concat([PcmData.tone(400, 16000, amplitude=0.3), PcmData.silence(600, 16000)])
    first = {"mimeType": "audio/pcm;rate=16000", "data": base64.b64encode(pcm.to_bytes()).decode()}
    ignored = {"mimeType": "image/png", "data": "AAAA"}
    await ws.send(json.dumps({"realtime_input": {"media_chunks": [first, ignored]}}))
    await until(ws, turn_complete)
    assert emulator.audio_received_ms == 1000 and not emulator.facts_named("video_frame")
    await ws.close()


def test_profiles_capture_the_open_points() -> None:
    assert PROFILES["2.5"].combine_parts is False and PROFILES["3.1"].combine_parts is True
    assert PROFILES["3.1"].client_content == "seed_only" and PROFILES["2.5"].client_content == "any"
    assert PROFILES["3.8"].client_content == "with_role" and PROFILES["3.8"].tool_behaviors[0] == "NON_BLOCKING"
    assert PROFILES["3.1"].turn_coverage_default.endswith("AND_ALL_VIDEO")
    assert PROFILES["2.5"].with_(voice_activity=True).voice_activity
