"""The emulator speaks DashScope's protocol: handshake rules, session object, event order, errors, limits.

Driven with a bare WebSocket client (``websockets``) sending DashScope's JSON events, so what is checked is the
wire protocol, not the plugin.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from realtime_core import PcmData
from realtime_core.emulator import Fault, Reply, ToolCallSpec, Turn
from realtime_qwen.emulator import QwenEmulator

from .helpers import FLASH3, PLUS, TURBO, USER_TEXT, EmulatorFactory, scenario, speech, turn


@asynccontextmanager
async def raw(emu: QwenEmulator, model: str | None = PLUS, key: str | None = None) -> AsyncIterator[ClientConnection]:
    url = emu.url + (f"?model={model}" if model else "")
    headers = {"Authorization": f"Bearer {key or emu.api_key}"}
    async with websockets.connect(url, additional_headers=headers, max_queue=None) as ws:  # tests may not read all
        yield ws


async def recv(ws: ClientConnection, until: str, timeout: float = 5) -> list[dict[str, Any]]:
    """Server events up to and including the first of type ``until``."""
    seen: list[dict[str, Any]] = []
    async with __import__("asyncio").timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            seen.append(event)
            if event["type"] == until:
                return seen


async def send(ws: ClientConnection, event: dict[str, Any]) -> None:
    await ws.send(json.dumps(event))


def append(pcm: PcmData) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm.to_bytes()).decode()}


def jpeg(width: int = 64, height: int = 48) -> str:
    import av
    import numpy as np

    from realtime_core.video import encode_jpeg

    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 120, np.uint8), format="rgb24")
    return base64.b64encode(encode_jpeg(frame).data).decode()


async def test_handshake_needs_model_and_key(emulator: EmulatorFactory) -> None:
    emu = await emulator(wrong_region_keys=["sk-other-region-key-000"])
    for model, key, status in ((None, None, 400), (PLUS, "sk-bad-key-000000", 401), (PLUS, "sk-other-region-key-000", 401), ("qwen9", None, 400)):
        with pytest.raises(InvalidStatus) as info:
            async with raw(emu, model, key):
                pass
        assert info.value.response.status_code == status
    assert emu.connections == 0


async def test_session_created_then_updated_with_the_model_defaults(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    async with raw(emu, TURBO) as ws:
        created = (await recv(ws, "session.created"))[-1]["session"]
        assert created["object"] == "realtime.session" and created["id"].startswith("sess_")
        assert created["voice"] == "Chelsie" and created["input_audio_transcription"] == {"model": "gummy-realtime-v1"}
        assert created["turn_detection"] == {
            "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 800,
            "create_response": True, "interrupt_response": True,
        }  # fmt: skip
        assert "instructions" not in created and created["tools"] == [] and created["tool_choice"] == "auto"
        await send(ws, {"type": "session.update", "session": {"instructions": "Be brief.", "input_audio_transcription": {"model": None}}})
        updated = (await recv(ws, "session.updated"))[-1]["session"]
        assert updated["instructions"] == "Be brief." and updated["voice"] == "Chelsie"
        assert updated["input_audio_transcription"] == {"model": "gummy-realtime-v1"}  # fixed per model
        assert updated["max_tokens"] == 2048 and updated["temperature"] == 1.0


@pytest.mark.parametrize(
    ("model", "session", "message"),
    [
        (PLUS, {"modalities": ["audio"]}, "Invalid modalities: ['audio']. Supported combinations are: ['text'] and ['audio', 'text']."),
        (FLASH3, {"turn_detection": {"type": "semantic_vad"}}, "semantic_vad is not supported"),
        (PLUS, {"turn_detection": {"silence_duration_ms": 100}}, "out of range [200, 6000]"),
        (PLUS, {"enable_search": True, "tools": [{"type": "function", "function": {"name": "f"}}]}, "cannot be used together"),
        (PLUS, {"tools": [{"type": "function", "name": "flat_openai_shape"}]}, "expected an object"),
        (PLUS, {"smooth_output": True}, "not supported by model"),
        (PLUS, {"input_audio_format": "g711_ulaw"}, "Supported values are: 'pcm16', 'pcm'"),
        (PLUS, {"max_output_tokens": 100}, "Unknown parameter: 'session.max_output_tokens'"),
    ],
)
async def test_bad_updates_are_refused_whole(emulator: EmulatorFactory, model: str, session: dict[str, Any], message: str) -> None:
    emu = await emulator()
    async with raw(emu, model) as ws:
        await recv(ws, "session.created")
        await send(ws, {"type": "session.update", "session": {**session, "instructions": "changed"}})
        error = (await recv(ws, "error"))[-1]["error"]
        assert error["type"] == "invalid_request_error" and message in error["message"]
        await send(ws, {"type": "session.update", "session": {}})
        assert (await recv(ws, "session.updated"))[-1]["session"]["instructions"] == ""  # nothing was applied


async def test_an_unsupported_voice_errors_then_closes(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        await send(ws, {"type": "session.update", "session": {"voice": "Cherry"}})
        error = (await recv(ws, "error"))[-1]["error"]
        assert error["message"] == "Voice 'Cherry' is not supported." and error["param"] == "session.voice"
        with pytest.raises(ConnectionClosed):
            await ws.recv()


async def test_a_spoken_turn_in_dashscope_order(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(turn("Sunny and warm.", audio_ms=400)))
    async with raw(emu, FLASH3) as ws:
        await recv(ws, "session.created")
        await send(ws, append(speech(700)))
        await send(ws, append(PcmData.silence(1200, 16000)))
        events = await recv(ws, "response.done")
    kinds = [e["type"] for e in events]
    order = [
        "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
        "conversation.item.created", "response.created",
        "conversation.item.input_audio_transcription.completed",  # after response.created, as observed
        "response.output_item.added", "conversation.item.created", "response.content_part.added",
    ]  # fmt: skip
    assert kinds[: len(order)] == order
    tail = ["response.audio_transcript.done", "response.audio.done", "response.content_part.done", "response.output_item.done", "response.done"]
    assert kinds[-len(tail) :] == tail
    middle = set(kinds[len(order) : -len(tail)])
    assert middle == {"response.audio_transcript.delta", "response.audio.delta"}
    by_type = {e["type"]: e for e in events}
    assert by_type["response.content_part.added"]["part"] == {"type": "audio", "text": ""}
    assert by_type["response.content_part.done"]["part"] == {"type": "audio", "text": "Sunny and warm."}
    assert by_type["conversation.item.input_audio_transcription.completed"]["transcript"] == USER_TEXT
    user_item = events[3]["item"]
    assert user_item["role"] == "user" and user_item["content"] == [{"type": "input_audio"}]
    done = by_type["response.done"]["response"]
    assert done["status"] == "completed" and done["modalities"] == ["text", "audio"] and done["voice"] == "Cherry"
    assert done["output"][0]["content"] == [{"type": "audio", "transcript": "Sunny and warm."}]
    usage = done["usage"]
    assert usage["input_tokens_details"]["audio_tokens"] > 0 and usage["output_tokens_details"]["audio_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    deltas = [e for e in events if e["type"] == "response.audio.delta"]
    assert sum(len(base64.b64decode(e["delta"])) for e in deltas) == 400 * 24 * 2  # 24 kHz PCM16
    assert "rate_limits.updated" not in kinds and "conversation.item.done" not in kinds


async def test_qwen35_streams_transcript_previews(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(turn(audio_ms=200)))
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        await send(ws, append(speech(700)))
        await send(ws, append(PcmData.silence(1200, 16000)))
        events = await recv(ws, "conversation.item.input_audio_transcription.completed")
    previews = [e for e in events if e["type"] == "conversation.item.input_audio_transcription.delta"]
    assert previews and all(set(e) >= {"text", "stash", "item_id"} for e in previews)
    assert previews[-1]["text"] + previews[-1]["stash"] == USER_TEXT


async def test_text_mode_manual_turn_and_commit_rules(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(turn("In text.")))
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        await send(ws, {"type": "input_audio_buffer.commit"})  # VAD mode: refused
        assert (await recv(ws, "error"))[-1]["error"]["message"] == "Internal service error: null"
        await send(ws, {"type": "session.update", "session": {"modalities": ["text"], "turn_detection": None}})
        await recv(ws, "session.updated")
        await send(ws, {"type": "input_audio_buffer.commit"})  # empty buffer: refused
        assert "empty" in (await recv(ws, "error"))[-1]["error"]["message"]
        await send(ws, append(speech(500)))
        await send(ws, {"type": "input_audio_buffer.commit"})
        await send(ws, {"type": "response.create", "response": {"instructions": None}})
        events = await recv(ws, "response.done")
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["input_audio_buffer.committed", "conversation.item.created"]
    assert "input_audio_buffer.speech_started" not in kinds
    assert "response.text.delta" in kinds and "response.audio.delta" not in kinds
    text_done = next(e for e in events if e["type"] == "response.text.done")
    assert text_done["text"] == "In text."
    assert next(e for e in events if e["type"] == "response.content_part.added")["part"] == {"type": "text", "text": ""}
    assert emu.facts_named("response_requested")


async def test_images_need_audio_first_and_are_checked(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    async with raw(emu, TURBO) as ws:
        await recv(ws, "session.created")
        await send(ws, {"type": "input_image_buffer.append", "image": jpeg()})
        error = (await recv(ws, "error"))[-1]["error"]
        assert error == {"type": "invalid_request_error", "code": "", "message": "Error append image before append audio.", "param": "", "event_id": None}
        await send(ws, append(PcmData.silence(100, 16000)))
        await send(ws, {"type": "input_image_buffer.append", "image": jpeg(640, 360)})
        png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode()
        await send(ws, {"type": "input_image_buffer.append", "image": png})
        assert "only JPG/JPEG" in (await recv(ws, "error"))[-1]["error"]["message"]
        await send(ws, {"type": "input_image_buffer.append", "image": "A" * (256 * 1024 + 4)})
        assert "256 KB" in (await recv(ws, "error"))[-1]["error"]["message"]
        await send(ws, {"type": "input_audio_buffer.clear"})
        await recv(ws, "input_audio_buffer.cleared")
        await send(ws, {"type": "input_image_buffer.append", "image": jpeg()})  # the buffer is empty again
        assert "before append audio" in (await recv(ws, "error"))[-1]["error"]["message"]
    frames = emu.facts_named("video_frame")
    assert len(frames) == 1 and frames[0].data["width"] == 640 and frames[0].data["mime_type"] == "image/jpeg"


async def test_tools_text_input_and_ids_on_qwen35(emulator: EmulatorFactory) -> None:
    call = ToolCallSpec(name="get_weather", arguments={"city": "Paris"}, call_id="call_1")
    emu = await emulator(scenario(Turn(on="text", reply=Reply(text=None, audio="none", tool_calls=[call]), after_tools=Reply(text="Sunny.", audio_ms=200))))
    tool = {"type": "function", "function": {"name": "get_weather", "description": "", "parameters": {"type": "object"}}}
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        await send(ws, {"type": "session.update", "session": {"tools": [tool]}})
        await recv(ws, "session.updated")
        item = {"id": "mine", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]}
        await send(ws, {"type": "conversation.item.create", "item": item})
        created = (await recv(ws, "conversation.item.created"))[-1]["item"]
        assert created["id"] != "mine" and created["id"].startswith("item_")  # Omni replaces client ids
        await send(ws, {"type": "response.create"})
        events = await recv(ws, "response.done")
        done_args = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert (done_args["call_id"], done_args["name"], json.loads(done_args["arguments"])) == ("call_1", "get_weather", {"city": "Paris"})
        assert not [e for e in events if e["type"] == "response.audio.delta"]  # a tool-calling response has no audio
        output = {"type": "function_call_output", "call_id": "call_1", "output": '{"sky": "sunny"}'}
        await send(ws, {"type": "conversation.item.create", "item": output})
        await recv(ws, "conversation.item.created")
        await send(ws, {"type": "response.create"})
        follow = await recv(ws, "response.done")
        assert next(e for e in follow if e["type"] == "response.audio_transcript.done")["transcript"] == "Sunny."
        item["content"] = [{"type": "input_image", "image_url": "data:image/jpeg;base64,AAAA"}]
        await send(ws, {"type": "conversation.item.create", "item": item})
        assert "input_image_buffer.append" in (await recv(ws, "error"))[-1]["error"]["message"]
    assert [f.data["call_id"] for f in emu.facts_named("tool_result")] == ["call_1"]
    assert emu.facts_named("text_in")[0].data["text"] == "Weather?"


async def test_text_input_refused_before_qwen35(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    async with raw(emu, FLASH3) as ws:
        await recv(ws, "session.created")
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        await send(ws, {"type": "conversation.item.create", "item": item})
        assert "not supported by model" in (await recv(ws, "error"))[-1]["error"]["message"]


@pytest.mark.parametrize(("model", "switch", "done_expected"), [(PLUS, None, False), (TURBO, None, True), (PLUS, True, True)])
async def test_cancel_behaviour_is_a_switch(emulator: EmulatorFactory, model: str, switch: bool | None, done_expected: bool) -> None:
    emu = await emulator(scenario(turn(audio_ms=4000, chunk_ms=40, chunk_interval_ms=20)), cancel_response_done=switch)
    async with raw(emu, model) as ws:
        await recv(ws, "session.created")
        await send(ws, {"type": "response.cancel"})
        assert "no active response" in (await recv(ws, "error"))[-1]["error"]["message"]
        await send(ws, {"type": "session.update", "session": {"turn_detection": None}})
        await recv(ws, "session.updated")
        await send(ws, append(speech(300)))
        await send(ws, {"type": "input_audio_buffer.commit"})
        await send(ws, {"type": "response.create"})
        await recv(ws, "response.audio.delta")
        await send(ws, {"type": "response.cancel"})
        events = await recv(ws, "response.output_item.done")
        assert events[-1]["item"]["status"] == "incomplete"
        await send(ws, {"type": "session.finish"})  # a marker: everything before it has been answered
        rest = await recv(ws, "session.finished")
    dones = [e for e in events + rest if e["type"] == "response.done"]
    assert bool(dones) == done_expected
    if dones:
        assert dones[0]["response"]["status"] == "cancelled"
    assert emu.facts_named("cancel") and emu.facts_named("session_finished")


async def test_barge_in_stops_the_reply(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(turn(audio_ms=6000, chunk_ms=40, chunk_interval_ms=20), turn("Yes?")))
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        await send(ws, append(speech(700)))
        await send(ws, append(PcmData.silence(1000, 16000)))
        await recv(ws, "response.audio.delta")
        await send(ws, append(speech(500)))
        events = await recv(ws, "response.done")
    assert events[-1]["response"]["status"] == "cancelled"
    assert "input_audio_buffer.speech_started" in [e["type"] for e in events]
    assert emu.facts_named("barge_in")


async def test_session_finish_can_be_refused(emulator: EmulatorFactory) -> None:
    emu = await emulator(session_finish="reject")
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        await send(ws, {"type": "session.finish"})
        assert (await recv(ws, "error"))[-1]["error"]["message"] == "invalid event type"
        await send(ws, {"type": "conversation.item.truncate", "item_id": "x", "content_index": 0, "audio_end_ms": 0})
        assert "Invalid value: 'conversation.item.truncate'" in (await recv(ws, "error"))[-1]["error"]["message"]
    assert not emu.facts_named("session_finished")


async def test_idle_sessions_close_with_1007(emulator: EmulatorFactory) -> None:
    emu = await emulator(idle_timeout_s=0.3)
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws, "never")
    assert info.value.rcvd is not None and info.value.rcvd.code == 1007
    assert info.value.rcvd.reason == "Your session was closed because no response was generated for 0.3 seconds."
    assert emu.idle_closes == 1


async def test_the_session_cap_closes_the_socket(emulator: EmulatorFactory) -> None:
    emu = await emulator(max_session_seconds=0.3)
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws, "never")
    assert info.value.rcvd is not None and info.value.rcvd.code == 1000
    assert "maximum duration" in info.value.rcvd.reason


async def test_faults_from_the_scenario(emulator: EmulatorFactory) -> None:
    faults = [Fault(kind="malformed", after_messages=2), Fault(kind="error", after_messages=3, code="Throttling", message="slow down")]
    emu = await emulator(scenario(turn(), faults=faults))
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        await send(ws, {"type": "session.update", "session": {}})
        await recv(ws, "session.updated")
        await send(ws, {"type": "session.update", "session": {}})
        with pytest.raises(json.JSONDecodeError):
            json.loads(await ws.recv())
        await recv(ws, "session.updated")
        await send(ws, {"type": "session.update", "session": {}})
        error = (await recv(ws, "error"))[-1]["error"]
        assert (error["code"], error["message"]) == ("Throttling", "slow down")


async def test_semantic_vad_ignores_back_channels(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(turn(audio_ms=100)))
    async with raw(emu, PLUS) as ws:
        await recv(ws, "session.created")
        await send(ws, {"type": "session.update", "session": {"turn_detection": {"type": "semantic_vad"}}})
        await recv(ws, "session.updated")
        await send(ws, append(speech(250)))  # "mm-hm"
        await send(ws, append(PcmData.silence(800, 16000)))
        await send(ws, append(speech(700)))  # a real turn
        await send(ws, append(PcmData.silence(800, 16000)))
        events = await recv(ws, "input_audio_buffer.speech_stopped")
    started = [e for e in events if e["type"] == "input_audio_buffer.speech_started"]
    assert len(started) == 1 and started[0]["audio_start_ms"] == 1050 - 300  # the second burst (less the prefix)
    async with raw(emu, PLUS) as ws:  # server_vad takes the short burst as speech
        await recv(ws, "session.created")
        await send(ws, append(speech(250)))
        await send(ws, append(PcmData.silence(900, 16000)))
        assert (await recv(ws, "input_audio_buffer.speech_started"))[-1]["audio_start_ms"] < 300
