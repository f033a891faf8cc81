"""The emulator speaks the GA protocol: driven here by a raw WebSocket client, message by message."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from realtime_core import PcmData
from realtime_core.emulator import Reply, Scenario, ToolCallSpec, Turn
from realtime_openai.emulator import OpenAIEmulator

from .helpers import EmulatorFactory, long_turn, scenario, speech, turn


class Raw:
    """A bare protocol client: send dicts, receive dicts, skip to the type you want."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, **event: Any) -> None:
        await self.ws.send(json.dumps(event))

    async def recv_until(self, kind: str, timeout: float = 30.0) -> list[str]:
        """The types of every event up to and including the first ``kind``."""
        types: list[str] = []
        while not types or types[-1] != kind:
            types.append((await self.recv(timeout=timeout))["type"])
        return types

    async def recv(self, kind: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = json.loads(await self.ws.recv())
                self.seen.append(event)
                if kind is None or event["type"] == kind:
                    return event

    async def error(self, code: str) -> dict[str, Any]:
        event = await self.recv("error")
        assert event["error"]["code"] == code, event
        return event["error"]

    async def append(self, pcm: Any) -> None:
        for chunk in pcm.chunks(100):
            await self.send(type="input_audio_buffer.append", audio=base64.b64encode(chunk.to_bytes()).decode())


@asynccontextmanager
async def raw(emu: Any, key: str | None = None, extra_headers: dict[str, str] | None = None) -> AsyncIterator[Raw]:
    headers = {"Authorization": f"Bearer {key or emu.api_key}", **(extra_headers or {})}
    async with websockets.connect(f"{emu.url}?model=gpt-realtime-2.1", additional_headers=headers) as ws:
        yield Raw(ws)


async def test_session_created_carries_the_full_default_session(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    async with raw(emu) as c:
        created = await c.recv()
    assert created["type"] == "session.created" and created["event_id"].startswith("event_")
    s = created["session"]
    assert s["object"] == "realtime.session" and s["id"].startswith("sess_") and s["type"] == "realtime"
    assert s["output_modalities"] == ["audio"] and s["max_output_tokens"] == "inf" and s["tools"] == []
    td = s["audio"]["input"]["turn_detection"]
    assert td == {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
        "idle_timeout_ms": None, "create_response": True, "interrupt_response": True,
    }  # fmt: skip
    assert s["audio"]["input"]["transcription"] is None and s["audio"]["output"]["voice"] == "alloy"
    assert s["expires_at"] > 0 and s["tracing"] is None and s["include"] is None


async def test_session_update_merges_and_answers_without_the_event_id(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    async with raw(emu) as c:
        await c.recv("session.created")
        await c.send(type="session.update", event_id="evt_1", session={"type": "realtime", "instructions": "Be brief."})
        updated = await c.recv("session.updated")
        assert "evt_1" not in json.dumps(updated)
        assert updated["session"]["instructions"] == "Be brief."
        assert updated["session"]["audio"]["output"]["voice"] == "alloy"  # untouched fields keep their value
        td = {"type": "server_vad", "silence_duration_ms": 700}
        await c.send(type="session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": td}}})
        updated = await c.recv("session.updated")
        got = updated["session"]["audio"]["input"]["turn_detection"]
        assert got["silence_duration_ms"] == 700 and got["threshold"] == 0.5  # replaced, defaults filled in


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"type": "realtime", "modalities": ["audio"]}, "unknown_parameter", "session.modalities"),
        ({"type": "realtime", "turn_detection": None}, "unknown_parameter", "session.turn_detection"),
        (
            {"type": "realtime", "input_audio_transcription": {}},
            "unknown_parameter",
            "session.input_audio_transcription",
        ),
        (
            {"type": "realtime", "max_response_output_tokens": 5},
            "unknown_parameter",
            "session.max_response_output_tokens",
        ),
        ({"instructions": "x"}, "missing_required_parameter", "session.type"),
        ({"type": "conversation"}, "invalid_value", "session.type"),
        (
            {"type": "realtime", "audio": {"output": {"speed": 3}}},
            "integer_above_max_value",
            "session.audio.output.speed",
        ),
        (
            {"type": "realtime", "tools": [{"type": "function", "function": {"name": "f"}}]},
            "unknown_parameter",
            "session.tools[0].function",
        ),
        ({"type": "realtime", "audio": {"output": {"voice": "nobody"}}}, "invalid_value", "session.audio.output.voice"),
    ],
)
async def test_bad_session_updates_are_rejected_whole_with_real_error_shapes(
    emulator: EmulatorFactory, session: dict[str, Any], code: str, param: str
) -> None:
    emu = await emulator()
    async with raw(emu) as c:
        await c.recv("session.created")
        await c.send(type="session.update", event_id="evt_bad", session={**session, "instructions": "changed"})
        error = await c.error(code)
        assert error["param"] == param and error["event_id"] == "evt_bad" and error["type"] == "invalid_request_error"
        if code == "unknown_parameter":
            assert error["message"] == f"Unknown parameter: '{param}'."
        await c.send(type="session.update", session={"type": "realtime"})
        again = await c.recv("session.updated")
        assert again["session"]["instructions"] != "changed"  # nothing of the rejected update was applied


async def test_voice_cannot_change_once_audio_was_produced(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(turn()))
    async with raw(emu) as c:
        await c.recv("session.created")
        await c.send(
            type="conversation.item.create",
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        )
        await c.send(type="response.create")
        await c.recv("response.done")
        await c.send(type="session.update", session={"type": "realtime", "audio": {"output": {"voice": "alloy"}}})
        await c.recv("session.updated")  # the same voice is fine
        await c.send(type="session.update", session={"type": "realtime", "audio": {"output": {"voice": "cedar"}}})
        error = await c.error("cannot_update_voice")
        assert error["message"] == "Cannot update a conversation's voice if assistant audio is present."


async def test_spoken_turn_follows_the_real_event_order(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(turn("Hello there.")))
    async with raw(emu) as c:
        await c.recv("session.created")
        transcription = {"transcription": {"model": "gpt-4o-mini-transcribe"}}
        await c.send(type="session.update", session={"type": "realtime", "audio": {"input": transcription}})
        await c.recv("session.updated")
        await c.append(speech(700))
        await c.append(PcmData.silence(600, 24000))
        await c.recv("rate_limits.updated")
    order = [e["type"] for e in c.seen]
    expected = [
        "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
        "conversation.item.added", "conversation.item.done", "response.created",
        "conversation.item.input_audio_transcription.delta", "conversation.item.input_audio_transcription.completed",
        "response.output_item.added", "conversation.item.added", "response.content_part.added",
    ]  # fmt: skip
    firsts = [order.index(kind) for kind in dict.fromkeys(expected)]
    assert firsts == sorted(firsts), order
    tail = [k for k in order if not k.endswith(".delta")][-7:]
    assert tail == [
        "response.output_audio.done", "response.output_audio_transcript.done", "response.content_part.done",
        "response.output_item.done", "conversation.item.done", "response.done", "rate_limits.updated",
    ]  # fmt: skip
    started = next(e for e in c.seen if e["type"] == "input_audio_buffer.speech_started")
    committed = next(e for e in c.seen if e["type"] == "input_audio_buffer.committed")
    assert started["item_id"] == committed["item_id"]
    done = next(e for e in c.seen if e["type"] == "response.done")["response"]
    assert done["status"] == "completed" and done["usage"]["output_token_details"]["audio_tokens"] > 0
    deltas = [e for e in c.seen if e["type"] == "response.output_audio_transcript.delta"]
    assert "".join(d["delta"] for d in deltas) == "Hello there." and all("obfuscation" in d for d in deltas)


async def test_input_buffer_errors_and_manual_commit(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    async with raw(emu) as c:
        await c.recv("session.created")
        await c.send(type="session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
        await c.recv("session.updated")
        await c.send(type="input_audio_buffer.append", audio="not base64!")
        assert "base64" in (await c.error("invalid_value"))["message"]
        await c.append(speech(50))
        await c.send(type="input_audio_buffer.commit", event_id="evt_c")
        error = await c.error("input_audio_buffer_commit_empty")
        assert error["event_id"] == "evt_c" and "50.00ms" in error["message"]
        await c.append(speech(200))
        await c.send(type="input_audio_buffer.commit")
        committed = await c.recv("input_audio_buffer.committed")
        added = await c.recv("conversation.item.added")
        assert added["item"]["id"] == committed["item_id"] and added["item"]["content"] == [
            {"type": "input_audio", "transcript": None}
        ]
        await c.send(type="input_audio_buffer.clear")
        await c.recv("input_audio_buffer.cleared")
    assert not [e for e in c.seen if e["type"].startswith("input_audio_buffer.speech")]  # no VAD without turn detection


async def test_response_rules_cancel_truncate_and_item_errors(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(long_turn(3.0)))
    async with raw(emu) as c:
        await c.recv("session.created")
        await c.send(type="response.cancel", event_id="evt_x")
        error = await c.error("response_cancel_not_active")
        assert error["message"] == "Cancellation failed: no active response found"
        await c.send(type="response.create")
        created = await c.recv("response.created")
        await c.send(type="response.create")
        await c.error("conversation_already_has_active_response")
        delta = await c.recv("response.output_audio.delta")
        await c.send(type="response.cancel")
        done = await c.recv("response.done")
        assert done["response"]["id"] == created["response"]["id"]
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert done["response"]["output"][0]["status"] == "incomplete"
        item_id = delta["item_id"]
        sent_ms = (
            sum(len(base64.b64decode(e["delta"])) for e in c.seen if e["type"] == "response.output_audio.delta") / 48
        )
        await c.send(
            type="conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=int(sent_ms) + 500
        )
        assert "already shorter than" in (await c.error("invalid_value"))["message"]
        await c.send(
            type="conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=int(sent_ms) // 2
        )
        truncated = await c.recv("conversation.item.truncated")
        assert truncated["audio_end_ms"] == int(sent_ms) // 2
        await c.send(type="conversation.item.retrieve", item_id=item_id)
        item = (await c.recv("conversation.item.retrieved"))["item"]
        assert len(base64.b64decode(item["content"][0]["audio"])) == (int(sent_ms) // 2) * 48
        assert item["content"][0]["transcript"] == ""
        await c.send(type="conversation.item.truncate", item_id="item_nope", content_index=0, audio_end_ms=0)
        await c.error("item_truncate_invalid_item_id")
        await c.send(type="conversation.item.delete", item_id="item_nope")
        error = await c.error("item_delete_invalid_item_id")
        assert error["message"] == "Error deleting item: the item with id 'item_nope' does not exist."
        await c.send(type="conversation.item.retrieve", item_id="item_nope")
        await c.error("item_retrieve_invalid_item_id")
        await c.send(type="conversation.item.delete", item_id=item_id)
        assert (await c.recv("conversation.item.deleted"))["item_id"] == item_id
        await c.send(type="no.such.event", event_id="evt_u")
        error = await c.error("invalid_value")
        assert error["param"] == "type" and error["event_id"] == "evt_u"
        await c.send(type="session.update", session={"type": "realtime"})
        await c.recv("session.updated")  # every error above left the connection open


async def test_function_call_items_stream_and_wait_for_response_create(emulator: EmulatorFactory) -> None:
    call = ToolCallSpec(name="get_weather", arguments={"city": "Paris"}, call_id="call_0123456789abcdef")
    sc = Scenario(turns=[Turn(reply=Reply(audio="none", tool_calls=[call]), after_tools=Reply(text="Sunny."))])
    emu = await emulator(sc)
    async with raw(emu) as c:
        await c.recv("session.created")
        await c.send(
            type="conversation.item.create",
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
        )
        await c.send(type="response.create")
        added = await c.recv("response.output_item.added")
        assert added["item"]["type"] == "function_call" and added["item"]["arguments"] == ""
        args = await c.recv("response.function_call_arguments.done")
        assert json.loads(args["arguments"]) == {"city": "Paris"} and args["call_id"] == call.call_id
        await c.recv("response.done")
        output = {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "sunny"}'}
        await c.send(type="conversation.item.create", item=output)
        await c.recv("conversation.item.done")
        await c.send(type="input_audio_buffer.clear")  # a round trip: what the output caused is out before it
        seen = await c.recv_until("input_audio_buffer.cleared")
        assert "response.created" not in seen  # an output alone does not start a response
        await c.send(type="response.create")
        final = await c.recv("response.output_audio_transcript.done")
        assert final["transcript"] == "Sunny."
    assert [f.data["call_id"] for f in emu.facts_named("tool_result")] == [call.call_id]


async def test_barge_in_cancels_with_turn_detected(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(long_turn(4.0), turn()))
    async with raw(emu) as c:
        await c.recv("session.created")
        await c.send(type="response.create")
        await c.recv("response.output_audio.delta")
        await c.append(speech(400))
        await c.recv("input_audio_buffer.speech_started")
        done = await c.recv("response.done")
        assert done["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert emu.facts_named("barge_in")


async def refused(emu: OpenAIEmulator, url: str, headers: dict[str, str]) -> tuple[dict[str, Any], int]:
    """The live server's refusal: the upgrade succeeds, then one error event and a close with a code."""
    async with websockets.connect(url, additional_headers=headers) as ws:
        error = json.loads(await ws.recv())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    return error, closed.value.rcvd.code


async def test_refusals_close_like_the_live_server(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    good = {"Authorization": f"Bearer {emu.api_key}"}
    error, code = await refused(emu, f"{emu.url}?model=gpt-realtime-2.1", {"Authorization": "Bearer sk-wrong-key-123456"})
    assert code == 3000 and error["error"]["code"] == "invalid_api_key" and "sk-wrong-key-123456" not in json.dumps(error)
    error, code = await refused(emu, f"{emu.url}?model=gpt-realtime-2.1", {**good, "OpenAI-Beta": "realtime=v1"})
    assert code == 4000 and error["error"]["code"] == "beta_api_shape_disabled"
    error, code = await refused(emu, f"{emu.url}?model=gpt-nope", good)
    assert code == 4000 and error["error"]["code"] == "invalid_model"
    error, code = await refused(emu, emu.url, good)
    assert code == 4000 and error["error"]["code"] == "missing_model"


async def test_refusals_as_http_errors_switch(emulator: EmulatorFactory) -> None:
    emu = await emulator(auth_failure="http", bad_request="http")
    with pytest.raises(InvalidStatus) as info:
        async with raw(emu, key="sk-wrong-key-123456"):
            pass
    assert info.value.response.status_code == 401
    body = json.loads(bytes(info.value.response.body or b""))
    assert body["error"]["code"] == "invalid_api_key" and "sk-wrong-key-123456" not in json.dumps(body)
    with pytest.raises(InvalidStatus) as info:
        async with raw(emu, extra_headers={"OpenAI-Beta": "realtime=v1"}):
            pass
    assert info.value.response.status_code == 400
    with pytest.raises(InvalidStatus):
        async with websockets.connect(emu.url, additional_headers={"Authorization": f"Bearer {emu.api_key}"}):
            pass


async def test_browser_subprotocols_carry_the_key(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    protocols = ["realtime", f"openai-insecure-api-key.{emu.api_key}"]
    async with websockets.connect(f"{emu.url}?model=gpt-realtime-2.1", subprotocols=protocols) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"
        assert json.loads(await ws.recv())["type"] == "session.created"


async def test_auth_failure_as_an_event_switch(emulator: EmulatorFactory) -> None:
    emu = await emulator(auth_failure="event")
    error, code = await refused(emu, f"{emu.url}?model=gpt-realtime-2.1", {"Authorization": "Bearer sk-wrong-key-123456"})
    assert code == 1008 and error["type"] == "error" and error["error"]["code"] == "invalid_api_key"


async def test_client_secrets_endpoint_mints_keys_bound_to_a_session(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    url = f"{emu.base_url}/v1/realtime/client_secrets"
    body = {
        "expires_after": {"anchor": "created_at", "seconds": 60},
        "session": {"type": "realtime", "instructions": "Bound."},
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, headers={"Authorization": f"Bearer {emu.api_key}"}) as resp:
            assert resp.status == 200
            secret = await resp.json()
        async with http.post(
            url,
            json={"session": {"type": "realtime", "modalities": ["text"]}},
            headers={"Authorization": f"Bearer {emu.api_key}"},
        ) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["param"] == "session.modalities"
        async with http.post(url, json={}, headers={"Authorization": f"Bearer {secret['value']}"}) as resp:
            assert resp.status == 401  # an ephemeral key cannot mint more keys
    assert secret["value"].startswith("ek_") and len(secret["value"]) == 35
    assert secret["session"]["instructions"] == "Bound." and secret["session"]["expires_at"] == 0
    async with raw(emu, key=secret["value"]) as c:
        created = await c.recv("session.created")
    assert created["session"]["instructions"] == "Bound."
