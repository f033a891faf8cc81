"""Fidelity against the official ``dashscope`` SDK (a test-only dependency) and the documented event shapes.

* The SDK's own Omni realtime clients (threaded, on ``websocket-client``; run in a worker thread, never on
  the event loop) drive the emulator: the 1.x ``OmniRealtimeConversation`` through a spoken turn with an
  image, and the 2.x ``client.audio.realtime`` session through a qwen3.8 manual turn with its nested session
  shape on a workspace endpoint; both end with ``session.finish``: the emulator must be good enough for the
  official clients.
* Every client event, the SDK's and the plugin's (driven through every feature it has), is checked against
  the shapes the DashScope docs and the SDK document (protocol notes §2-§3).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Any

import numpy as np
import pytest

from realtime_core import PcmData, RealtimeAudioOutputDoneEvent, RealtimeAudioOutputEvent, RealtimeToolCallFinishedEvent
from realtime_core.emulator import Reply, ToolCallSpec, Turn
from realtime_core.video import VideoFrameJpeg, encode_jpeg
from realtime_qwen.emulator import QwenEmulator

from .helpers import (
    FLASH3,
    FLASH38,
    PLUS,
    TURBO,
    USER_TEXT,
    EmulatorFactory,
    SessionFactory,
    client_events,
    long_turn,
    scenario,
    speak,
    speech,
    turn,
)

# --------------------------------------------------------------------------- the documented client events
_EVENTS: dict[str, tuple[set[str], set[str]]] = {  # type -> (required keys, optional keys)
    "session.update": ({"type", "session"}, {"event_id"}),
    "input_audio_buffer.append": ({"type", "audio"}, {"event_id"}),
    "input_audio_buffer.commit": ({"type"}, {"event_id"}),
    "input_audio_buffer.clear": ({"type"}, {"event_id"}),
    "input_image_buffer.append": ({"type", "image"}, {"event_id"}),
    "conversation.item.create": ({"type", "item"}, {"event_id"}),
    "response.create": ({"type"}, {"event_id", "response"}),
    "response.cancel": ({"type"}, {"event_id"}),
    "session.finish": ({"type"}, {"event_id"}),
}
_SESSION = {
    "modalities", "voice", "input_audio_format", "output_audio_format", "instructions", "smooth_output",
    "input_audio_transcription", "turn_detection", "tools", "tool_choice", "enable_search", "search_options",
    "temperature", "top_p", "top_k", "max_tokens", "repetition_penalty", "presence_penalty", "seed",
    "audio",  # the SDK's qwen3.8 shape: audio.{input,output}.format and audio.output.voice
}  # fmt: skip
_TURN = {"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response", "interrupt_response", "idle_timeout_ms"}


def check_documented(event: dict[str, Any]) -> None:
    """Assert ``event`` has a documented client shape (raises AssertionError naming what is off)."""
    kind = event.get("type")
    assert kind in _EVENTS, f"undocumented client event {kind!r}"
    required, optional = _EVENTS[kind]
    keys = set(event)
    assert required <= keys <= required | optional, f"{kind}: keys {sorted(keys)}"
    if "event_id" in event:
        assert isinstance(event["event_id"], str) and event["event_id"].startswith("event_"), event["event_id"]
    if kind == "session.update":
        _check_session(event["session"])
    elif kind == "input_audio_buffer.append":
        pcm = base64.b64decode(event["audio"], validate=True)
        assert pcm and len(pcm) % 2 == 0, "PCM16 comes in whole samples"
    elif kind == "input_image_buffer.append":
        assert len(event["image"]) <= 256 * 1024, "at most 256 KB of base64"
        assert base64.b64decode(event["image"], validate=True)[:2] == b"\xff\xd8", "JPEG only"
    elif kind == "conversation.item.create":
        _check_item(event["item"])
    elif kind == "response.create" and "response" in event:
        response = event["response"]
        assert set(response) <= {"instructions", "modalities"}, sorted(response)
        assert response.get("instructions") is None or isinstance(response["instructions"], str)


def _check_session(session: dict[str, Any]) -> None:
    assert set(session) <= _SESSION, f"undocumented session fields: {sorted(set(session) - _SESSION)}"
    if "modalities" in session:
        assert sorted(session["modalities"]) in (["text"], ["audio", "text"])
    assert session.get("input_audio_format", "pcm16") in ("pcm16", "pcm")
    audio = session.get("audio") or {}
    assert set(audio) <= {"input", "output"} and set(audio.get("input", {})) <= {"format"}
    assert set(audio.get("output", {})) <= {"format", "voice"}
    assert session.get("output_audio_format", "pcm24") in ("pcm16", "pcm24", "pcm")
    transcription = session.get("input_audio_transcription")
    assert transcription is None or set(transcription) <= {"model", "language", "corpus"}
    td = session.get("turn_detection")
    if td is not None:
        assert set(td) <= _TURN and td["type"] in ("server_vad", "semantic_vad")
        assert -1 <= td.get("threshold", 0) <= 1 and 200 <= td.get("silence_duration_ms", 800) <= 6000
    for tool in session.get("tools", ()):
        assert tool["type"] == "function" and set(tool) == {"type", "function"}, "chat-completions tool shape"
        assert set(tool["function"]) <= {"name", "description", "parameters"}
    assert not (session.get("enable_search") and session.get("tools")), "search and tools are exclusive"


def _check_item(item: dict[str, Any]) -> None:
    if item["type"] == "function_call_output":
        assert set(item) <= {"type", "call_id", "output", "id"} and isinstance(item["output"], str)
    else:
        assert item["type"] == "message" and item["role"] == "user", item
        assert all(part["type"] == "input_text" and isinstance(part["text"], str) for part in item["content"])


# --------------------------------------------------------------------------- the official SDK
def _jpeg(width: int = 640, height: int = 360) -> bytes:
    import av

    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 100, np.uint8), format="rgb24")
    return encode_jpeg(frame).data


def sdk_spoken_turn(url: str, api_key: str, model: str, voice: str) -> tuple[list[dict[str, Any]], Any]:
    """One spoken turn with the SDK's Omni realtime client (blocking: runs in a worker thread)."""
    from dashscope.audio.qwen_omni import MultiModality, OmniRealtimeCallback, OmniRealtimeConversation

    events: list[dict[str, Any]] = []
    responded = threading.Event()
    closed: list[Any] = []

    class Callback(OmniRealtimeCallback):
        def on_event(self, message: Any) -> None:  # the SDK hands over the decoded JSON
            events.append(message)
            if message.get("type") == "response.done":
                responded.set()

        def on_close(self, close_status_code: Any, close_msg: Any) -> None:
            closed.append(close_status_code)

    conversation = OmniRealtimeConversation(model=model, callback=Callback(), url=url, api_key=api_key)
    conversation.connect()
    try:
        conversation.update_session(
            output_modalities=[MultiModality.AUDIO, MultiModality.TEXT],
            voice=voice,
            enable_input_audio_transcription=True,
            enable_turn_detection=True,
            turn_detection_threshold=0.2,
            instructions="You are a helpful assistant.",
        )
        talk = PcmData.concat([speech(800), PcmData.silence(1200, 16000)])
        for i, chunk in enumerate(talk.chunks(100)):  # 3200 bytes per event, like the official samples
            conversation.append_audio(base64.b64encode(chunk.to_bytes()).decode("ascii"))
            if i == 2:
                conversation.append_video(base64.b64encode(_jpeg()).decode("ascii"))
        assert responded.wait(10), "no response.done within 10 s"
        conversation.end_session(timeout=5)  # session.finish -> session.finished
    finally:
        conversation.close()
    return events, conversation.get_session_id()


async def test_the_official_sdk_drives_the_emulator(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(turn("Hello from the emulator.", audio_ms=600)))
    events, session_id = await asyncio.to_thread(sdk_spoken_turn, emu.url, emu.api_key, FLASH3, "Cherry")
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["session.created", "session.updated"] and session_id.startswith("sess_")
    for expected in (
        "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
        "response.created", "response.audio_transcript.done", "response.audio.done", "response.done", "session.finished",
    ):  # fmt: skip
        assert expected in kinds, f"the SDK never saw {expected}"
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta")
    assert len(audio) == 600 * 24 * 2  # 24 kHz PCM16 mono, what the SDK's samples play
    transcript = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert transcript["transcript"] == USER_TEXT
    assert emu.facts_named("video_frame") and emu.facts_named("session_finished")
    sdk_events = client_events(emu)
    for event in sdk_events:
        check_documented(event)  # the table of documented shapes agrees with the official client
    update = next(e for e in sdk_events if e["type"] == "session.update")["session"]
    assert update["input_audio_transcription"] == {"model": None} and update["input_audio_format"] == "pcm16"


def sdk2_manual_turn(url: str, api_key: str, model: str, workspace: str) -> list[dict[str, Any]]:
    """One manual turn with the 2.x SDK's realtime session, as its Omni 3.8 example does (blocking)."""
    from dashscope import Client

    events: list[dict[str, Any]] = []

    def until(rt: Any, kind: str) -> None:
        while True:
            event = rt.recv_event()
            assert event is not None, f"the connection closed before {kind}"
            events.append(event)
            if event["type"] == kind:
                return

    client = Client(api_key=api_key, workspace=workspace, region="ap-southeast-1")
    with client.audio.realtime.connect(model=model, ws_url=url, workspace=workspace, timeout=10) as rt:
        until(rt, "session.created")
        rt.update_session(["text", "audio"], voice="longanlingxin", enable_turn_detection=False,
                          enable_input_audio_transcription=True, instructions="Answer briefly.")  # fmt: skip
        until(rt, "session.updated")
        for chunk in speech(600).chunks(100):
            rt.append_audio(chunk.to_bytes())
        rt.commit()
        rt.create_response()  # qwen3.8: no "response" object at all
        until(rt, "response.done")
        rt.end_session()  # qwen3.8 documents no session.finished: the SDK reads on until the server closes
        while (event := rt.recv_event()) is not None:
            events.append(event)
    return events


@pytest.mark.filterwarnings("ignore:dashscope 2.0 audio API is a preview:FutureWarning")
async def test_the_official_sdk_2_drives_qwen38_on_a_workspace_endpoint(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(turn("Hello from three point eight.", audio_ms=300)), finish_close_after_s=0.2)
    events = await asyncio.to_thread(sdk2_manual_turn, emu.url, emu.api_key, FLASH38, "ws-sdk")
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["session.created", "session.updated"] and "session.finished" not in kinds
    assert events[1]["session"]["voice"] == "longanlingxin"
    assert events[1]["session"]["input_audio_transcription"] == {"model": "qwen3-asr-flash-realtime"}
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status"] == "completed" and done["output"][0]["content"][0]["transcript"] == "Hello from three point eight."
    assert emu.handshakes[-1] == {"model": FLASH38, "workspace": "ws-sdk", "status": 101}
    assert emu.facts_named("session_finished")
    sent = client_events(emu)
    update = next(e for e in sent if e["type"] == "session.update")["session"]
    assert update["audio"]["output"]["voice"] == "longanlingxin" and "voice" not in update  # the nested shape
    for event in sent:
        check_documented(event)


# --------------------------------------------------------------------------- the plugin, through every feature
def _get_weather(city: str) -> dict[str, str]:
    """The weather in a city.

    :param city: the city
    """
    return {"city": city, "sky": "sunny"}


async def test_the_plugins_events_have_the_documented_shapes(emulator: EmulatorFactory, session: SessionFactory) -> None:
    call = ToolCallSpec(name="_get_weather", arguments={"city": "Paris"})
    turns = [
        long_turn(),
        Turn(on="text", reply=Reply(text=None, audio="none", tool_calls=[call]), after_tools=Reply(text="Sunny.", audio_ms=300)),
        turn("Manual."),
    ]
    emu: QwenEmulator = await emulator(scenario(*turns))
    s = session(emu, model=PLUS, tools=[_get_weather], instructions="Be brief.", temperature=0.5, cancel_grace_s=0.2)
    await s.connect()
    events = s.events()
    await speak(s)  # a spoken turn, VAD
    await events.wait_for(RealtimeAudioOutputEvent, timeout=5)
    await s._send_video_frame(VideoFrameJpeg(_jpeg(), 640, 360, 0.0))  # pyright: ignore[reportPrivateUsage]
    await s.interrupt()  # response.cancel
    await s.simple_response("What is the weather in Paris?")  # text input -> tool call -> tool output
    await events.wait_for(RealtimeToolCallFinishedEvent, timeout=5)
    await events.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, timeout=5)
    await s.close()  # session.finish
    manual = session(emu, model=TURBO, turn_detection=None)
    await manual.connect()
    mine = manual.events()
    await manual.begin_user_turn()  # input_audio_buffer.clear
    await speak(manual, 400, 0)
    await manual.end_user_turn()  # commit + response.create
    await mine.wait_for(RealtimeAudioOutputDoneEvent, timeout=5)
    await manual.close()
    sent = client_events(emu)
    assert {e["type"] for e in sent} == set(_EVENTS), "every client event was exercised"
    for event in sent:
        check_documented(event)
    assert json.loads(next(e for e in sent if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output")["item"]["output"]) == {"city": "Paris", "sky": "sunny"}
