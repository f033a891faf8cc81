"""The emulator framework on its own: a tiny JSON-over-WebSocket protocol built on it, driven by a raw client
over a real socket on 127.0.0.1. Faults of each kind fire at the right point, tasks are gone after close,
barge-in is handled while a reply streams, facts and audio counts are exact, latency profiles apply.

The toy protocol's client messages: ``config`` (instructions, voice, modality), ``audio`` (base64 PCM16 at 16 kHz), ``text``
(starts a text turn), ``speech`` (starts a speech turn of ``ms``), ``barge_in``, ``cancel``, ``tool_result``
(call_id, output), ``continue``, ``bye``. Server events: ``error``, ``transcript``, ``started``, ``audio``,
``text``, ``tool_call``, ``done``, ``expiring``, ``go_away``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from realtime_core import ConfigurationError, PcmData
from realtime_core.emulator import (
    FAULT_PHASES,
    FRAMEWORK_FAULT_KINDS,
    LATENCY_PRESETS,
    BadMessage,
    EmulatorServer,
    Fault,
    LatencyProfile,
    PlannedToolCall,
    PlannedTurn,
    Reply,
    ReplyStream,
    Scenario,
    ScenarioPlayer,
    ToolCallSpec,
    Turn,
    WebEmulator,
    WebSocketConnection,
    audio_format,
    resolve_latency,
    session_config,
    tool_spec,
)

IN_RATE = 16000
KEY = "toy-key"


class ToyEmulator(WebEmulator):
    provider: ClassVar[str] = "toy"
    output_sample_rate: ClassVar[int] = 24000
    observes: ClassVar[frozenset[str]] = frozenset({"session_configured", "audio_in", "audio_out", "tool_result"})
    fault_kinds: ClassVar[frozenset[str]] = FRAMEWORK_FAULT_KINDS | {"expire", "go_away"}
    fault_phases: ClassVar[frozenset[str]] = frozenset(FAULT_PHASES)
    tools: ClassVar[bool] = True

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/toy", self._ws)

    @property
    def url(self) -> str:
        return self.ws_base_url + "/toy"

    def session_options(self) -> dict[str, Any]:
        return {"url": self.url, "api_key": KEY, "ca_file": self.ca_file}

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.Response(status=401)
        return await self.serve_websocket(request, ToyConnection)


class NoToolsEmulator(ToyEmulator):
    """The toy without tool support: a scenario calling tools is an emulator bug (send_tool_calls raises)."""

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        return await self.serve_websocket(request, NoToolsConnection)


class ToyConnection(WebSocketConnection[ToyEmulator]):
    async def emit(self, kind: str, **fields: Any) -> None:
        await self.send({"type": kind, **fields})

    def sample_event(self) -> dict[str, Any]:
        return {"type": "audio", "response_id": "r", "audio": "AAAA", "seq": 1, "final": False, "meta": {"a": [1]}}

    async def handle(self, message: Any) -> None:
        msg: dict[str, Any] = message
        match msg["type"]:
            case "config":
                self.output_modality = "text" if msg.get("modality") == "text" else "audio"
                self.note_config(instructions=msg.get("instructions"), voice=msg.get("voice"),
                                 tools=[tool_spec(t["name"], None, t.get("parameters")) for t in msg.get("tools", [])],
                                 output_modality=self.output_modality, input_audio=audio_format(IN_RATE))  # fmt: skip
            case "audio":
                self.account_audio_in(PcmData.from_bytes(base64.b64decode(msg["audio"]), IN_RATE))
            case "text":
                self.note("text_in", text=msg["text"])
                turn = self.player.next_turn("text", text=msg["text"])
                if turn is not None:
                    self.turns.start(turn)
            case "speech":
                turn = self.player.next_turn("speech", speech_ms=float(msg["ms"]))
                if turn is not None:
                    self.turns.start(turn, {"item": msg.get("item")})
            case "barge_in":
                await self.turns.barge_in()
            case "cancel":
                await self.turns.cancel("client_cancelled")
            case "tool_result":
                self.turns.tool_result(msg["call_id"], msg["output"])
            case "continue":
                self.turns.resume_after_tools()
            case "bye":
                self.note("session_finished", how="bye")
            case other:
                raise BadMessage("unknown_type", f"unknown type {other!r}")

    async def send_error(self, code: str, message: str) -> None:
        await self.emit("error", code=code, message=message)

    async def send_user_transcript(self, turn: PlannedTurn, context: Mapping[str, Any]) -> None:
        await self.emit("transcript", text=turn.user_transcript, item=context.get("item"))

    async def reply_started(self, reply: ReplyStream) -> None:
        reply.extra["started"] = time.monotonic()
        reply.extra["chunks"] = []
        await self.emit("started", response_id=reply.id, part=reply.part)

    async def send_reply_chunk(self, reply: ReplyStream, audio: PcmData | None, text: Sequence[str]) -> None:
        reply.extra["chunks"].append(time.monotonic())
        for piece in text:
            await self.emit("text", response_id=reply.id, text=piece)
        if audio is not None:
            await self.emit("audio", response_id=reply.id, audio=base64.b64encode(audio.to_bytes()).decode())

    async def send_tool_calls(self, reply: ReplyStream, calls: Sequence[PlannedToolCall]) -> None:
        for call in calls:
            await self.emit("tool_call", response_id=reply.id, call_id=call.call_id, name=call.name)

    async def tools_cancelled(self, calls: Sequence[PlannedToolCall]) -> None:
        await self.emit("tools_cancelled", call_ids=[c.call_id for c in calls])

    async def reply_finished(self, reply: ReplyStream) -> None:
        self.note("reply_times", **reply.extra)  # for the latency test (not a fact of FACTS: a toy's own)
        await self.emit("done", response_id=reply.id, status=reply.status, reason=reply.cancel_reason)

    async def turn_finished(self, last: ReplyStream) -> None:
        await self.emit("turn_done", response_id=last.id)

    async def expire(self, fault: Fault) -> None:
        await self.emit("expiring")
        await self.close(4000, "expired")

    async def go_away(self, fault: Fault) -> None:
        await self.emit("go_away")


class NoToolsConnection(ToyConnection):
    async def send_tool_calls(self, reply: ReplyStream, calls: Sequence[PlannedToolCall]) -> None:
        await super(ToyConnection, self).send_tool_calls(reply, calls)  # the base: NotImplementedError


class ToyClient:
    """A raw WebSocket client that keeps every frame and every event, and waits for them with timeouts."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self.frames: list[str | bytes] = []
        self.events: list[dict[str, Any]] = []
        self.ended = asyncio.Event()
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, url: str, *, key: str = KEY) -> ToyClient:
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(url, headers={"Authorization": f"Bearer {key}"}, max_msg_size=64 * 1024 * 1024)
        except BaseException:
            await http.close()
            raise
        return cls(http, ws)

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    self.frames.append(msg.data)
                    with contextlib.suppress(ValueError, RecursionError, TypeError):
                        event = json.loads(msg.data)
                        if isinstance(event, dict):
                            self.events.append(event)  # pyright: ignore[reportUnknownArgumentType]
                self._changed.set()
        finally:
            self.ended.set()
            self._changed.set()

    async def send(self, kind: str, **fields: Any) -> None:
        await self.ws.send_str(json.dumps({"type": kind, **fields}))

    def of(self, kind: str, predicate: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind and (predicate is None or predicate(e))]

    async def until(self, condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait(
        self, kind: str, predicate: Callable[[dict[str, Any]], bool] | None = None, *, count: int = 1, timeout: float = 10.0
    ) -> dict[str, Any]:
        await self.until(lambda: len(self.of(kind, predicate)) >= count, timeout=timeout)
        return self.of(kind, predicate)[count - 1]

    async def close(self) -> None:
        await self.ws.close()
        await self._reader
        await self.http.close()


# ====================================================================== fixtures
EmulatorFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def toy() -> Any:
    """``emu = await toy(scenario, **options)``: a started ToyEmulator, stopped after the test."""
    made: list[EmulatorServer] = []

    async def make(scenario: Scenario | None = None, *, cls: type[ToyEmulator] = ToyEmulator, **options: Any) -> Any:
        emu = cls(scenario=scenario, **options)
        await emu.start()
        made.append(emu)
        return emu

    yield make
    for emu in made:
        await emu.stop()


@pytest_asyncio.fixture
async def connect() -> Any:
    """``client = await connect(emu)``: a raw client, closed after the test."""
    made: list[ToyClient] = []

    async def make(emu: EmulatorServer) -> ToyClient:
        client = await ToyClient.connect(emu.url)
        made.append(client)
        return client

    yield make
    for client in made:
        with contextlib.suppress(Exception):
            await client.close()


def talk(text: str = "Hello there, how are you?", **reply: Any) -> Turn:
    return Turn(on="any", user_transcript="heard", reply=Reply(text=text, **reply))


def slow(seconds: float = 5.0) -> Turn:
    """A reply streamed in real time (20 ms chunks every 20 ms): long enough to interrupt."""
    return talk("A long answer that goes on and on.", audio_ms=seconds * 1000, chunk_ms=20, chunk_interval_ms=20)


def chunks_of(client: ToyClient, rid: str) -> list[PcmData]:
    return [PcmData.from_bytes(base64.b64decode(e["audio"]), 24000) for e in client.of("audio", lambda e: e["response_id"] == rid)]


def kinds(client: ToyClient) -> list[str]:
    return [e["type"] for e in client.events]


async def server_side(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition on the emulator's side that no event announces (checked every few ms)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


# ====================================================================== replies, facts and audio counts
async def test_a_reply_streams_and_its_audio_is_counted_exactly(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk(audio_ms=1010, chunk_ms=100)]))
    client = await connect(emu)
    await client.send("speech", ms=900, item="item_1")
    done = await client.wait("done")
    rid = done["response_id"]
    assert done["status"] == "completed"
    assert kinds(client)[:2] == ["transcript", "started"] and client.events[0]["item"] == "item_1"
    received = chunks_of(client, rid)
    assert len(received) == 11
    tally = emu.audio_out[rid]
    assert tally.frames == sum(c.frames for c in received) == 24240 and tally.sample_rate == 24000
    assert tally.ms == pytest.approx(1010.0, abs=1e-9)
    assert "".join(e["text"] for e in client.of("text")) == "Hello there, how are you?"
    fact = await emu.wait_fact("response_sent")
    assert fact.data == {"response_id": rid, "status": "completed", "audio_ms": tally.ms, "audio_frames": 24240,
                         "sample_rate": 24000, "text": "Hello there, how are you?"}  # fmt: skip
    assert kinds(client)[-2:] == ["done", "turn_done"]


async def test_user_audio_is_counted_exactly_per_connection(toy: Any, connect: Any) -> None:
    emu = await toy()
    first = await connect(emu)
    sizes = [320, 7, 160, 1, 333]  # frames: odd sizes on purpose
    for n in sizes:
        await first.send("audio", audio=base64.b64encode(PcmData.silence(n * 1000 / IN_RATE, IN_RATE).to_bytes()[: n * 2]).decode())
    await emu.wait_audio(sum(sizes) * 1000 / IN_RATE - 1e-6)
    second = await connect(emu)
    await second.send("audio", audio=base64.b64encode(b"\0\0" * 160).decode())
    await emu.wait_audio((sum(sizes) + 160) * 1000 / IN_RATE - 1e-6)
    assert emu.audio_in[1].frames == sum(sizes) and emu.audio_in[1].chunks == len(sizes)
    assert emu.audio_in[1].sample_rate == IN_RATE and emu.audio_in[1].ms == pytest.approx(sum(sizes) / 16, abs=1e-9)
    assert emu.audio_in[2].frames == 160
    assert emu.audio_received_ms == pytest.approx((sum(sizes) + 160) / 16, abs=1e-9)


async def test_the_configuration_received_is_a_fact(toy: Any, connect: Any) -> None:
    emu = await toy()
    client = await connect(emu)
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    await client.send("config", instructions="Be brief.", voice="calm", modality="text",
                      tools=[{"name": "weather", "parameters": schema}])  # fmt: skip
    fact = await emu.wait_fact("session_configured")
    assert fact.data == {
        "instructions": "Be brief.", "voice": "calm", "output_modality": "text",
        "tools": [{"name": "weather", "description": None, "parameters": schema}],
        "input_audio": {"sample_rate": 16000, "encoding": "pcm16"},
    }  # fmt: skip
    assert "output_audio" not in fact.data  # the toy protocol cannot carry it: absent, not None
    assert emu.live_connection().received_config == fact.data
    assert emu.can_observe("session_configured") and not emu.can_observe("truncate")
    with pytest.raises(ValueError, match="unknown session config field"):
        session_config(colour="blue")


async def test_text_replies_stream_text_only(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk("One two three four five six seven.")]))
    client = await connect(emu)
    await client.send("config", modality="text")
    await client.send("text", text="hi")
    done = await client.wait("done")
    assert not client.of("audio") and not client.of("transcript")  # a text turn has no user transcript
    assert "".join(e["text"] for e in client.of("text")) == "One two three four five six seven."
    assert done["response_id"] not in emu.audio_out


async def test_tool_round_trip_then_after_tools_reply(toy: Any, connect: Any) -> None:
    turn = Turn(reply=Reply(audio="none", tool_calls=[ToolCallSpec(name="weather", call_id="call_1")]),
                after_tools=Reply(text="Sunny.", audio_ms=200))  # fmt: skip
    faults = [Fault(kind="error", at_turn=0, phase="after_reply", code="after")]
    emu = await toy(Scenario(turns=[turn], faults=faults))
    client = await connect(emu)
    await client.send("text", text="weather?")
    call = await client.wait("tool_call")
    first = await client.wait("done")
    assert call["call_id"] == "call_1" and first["response_id"] == call["response_id"]
    assert emu.live_connection().turns.awaiting_tools
    await client.send("tool_result", call_id="wrong", output="x")
    await client.send("tool_result", call_id="call_1", output="sunny")
    await client.send("continue")
    second = await client.wait("done", count=2)
    assert second["response_id"] != first["response_id"]
    assert client.of("started")[1]["part"] == "after_tools"
    error = await client.wait("error")
    assert client.events.index(error) > client.events.index(second)  # after_reply: after the last reply
    facts = [f.data for f in emu.facts_named("tool_result")]
    assert facts == [{"call_id": "wrong", "output": "x", "pending": False}, {"call_id": "call_1", "output": "sunny", "pending": True}]


# ====================================================================== faults
async def test_turn_faults_fire_in_their_phase(toy: Any, connect: Any) -> None:
    turn = Turn(reply=Reply(text="Let me check.", audio_ms=400, chunk_ms=100, tool_calls=[ToolCallSpec(name="w")]))
    faults = [
        Fault(kind="error", at_turn=0, phase="before_reply", code="before"),
        Fault(kind="error", at_turn=0, phase="mid_reply", code="mid"),
        Fault(kind="go_away", at_turn=0, phase="awaiting_tools"),
    ]
    emu = await toy(Scenario(turns=[turn], faults=faults))
    client = await connect(emu)
    await client.send("speech", ms=800)
    await client.wait("go_away")
    seq = [e["type"] if e["type"] != "error" else f"error:{e['code']}" for e in client.events]
    assert seq == ["error:before", "transcript", "started", "text", "audio", "audio", "error:mid", "audio", "audio",
                   "tool_call", "done", "go_away"]  # fmt: skip


async def test_close_fault_mid_reply_uses_its_code(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk(audio_ms=500, chunk_ms=100)], faults=[Fault(kind="close", at_turn=0, phase="mid_reply", code=4001)]))
    client = await connect(emu)
    await client.send("text", text="hi")
    await asyncio.wait_for(client.ended.wait(), 10)
    assert client.ws.close_code == 4001
    assert len(client.of("audio")) == 3 and not client.of("done")  # the middle of 5 chunks, then gone
    fact = await emu.wait_fact("response_sent")
    assert fact.data["status"] == "aborted" and fact.data["audio_frames"] == 3 * 2400


async def test_close_fault_1006_drops_without_a_close_frame(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(faults=[Fault(kind="close", after_messages=1, code=1006)]))
    client = await connect(emu)
    await client.send("bye")
    await asyncio.wait_for(client.ended.wait(), 10)
    assert client.ws.close_code == 1006
    assert emu.received[-1].kind == "emulator.fault"  # the fault fired before the message was handled
    assert not emu.facts_named("session_finished")


async def test_expire_after_reply(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk()], faults=[Fault(kind="expire", at_turn=0, phase="after_reply")]))
    client = await connect(emu)
    await client.send("text", text="hi")
    await asyncio.wait_for(client.ended.wait(), 10)
    assert kinds(client)[-3:] == ["done", "turn_done", "expiring"] and client.ws.close_code == 4000
    assert not emu.facts_named("client_closed")  # the server closed it


async def test_message_and_timed_faults(toy: Any, connect: Any) -> None:
    faults = [Fault(kind="error", after_messages=2, code="second"), Fault(kind="error", after_ms=50, code="timed")]
    emu = await toy(Scenario(faults=faults))
    client = await connect(emu)
    timed = await client.wait("error", lambda e: e["code"] == "timed")
    assert timed is not None
    fired = [m for m in emu.received if m.kind == "emulator.fault"]
    assert fired[0].at - emu.live_connection().opened_at >= 0.05
    await client.send("config")
    await client.send("config")
    await client.wait("error", lambda e: e["code"] == "second")
    log = await emu.wait_for("fact:session_configured", count=2)
    second_fault = [m for m in emu.received if m.kind == "emulator.fault"][1]
    assert second_fault.at <= log[1].at  # the fault fired before the second message was handled
    assert [m.kind for m in emu.received].index("fact:session_configured") < list(emu.received).index(second_fault)


async def test_once_holds_across_reconnections(toy: Any, connect: Any) -> None:
    faults = [Fault(kind="error", after_messages=1, code="once"), Fault(kind="error", after_messages=1, code="each", once=False)]
    emu = await toy(Scenario(faults=faults))
    for n in (1, 2):
        client = await connect(emu)
        await client.send("config")
        await client.wait("error", lambda e: e["code"] == "each")
        await client.close()
        assert [e["code"] for e in client.of("error")] == (["once", "each"] if n == 1 else ["each"])


async def test_delay_holds_output_and_loses_nothing(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk(audio_ms=300)], faults=[Fault(kind="delay", at_turn=0, phase="before_reply", delay_ms=300)]))
    client = await connect(emu)
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    await client.send("text", text="hi")
    await client.wait("done")
    assert loop.time() - sent_at >= 0.3
    assert len(client.of("audio")) == 3 and client.of("turn_done")


async def test_stall_silences_the_server_without_closing(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk(audio_ms=300)], faults=[Fault(kind="stall", after_messages=1)]))
    client = await connect(emu)
    await client.send("text", text="hi")
    await emu.wait_fact("response_sent")  # the whole reply was played, into the void
    conn = emu.live_connection()
    assert conn.dropped_frames >= 5 and not client.events and not client.ws.closed
    assert emu.facts_named("response_sent")[0].data["audio_frames"] == 0  # nothing counted as sent
    await client.send("bye")  # still read
    await emu.wait_fact("session_finished")


@pytest.mark.parametrize("variant", ["truncated", "not_json", "not_object", "deep", "huge", "wrong_types", "binary"])
async def test_malformed_variants(toy: Any, connect: Any, variant: str) -> None:
    fault = Fault(kind="malformed", after_messages=1, variant=variant, size=200_000 if variant == "huge" else None)  # pyright: ignore[reportArgumentType]
    emu = await toy(Scenario(turns=[talk(audio_ms=100)], faults=[fault]))
    client = await connect(emu)
    await client.send("text", text="hi")
    await client.wait("done")  # the connection lives on
    frame = client.frames[0]
    if variant == "binary":
        assert isinstance(frame, bytes)
        with pytest.raises(UnicodeDecodeError):
            frame.decode()
        return
    assert isinstance(frame, str)
    if variant in ("truncated", "not_json"):
        with pytest.raises(ValueError):
            json.loads(frame)
    elif variant == "deep":
        with pytest.raises(RecursionError):
            json.loads(frame)
    elif variant == "not_object":
        assert isinstance(json.loads(frame), list)
    elif variant == "huge":
        assert len(frame) >= 200_000 and json.loads(frame)["type"] == "audio"
    else:
        event = json.loads(frame)
        assert event["type"] == "audio" and event["seq"] == "not a number" and event["audio"] == 12345
        assert event["final"] == "yes" and event["meta"] == {"a": {"not": "a list"}}


async def test_fault_kinds_and_phases_an_emulator_lacks_are_refused() -> None:
    class Plain(ToyEmulator):
        fault_kinds = FRAMEWORK_FAULT_KINDS
        fault_phases = frozenset({"before_reply"})

    with pytest.raises(ConfigurationError, match="cannot inject 'expire' faults"):
        Plain(scenario=Scenario(faults=[Fault(kind="expire", after_ms=1)]))
    with pytest.raises(ConfigurationError, match="no 'mid_reply' phase"):
        Plain(scenario=Scenario(faults=[Fault(kind="close", at_turn=0, phase="mid_reply")]))
    with pytest.raises(ConfigurationError, match="unknown facts"):

        class Wrong(ToyEmulator):
            observes = frozenset({"telepathy"})

        Wrong()


# ====================================================================== the inbox while a reply plays
async def test_barge_in_is_handled_while_a_reply_streams(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[slow(), talk("Yes?", audio_ms=100)]))
    client = await connect(emu)
    await client.send("speech", ms=800)
    await client.wait("audio", count=3)
    await client.send("barge_in")
    done = await client.wait("done")
    assert done["status"] == "cancelled" and done["reason"] == "turn_detected"
    rid = done["response_id"]
    assert len(chunks_of(client, rid)) < 250 and not client.of("turn_done")  # cut, and the turn ended
    assert (await emu.wait_fact("barge_in")).data == {"response_id": rid}
    assert emu.facts_named("response_sent")[0].data["status"] == "cancelled"
    await client.send("speech", ms=800)  # the next turn plays at once
    nxt = await client.wait("done", count=2)
    assert nxt["status"] == "completed" and nxt["response_id"] != rid


async def test_cancel_during_the_latency_window_drops_the_reply_unheard(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk(), talk()]), latency=LatencyProfile(first_event_ms=60_000))
    client = await connect(emu)
    await client.send("text", text="hi")
    await emu.wait_fact("text_in")
    conn = emu.live_connection()
    await server_side(lambda: conn.turns.current is not None)
    pending = conn.turns.current
    assert pending is not None and pending.status == "pending"
    await client.send("cancel")
    await asyncio.wait_for(pending.finished.wait(), 10)
    assert pending.status == "dropped" and not client.of("started") and not emu.facts_named("response_sent")


async def test_barge_in_gives_up_waiting_for_tool_results(toy: Any, connect: Any) -> None:
    turn = Turn(reply=Reply(audio="none", tool_calls=[ToolCallSpec(name="w", call_id="c1")]), after_tools=Reply(text="x"))
    emu = await toy(Scenario(turns=[turn]))
    client = await connect(emu)
    await client.send("text", text="hi")
    await client.wait("done")
    await server_side(lambda: emu.live_connection().turns.awaiting_tools)
    await client.send("cancel")
    cancelled = await client.wait("tools_cancelled")
    assert cancelled["call_ids"] == ["c1"] and not emu.live_connection().turns.awaiting_tools
    await client.send("continue")  # too late: harmless
    await client.send("bye")
    await emu.wait_fact("session_finished")
    assert len(client.of("started")) == 1 and not client.of("turn_done")


# ====================================================================== tasks and closing
async def test_tasks_are_gone_after_the_client_closes(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[slow(30)], faults=[Fault(kind="error", after_ms=600_000)]))
    client = await connect(emu)
    await client.send("speech", ms=800)
    await client.wait("audio", count=2)
    conn = emu.live_connection()
    assert len(conn.tasks) >= 2  # the turn loop and the timed fault at least
    await client.send("bye")
    await emu.wait_fact("session_finished")
    await client.close()
    fact = await emu.wait_fact("client_closed")
    assert fact.data == {"code": 1000}
    await conn.shutdown()  # idempotent: waits for the end the connection started itself
    assert not conn.tasks and emu.open_connections == {}
    names = [t.get_name() for t in asyncio.all_tasks()]
    assert not [n for n in names if n.startswith("emulator-toy-")], names


async def test_stopping_the_emulator_closes_connections_and_their_tasks(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[slow(30)]))
    client = await connect(emu)
    await client.send("speech", ms=800)
    await client.wait("audio")
    conn = emu.live_connection()
    await emu.stop()
    await asyncio.wait_for(client.ended.wait(), 10)
    assert client.ws.close_code == 1001 and not conn.tasks and conn.closed_by == "server"
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("emulator-toy-")]


async def test_an_emulator_bug_closes_the_connection_instead_of_hanging(toy: Any, connect: Any) -> None:
    turn = Turn(reply=Reply(audio="none", tool_calls=[ToolCallSpec(name="w")]))
    emu = await toy(Scenario(turns=[turn]), cls=NoToolsEmulator)
    client = await connect(emu)
    await client.send("text", text="hi")
    await asyncio.wait_for(client.ended.wait(), 10)
    assert client.ws.close_code == 1011
    assert emu.internal_errors and "NotImplementedError" in emu.internal_errors[0]


async def test_hostile_client_frames_are_refused_and_the_connection_lives(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk(audio_ms=100)]))
    client = await connect(emu)
    await client.ws.send_str("[" * 100_000 + "]" * 100_000)
    await client.ws.send_str("[1, 2]")
    await client.send("nonsense")
    await client.wait("error", count=3)
    assert [e["code"] for e in client.of("error")] == ["invalid_json", "invalid_json", "unknown_type"]
    await client.send("text", text="hi")
    await client.wait("done")
    assert not emu.internal_errors


# ====================================================================== latency
def test_latency_presets_render_into_replies() -> None:
    assert LATENCY_PRESETS["none"] == LatencyProfile()
    quick = ScenarioPlayer(Scenario(), 24000).render(Reply(text="hi", audio_ms=200, chunk_ms=50))
    assert (quick.first_event_delay_ms, quick.first_chunk_delay_ms, quick.chunk_interval_ms) == (0, 0, 0)
    real = LATENCY_PRESETS["realistic"]
    planned = ScenarioPlayer(Scenario(latency="realistic"), 24000).render(Reply(text="hi", audio_ms=200, chunk_ms=50))
    assert planned.first_event_delay_ms == real.first_event_ms > 0
    assert planned.first_chunk_delay_ms == real.first_audio_ms > 0
    assert planned.chunk_interval_ms == 50 / (real.speed or 0)  # real time: one chunk's duration per chunk
    scripted = ScenarioPlayer(Scenario(latency="realistic"), 24000).render(Reply(text="hi", chunk_interval_ms=7, first_chunk_delay_ms=5))
    assert scripted.chunk_interval_ms == 7 and scripted.first_chunk_delay_ms == 5 + real.first_audio_ms
    with pytest.raises(ConfigurationError, match="unknown latency preset"):
        resolve_latency("glacial")


def test_the_constructor_latency_wins_over_the_scenario() -> None:
    assert ToyEmulator(scenario=Scenario(latency="realistic")).latency == LATENCY_PRESETS["realistic"]
    assert ToyEmulator(scenario=Scenario(latency="realistic"), latency="none").latency == LatencyProfile()
    custom = LatencyProfile(first_event_ms=10, speed=2)
    emu = ToyEmulator(latency=custom)
    assert emu.latency == custom and emu.player.latency == custom


async def test_realistic_latency_applies_on_the_wire(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk(audio_ms=600, chunk_ms=100)]), latency="realistic")
    real = LATENCY_PRESETS["realistic"]
    client = await connect(emu)
    await client.send("text", text="hi")
    await client.wait("turn_done")
    assert len(client.of("audio")) == 6
    asked = emu.facts_named("text_in")[0].at
    times = emu.facts_named("reply_times")[0].data
    # the server's own clock, lower bounds only: a loaded machine can only make things later
    assert times["started"] - asked >= real.first_event_ms / 1000 - 0.005
    assert times["chunks"][0] - times["started"] >= real.first_audio_ms / 1000 - 0.005
    assert times["chunks"][-1] - times["started"] >= (real.first_audio_ms + 500 / (real.speed or 1)) / 1000 - 0.005


# ====================================================================== connection info and advertising
async def test_connection_info_and_a_proxy_in_front(toy: Any, connect: Any) -> None:
    emu = await toy(Scenario(turns=[talk(audio_ms=100)]))
    info = emu.connection_info()
    assert info.urls == {"endpoint": emu.url} and info.credentials == {"api_key": KEY}  # unmasked
    assert info.latency == LatencyProfile() and any("credential api_key: toy-key" in line for line in info.lines())

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    relayed = asyncio.Event()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relayed.set()
        up_reader, up_writer = await asyncio.open_connection(emu.host, emu.port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        port = proxy.sockets[0].getsockname()[1]
        emu.advertise("127.0.0.1", port)
        assert emu.url == f"ws://127.0.0.1:{port}/toy" and emu.session_options()["url"] == emu.url
        assert emu.connection_info().urls["endpoint"] == emu.url and emu.address == ("127.0.0.1", port)
        client = await connect(emu)
        await client.send("text", text="hi")
        await client.wait("done")
        assert relayed.is_set()
        await client.close()
        emu.advertise(None)
        assert emu.address == (emu.host, emu.port)
    finally:
        proxy.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proxy.wait_closed(), 5)
