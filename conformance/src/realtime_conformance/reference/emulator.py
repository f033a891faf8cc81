"""The reference provider's loopback emulator: speaks the reference protocol, plays Scenarios."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from typing import Any, ClassVar

from aiohttp import WSMsgType, web

from realtime_core import PcmData
from realtime_core.emulator import EnergyVad, Fault, PlannedReply, PlannedTurn, WebEmulator

from . import protocol

__all__ = ["ReferenceEmulator"]

TEST_KEY = "reference-test-key"


class _Connection:
    """One client connection: its socket, VAD, current response and pending tool calls."""

    def __init__(self, emulator: ReferenceEmulator, ws: web.WebSocketResponse, number: int) -> None:
        self.emulator = emulator
        self.ws = ws
        self.number = number
        self.messages = 0
        self.config: dict[str, Any] = {}
        vad = emulator.scenario.vad
        self.vad = EnergyVad(
            protocol.INPUT_RATE,
            threshold=vad.threshold,
            silence_ms=vad.silence_ms,
            prefix_ms=vad.prefix_ms,
            min_speech_ms=vad.min_speech_ms,
        )
        self.response: asyncio.Task[None] | None = None
        self.response_id: str | None = None
        self.sent_ms: dict[str, float] = {}
        self.after_tools: PlannedReply | None = None
        self.tool_outputs: list[str] = []
        self.restored = False
        self.tasks: set[asyncio.Task[Any]] = set()

    async def send(self, kind: str, **fields: Any) -> None:
        if not self.ws.closed:
            await self.ws.send_str(protocol.message(kind, **fields))

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


class ReferenceEmulator(WebEmulator):
    """Loopback server of the reference provider.

    :param api_key: the key clients must present (anything else gets HTTP 401).
    :param scenario: see :class:`realtime_core.emulator.Scenario`.
    :param tls: serve ``wss://`` with a run-time CA (``ca_file``).
    """

    provider: ClassVar[str] = "reference"
    output_sample_rate: ClassVar[int] = protocol.OUTPUT_RATE
    interrupt_facts: ClassVar[tuple[str, ...]] = ("cancel", "truncate")

    def __init__(self, *, api_key: str = TEST_KEY, late_chunks_after_cancel: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.late_chunks_after_cancel = late_chunks_after_cancel
        """Audio deltas already "in flight" that still go out after a client cancel, as with real services."""
        self._ids = itertools.count(1)
        self._live: set[_Connection] = set()

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get(protocol.PATH, self._websocket)

    @property
    def url(self) -> str:
        return self.ws_base_url + protocol.PATH

    def session_options(self) -> dict[str, Any]:
        return {"url": self.url, "api_key": self.api_key, "ca_file": self.ca_file}

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    async def _shutdown(self) -> None:
        for conn in list(self._live):
            for task in list(conn.tasks):
                task.cancel()
        await super()._shutdown()

    # ------------------------------------------------------------------ connection
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"code": "invalid_api_key", "message": "bad key"}}, status=401)
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        self.track(ws)
        conn = _Connection(self, ws, self.new_connection())
        self._live.add(conn)
        for index, fault in self.player.timed_faults():
            conn.spawn(self._timed_fault(conn, index, fault))
        try:
            async for raw in ws:
                if raw.type != WSMsgType.TEXT:
                    await conn.send("error", code="invalid_frame", message="only JSON text frames are accepted")
                    continue
                try:
                    msg = json.loads(raw.data)
                except ValueError:
                    await conn.send("error", code="invalid_json", message="the frame is not JSON")
                    continue
                conn.messages += 1
                self.record(str(msg.get("type")), msg, conn.number)
                for fault in self.player.faults_for_message(conn.messages):
                    if await self._fault(conn, fault):
                        return ws
                await self._dispatch(conn, msg)
        finally:
            for task in list(conn.tasks):
                task.cancel()
            self._live.discard(conn)
            self.untrack(ws)
        return ws

    async def _dispatch(self, conn: _Connection, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "session.update":
            conn.config = dict(msg.get("session") or {})
            await conn.send("session.ready", session={"id": self._id("sess"), **conn.config})
        elif kind == "audio.append":
            try:
                pcm = PcmData.from_bytes(base64.b64decode(msg["audio"], validate=True), protocol.INPUT_RATE)
            except (KeyError, ValueError):
                await conn.send("error", code="invalid_audio", message="audio must be base64 PCM16 at 16 kHz")
                return
            self.audio_received_ms += pcm.duration_ms
            await self._vad(conn, conn.vad.process(pcm))
        elif kind == "audio.commit":
            self.note("response_requested", conn.number)
            event = conn.vad.force_stop()
            if event is not None:
                await self._vad(conn, [event], manual=True)
        elif kind == "text.send":
            text = str(msg.get("text", ""))
            self.note("text_in", conn.number, text=text)
            turn = self.player.next_turn("text", text=text)
            if turn is not None:
                self._play(conn, turn)
        elif kind == "say":
            text = str(msg.get("text", ""))
            self.note("say", conn.number, text=text)
            from realtime_core.emulator import Reply

            self._start(conn, self.player.render(Reply(text=text)))
        elif kind == "response.cancel":
            self.note("cancel", conn.number, response_id=msg.get("response_id"))
            rid = conn.response_id
            if rid is not None and conn.response is not None and not conn.response.done():
                late = PcmData.tone(40, protocol.OUTPUT_RATE)
                for _ in range(self.late_chunks_after_cancel):
                    await conn.send("audio.delta", response_id=rid, audio=base64.b64encode(late.samples.data).decode())
                    conn.sent_ms[rid] = conn.sent_ms.get(rid, 0.0) + late.duration_ms
            await self._cancel(conn, "client_cancelled")
        elif kind == "response.truncate":
            rid = str(msg.get("response_id"))
            end = float(msg.get("audio_end_ms", -1))
            sent = conn.sent_ms.get(rid)
            if sent is None or end < 0 or end > sent + 0.5:
                await conn.send("error", code="invalid_truncate", message=f"audio_end_ms {end} is past the {sent} ms sent")
                return
            self.note("truncate", conn.number, response_id=rid, audio_end_ms=end, sent_ms=sent)
        elif kind == "tool.output":
            self.note("tool_result", conn.number, call_id=msg.get("call_id"), output=msg.get("output"))
        elif kind == "response.create":
            self.note("response_requested", conn.number)
            reply, conn.after_tools = conn.after_tools, None
            if reply is not None:
                self._start(conn, reply)
        elif kind == "image.append":
            data = base64.b64decode(str(msg.get("image", "")))
            self.note(
                "video_frame",
                conn.number,
                width=msg.get("width"),
                height=msg.get("height"),
                size=len(data),
                mime_type=msg.get("mime_type"),
                jpeg=data[:2] == b"\xff\xd8",
            )
        elif kind == "history.replay":
            if msg.get("items"):
                conn.restored = True
                self.note("state_restored", conn.number, items=len(msg["items"]))
        elif kind == "session.close":
            self.note("session_finished", conn.number, how="session.close")
            await conn.ws.close()
        else:
            await conn.send("error", code="unknown_type", message=f"unknown message type {kind!r}")

    async def _vad(self, conn: _Connection, events: list[Any], *, manual: bool = False) -> None:
        for event in events:
            item = self._id("item")
            if event.kind == "start":
                await conn.send("speech.started", item_id=item, audio_start_ms=event.at_ms)
                if conn.response is not None and not conn.response.done():
                    self.note("barge_in", conn.number, response_id=conn.response_id)
                    await self._cancel(conn, "turn_detected")
            else:
                if not manual:
                    await conn.send("speech.stopped", item_id=item, audio_end_ms=event.at_ms)
                turn = self.player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
                if turn is not None:
                    await conn.send("transcript.user", item_id=item, text=turn.user_transcript)
                    self._play(conn, turn)

    # ------------------------------------------------------------------ responses
    def _play(self, conn: _Connection, turn: PlannedTurn) -> None:
        conn.after_tools = turn.after_tools
        self._start(conn, turn.reply, turn.index)

    def _start(self, conn: _Connection, reply: PlannedReply, turn_index: int | None = None) -> None:
        if conn.response is not None and not conn.response.done():
            conn.response.cancel()
        conn.response = conn.spawn(self._stream(conn, reply, turn_index))

    async def _cancel(self, conn: _Connection, reason: str) -> None:
        task, rid = conn.response, conn.response_id
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await conn.send("response.done", response_id=rid, status="cancelled", reason=reason)

    async def _stream(self, conn: _Connection, reply: PlannedReply, turn_index: int | None) -> None:
        if turn_index is not None and await self._turn_faults(conn, turn_index, "before_reply"):
            return
        rid = self._id("resp")
        conn.response_id = rid
        conn.sent_ms[rid] = 0.0
        text_mode = conn.config.get("modality") == "text"
        await conn.send("response.started", response_id=rid)
        if reply.first_chunk_delay_ms:
            await asyncio.sleep(reply.first_chunk_delay_ms / 1000)
        if text_mode:
            for piece in reply.text_chunks():
                await conn.send("text.delta", response_id=rid, text=piece)
            if reply.text:
                await conn.send("text.done", response_id=rid, text=reply.text)
        else:
            pieces = reply.text_chunks()
            chunks = list(reply.audio_chunks())
            for i, chunk in enumerate(chunks):
                if i < len(pieces):
                    await conn.send("transcript.delta", response_id=rid, text=pieces[i])
                await conn.send("audio.delta", response_id=rid, audio=base64.b64encode(chunk.samples.data).decode())
                conn.sent_ms[rid] += chunk.duration_ms
                if i == 0 and turn_index is not None and await self._turn_faults(conn, turn_index, "mid_reply"):
                    return
                await asyncio.sleep(reply.chunk_interval_ms / 1000 if reply.chunk_interval_ms else 0)
            for piece in pieces[len(chunks) :]:
                await conn.send("transcript.delta", response_id=rid, text=piece)
            if reply.text:
                await conn.send("transcript.done", response_id=rid, text=reply.text)
        for call in reply.tool_calls:
            await conn.send("tool.call", response_id=rid, call_id=call.call_id, name=call.name, arguments=call.arguments)
        out_tokens = max(1, len(reply.text) // 4) + (0 if reply.audio is None else int(reply.audio.duration * 10))
        await conn.send(
            "response.done",
            response_id=rid,
            status="completed",
            usage={"input_tokens": 12, "output_tokens": out_tokens, "total_tokens": 12 + out_tokens},
        )
        conn.response_id = None
        if turn_index is not None:
            await self._turn_faults(conn, turn_index, "after_reply")

    # ------------------------------------------------------------------ faults
    async def _turn_faults(self, conn: _Connection, turn_index: int, phase: str) -> bool:
        stop = False
        for fault in self.player.faults_for_turn(turn_index, phase):
            stop = await self._fault(conn, fault) or stop
        return stop

    async def _timed_fault(self, conn: _Connection, index: int, fault: Fault) -> None:
        await asyncio.sleep((fault.after_ms or 0) / 1000)
        if self.player.take_timed(index):
            await self._fault(conn, fault)

    async def _fault(self, conn: _Connection, fault: Fault) -> bool:
        """Apply ``fault``; True if the connection is gone."""
        if fault.kind == "close":
            code = int(fault.code) if fault.code is not None else 1011
            await conn.ws.close(code=code, message=(fault.message or "emulated failure").encode())
            return True
        if fault.kind == "error":
            await conn.send("error", code=str(fault.code or "server_error"), message=fault.message or "emulated error")
        elif fault.kind == "malformed":
            if not conn.ws.closed:
                await conn.ws.send_str('{"type": "audio.delta", "audio": ')  # truncated JSON
        elif fault.kind == "delay":
            await asyncio.sleep(fault.delay_ms / 1000)
        elif fault.kind in ("expire", "go_away"):
            await conn.send("session.expiring", seconds=0.5)
            conn.spawn(self._expire(conn))
        return False

    async def _expire(self, conn: _Connection) -> None:
        await asyncio.sleep(0.5)
        await conn.ws.close(code=4000, message=b"session expired")
