"""Fidelity against the official ``openai`` SDK (a test-only dependency).

* The SDK's own realtime client drives the emulator, and every server event the emulator sent is validated
  against the SDK's server-event models (no unexpected fields either).
* The plugin drives the emulator through every feature, and every client event it sent is validated
  against the SDK's client-event models.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from openai import AsyncOpenAI
from openai.types.realtime import ClientSecretCreateResponse, RealtimeClientEvent, RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter

from realtime_core import (
    PcmData,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeReconnectedEvent,
    RealtimeResponseEvent,
    RealtimeToolCallFinishedEvent,
)
from realtime_core.emulator import Reply, Scenario, ToolCallSpec, Turn
from realtime_core.video import VideoFrameJpeg
from realtime_openai.emulator import OpenAIEmulator

from .helpers import EmulatorFactory, SessionFactory, client_events, long_turn, speak, speech, turn

SERVER = TypeAdapter(RealtimeServerEvent)
CLIENT = TypeAdapter(RealtimeClientEvent)

# Fields real servers send that the SDK's models do not declare (see the protocol notes, §2 and §3).
KNOWN_SERVER_EXTRAS = {".obfuscation", ".session.object", ".session.id", ".session.expires_at"}


def extras(value: Any, path: str = "") -> list[str]:
    """Dotted paths of fields a model accepted without declaring them (pydantic ``extra="allow"``)."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{key}" for key in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            found += extras(item, path)
    return found


def validate_server_events(emu: OpenAIEmulator) -> set[str]:
    kinds: set[str] = set()
    for _, event in emu.server_events:
        model = SERVER.validate_python(event)
        assert model.type == event["type"]
        unexpected = [p for p in extras(model) if p not in KNOWN_SERVER_EXTRAS]
        assert not unexpected, f"{event['type']}: fields the SDK does not know: {unexpected}"
        kinds.add(event["type"])
    return kinds


def validate_client_events(emu: OpenAIEmulator) -> set[str]:
    kinds: set[str] = set()
    for event in client_events(emu):
        model = CLIENT.validate_python(event)
        unexpected = extras(model)
        assert not unexpected, f"{event['type']}: fields the SDK does not know: {unexpected}"
        kinds.add(event["type"])
    return kinds


def b64(pcm: PcmData) -> str:
    return base64.b64encode(pcm.to_bytes()).decode()


async def test_official_sdk_drives_the_emulator(emulator: EmulatorFactory) -> None:
    call = ToolCallSpec(name="get_weather", arguments={"city": "Paris"}, call_id="call_0123456789abcdef")
    sc = Scenario(
        turns=[
            turn("Hello from the emulator.", audio_ms=400),
            Turn(reply=Reply(audio="none", tool_calls=[call]), after_tools=Reply(text="It is sunny.", audio_ms=300)),
            long_turn(3.0),
        ]
    )
    emu = await emulator(sc)
    client = AsyncOpenAI(api_key=emu.api_key, base_url=f"{emu.base_url}/v1")
    received: list[Any] = []
    await client.close()  # the realtime client opens its own WebSocket; no HTTP pool is needed

    async def until(conn: Any, kind: str) -> Any:
        async for event in conn:
            received.append(event)
            if event.type == kind:
                return event
        raise AssertionError(f"connection ended before {kind}")

    async with client.realtime.connect(model="gpt-realtime") as conn:
        created = await until(conn, "session.created")
        assert created.session.model == "gpt-realtime"
        await conn.session.update(
            session={
                "type": "realtime",
                "instructions": "Be brief.",
                "audio": {
                    "input": {
                        "transcription": {"model": "gpt-4o-mini-transcribe"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
                    },
                    "output": {"voice": "marin"},
                },
                "tools": [
                    {
                        "type": "function",
                        "name": "get_weather",
                        "description": "Weather.",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    }
                ],
            }
        )
        updated = await until(conn, "session.updated")
        assert updated.session.audio.output.voice == "marin"
        for chunk in PcmData.concat([speech(600), PcmData.silence(700, 24000)]).chunks(100):
            await conn.input_audio_buffer.append(audio=b64(chunk))
        await until(conn, "response.done")
        # text turn with a function call, the output, then the continuation
        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]}
        )
        await conn.response.create()
        args = await until(conn, "response.function_call_arguments.done")
        await until(conn, "response.done")
        await conn.conversation.item.create(
            item={"type": "function_call_output", "call_id": args.call_id, "output": json.dumps({"sky": "sunny"})}
        )
        await conn.response.create()
        await until(conn, "response.done")
        # a long reply, cancelled, truncated, retrieved, deleted
        await conn.response.create(response={"metadata": {"topic": "long"}})
        delta = await until(conn, "response.output_audio.delta")
        await conn.response.cancel()
        done = await until(conn, "response.done")
        assert done.response.status == "cancelled" and done.response.metadata == {"topic": "long"}
        await conn.conversation.item.truncate(item_id=delta.item_id, content_index=0, audio_end_ms=10)
        await until(conn, "conversation.item.truncated")
        await conn.conversation.item.retrieve(item_id=delta.item_id)
        await until(conn, "conversation.item.retrieved")
        await conn.conversation.item.delete(item_id=delta.item_id)
        await until(conn, "conversation.item.deleted")
        await conn.response.cancel()
        error = await until(conn, "error")
        assert error.error.code == "response_cancel_not_active"
        await conn.input_audio_buffer.clear()
        await until(conn, "input_audio_buffer.cleared")

    kinds = validate_server_events(emu)
    assert {type(e).__name__ for e in received} >= {"SessionCreatedEvent", "ResponseDoneEvent", "ConversationItemAdded"}
    expected = {
        "session.created", "session.updated", "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done",
        "conversation.item.input_audio_transcription.delta", "conversation.item.input_audio_transcription.completed",
        "response.created", "response.output_item.added", "response.content_part.added", "response.output_audio.delta",
        "response.output_audio_transcript.delta", "response.output_audio.done", "response.output_audio_transcript.done",
        "response.content_part.done", "response.output_item.done", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.done", "rate_limits.updated", "conversation.item.truncated",
        "conversation.item.retrieved", "conversation.item.deleted", "error", "input_audio_buffer.cleared",
    }  # fmt: skip
    assert expected <= kinds, f"not exercised: {expected - kinds}"


async def test_text_mode_events_validate(emulator: EmulatorFactory) -> None:
    emu = await emulator(Scenario(turns=[turn("Only text.")]))
    client = AsyncOpenAI(api_key=emu.api_key, base_url=f"{emu.base_url}/v1")
    await client.close()  # the realtime client opens its own WebSocket; no HTTP pool is needed
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        )
        await conn.response.create()
        async for event in conn:
            if event.type == "response.done":
                break
    kinds = validate_server_events(emu)
    assert {"response.output_text.delta", "response.output_text.done"} <= kinds
    assert "response.output_audio.delta" not in kinds


async def test_official_sdk_mints_a_client_secret(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    async with AsyncOpenAI(api_key=emu.api_key, base_url=f"{emu.base_url}/v1") as client:
        raw = await client.realtime.client_secrets.with_raw_response.create(
            expires_after={"anchor": "created_at", "seconds": 120},
            session={"type": "realtime", "model": "gpt-realtime"},
        )
    data = json.loads(raw.text)
    parsed = ClientSecretCreateResponse.model_validate(data)
    assert parsed.value.startswith("ek_") and parsed.session.type == "realtime"
    assert not [p for p in extras(parsed) if p not in (".session.expires_at",)]


async def test_every_client_event_of_the_plugin_validates(emulator: EmulatorFactory, session: SessionFactory) -> None:
    """Drive every feature of the plugin, then check each event it sent against the SDK's models."""
    call = ToolCallSpec(name="get_weather", arguments={"city": "Paris"})
    sc = Scenario(
        turns=[
            turn("First."),
            Turn(
                on="text", reply=Reply(audio="none", tool_calls=[call]), after_tools=Reply(text="Sunny.", audio_ms=300)
            ),
            long_turn(3.0),
        ]
    )
    emu = await emulator(sc)

    def get_weather(city: str) -> dict[str, str]:
        """Weather.

        :param city: the city
        """
        return {"city": city, "sky": "sunny"}

    s = session(emu, tools=[get_weather], say_mode="instructions", session_extra={"tracing": "auto"})
    await s.connect()
    events = s.events()
    await speak(s)
    await events.wait_for(RealtimeAudioOutputDoneEvent)
    await s.simple_response("Weather in Paris?")
    await events.wait_for(RealtimeToolCallFinishedEvent)
    await events.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted)
    await s.simple_response("Tell me a long story.")
    await events.wait_for(RealtimeAudioOutputEvent, lambda e: True)
    await s.interrupt()
    await emu.wait_fact("truncate")
    await s.say("Welcome back.")
    await emu.wait_fact("say")
    frame = VideoFrameJpeg(_tiny_jpeg(), 16, 8, 0.0)
    await s._send_video_frame(frame)  # pyright: ignore[reportPrivateUsage]
    await emu.wait_fact("video_frame")
    await emu.connection().close()  # drop it: the reconnect replays the history as items
    back = await events.wait_for(RealtimeReconnectedEvent, timeout=10)
    assert back.state_restored
    await s.close()

    manual = session(emu, turn_detection=None)
    await manual.connect()
    await manual.begin_user_turn()
    await manual.simple_audio_response(speech(300))
    await manual.end_user_turn()
    await manual.events().wait_for((RealtimeAudioOutputDoneEvent, RealtimeResponseEvent))
    await manual.close()

    kinds = validate_client_events(emu)
    expected = {
        "session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
        "conversation.item.create", "conversation.item.truncate", "response.create", "response.cancel",
    }  # fmt: skip
    assert expected <= kinds, f"not exercised: {expected - kinds}"
    validate_server_events(emu)


def _tiny_jpeg() -> bytes:
    av = pytest.importorskip("av")
    import numpy as np

    frame = av.VideoFrame.from_ndarray(np.zeros((8, 16, 3), np.uint8), format="rgb24")
    from realtime_core.video import encode_jpeg

    return encode_jpeg(frame).data
