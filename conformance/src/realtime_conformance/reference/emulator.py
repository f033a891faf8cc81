"""The reference provider's loopback emulator: speaks the reference protocol, plays Scenarios.

Built on :mod:`realtime_core.emulator`: the connection framework owns the tasks, the fault schedule and the
turn template; this module is only the protocol (messages in, events out).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from aiohttp import web

from realtime_core import PcmData
from realtime_core.emulator import (
    AUDIO_ACCOUNTING,
    FACTS,
    FAULT_PHASES,
    FRAMEWORK_FAULT_KINDS,
    BadMessage,
    EnergyVad,
    Fault,
    PlannedToolCall,
    PlannedTurn,
    Reply,
    ReplyStream,
    VadEvent,
    WebEmulator,
    WebSocketConnection,
    audio_format,
    tool_spec,
)

from . import protocol

__all__ = ["ReferenceEmulator"]

TEST_KEY = "reference-test-key"


class ReferenceEmulator(WebEmulator):
    """Loopback server of the reference provider.

    :param api_key: the key clients must present (anything else gets HTTP 401).
    :param late_chunks_after_cancel: audio deltas already "in flight" that still go out after a client
        cancel, as with real services.
    :param kwargs: ``scenario``, ``tls``, ``latency``... (see :class:`realtime_core.emulator.EmulatorServer`).
    """

    provider: ClassVar[str] = "reference"
    output_sample_rate: ClassVar[int] = protocol.OUTPUT_RATE
    interrupt_facts: ClassVar[tuple[str, ...]] = ("cancel", "truncate")
    observes: ClassVar[frozenset[str]] = frozenset(FACTS) | frozenset(AUDIO_ACCOUNTING)
    fault_kinds: ClassVar[frozenset[str]] = FRAMEWORK_FAULT_KINDS | {"expire", "go_away"}
    fault_phases: ClassVar[frozenset[str]] = frozenset(FAULT_PHASES)

    def __init__(self, *, api_key: str = TEST_KEY, late_chunks_after_cancel: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.late_chunks_after_cancel = late_chunks_after_cancel

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get(protocol.PATH, self._websocket)

    @property
    def url(self) -> str:
        return self.ws_base_url + protocol.PATH

    def session_options(self) -> dict[str, Any]:
        return {"url": self.url, "api_key": self.api_key, "ca_file": self.ca_file}

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.api_key}

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"code": "invalid_api_key", "message": "bad key"}}, status=401)
        return await self.serve_websocket(request, ReferenceConnection)


class ReferenceConnection(WebSocketConnection[ReferenceEmulator]):
    """One client connection: the protocol's messages in, its events out."""

    def __init__(self, emulator: ReferenceEmulator, request: web.Request, ws: web.WebSocketResponse, number: int) -> None:
        super().__init__(emulator, request, ws, number)
        self.vad = EnergyVad.from_settings(protocol.INPUT_RATE, emulator.scenario.vad)

    async def emit(self, kind: str, **fields: Any) -> None:
        await self.send({"type": kind, **fields})

    def decode(self, frame: Any) -> Any:
        if not isinstance(frame, str):
            raise BadMessage("invalid_frame", "only JSON text frames are accepted")
        return super().decode(frame)

    def sample_event(self) -> dict[str, Any]:
        return {"type": "audio.delta", "response_id": "resp_0", "audio": "AAAA"}

    # ------------------------------------------------------------------ client messages
    async def handle(self, message: Any) -> None:
        msg: dict[str, Any] = message
        match msg.get("type"):
            case "session.update":
                config = dict(msg.get("session") or {})
                self.output_modality = "text" if config.get("modality") == "text" else "audio"
                self.note_config(
                    instructions=config.get("instructions") or None,
                    tools=[tool_spec(t.get("name"), t.get("description"), t.get("parameters")) for t in config.get("tools") or []],
                    voice=config.get("voice"),
                    output_modality=self.output_modality,
                    input_audio=audio_format(protocol.INPUT_RATE),
                    output_audio=audio_format(protocol.OUTPUT_RATE),
                    turn_detection=config.get("turn_detection"),
                )
                await self.emit("session.ready", session={"id": self.emulator.next_id("sess"), **config})
            case "audio.append":
                try:
                    pcm = PcmData.from_bytes(base64.b64decode(msg["audio"], validate=True), protocol.INPUT_RATE)
                except (KeyError, TypeError, ValueError, binascii.Error):
                    raise BadMessage("invalid_audio", "audio must be base64 PCM16 at 16 kHz") from None
                self.account_audio_in(pcm)
                for event in self.vad.process(pcm):
                    await self._on_vad(event)
            case "audio.commit":
                self.note("response_requested")
                event = self.vad.force_stop()
                if event is not None:
                    await self._on_vad(event, manual=True)
            case "text.send":
                text = str(msg.get("text", ""))
                self.note("text_in", text=text)
                turn = self.player.next_turn("text", text=text)
                if turn is not None:
                    self.turns.start(turn)
            case "say":
                self.note("say", text=str(msg.get("text", "")))
                self.turns.start_reply(self.player.render(Reply(text=str(msg.get("text", "")))))
            case "response.cancel":
                self.note("cancel", response_id=msg.get("response_id"))
                reply = self.turns.current
                if reply is not None and reply.status == "streaming" and self.output_modality == "audio":
                    for _ in range(self.emulator.late_chunks_after_cancel):  # already in flight
                        await self.turns.stream_chunk(reply, PcmData.tone(40, protocol.OUTPUT_RATE), [])
                await self.turns.cancel("client_cancelled")
            case "response.truncate":
                rid, end = str(msg.get("response_id")), float(msg.get("audio_end_ms", -1))
                sent = self.emulator.audio_out.get(rid)
                if sent is None or end < 0 or end > sent.ms + 0.5:
                    raise BadMessage("invalid_truncate", f"audio_end_ms {end} is past the audio sent")
                self.note("truncate", response_id=rid, audio_end_ms=end, sent_ms=sent.ms)
            case "tool.output":
                self.turns.tool_result(str(msg.get("call_id")), msg.get("output"))
            case "response.create":
                self.note("response_requested")
                self.turns.resume_after_tools()
            case "image.append":
                data = base64.b64decode(str(msg.get("image", "")))
                self.note("video_frame", width=msg.get("width"), height=msg.get("height"), size=len(data),
                          mime_type=msg.get("mime_type"), jpeg=data[:2] == b"\xff\xd8")  # fmt: skip
            case "history.replay":
                if msg.get("items"):
                    self.note("state_restored", items=len(msg["items"]))
            case "session.close":  # the client closes its socket next (the kit checks that it does)
                self.note("session_finished", how="session.close")
            case other:
                raise BadMessage("unknown_type", f"unknown message type {other!r}")

    async def _on_vad(self, event: VadEvent, *, manual: bool = False) -> None:
        item = self.emulator.next_id("item")
        if event.kind == "start":
            await self.emit("speech.started", item_id=item, audio_start_ms=event.at_ms)
            await self.turns.barge_in()
            return
        if not manual:
            await self.emit("speech.stopped", item_id=item, audio_end_ms=event.at_ms)
        turn = self.player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
        if turn is not None:
            self.turns.abandon_tools()  # new input supersedes a turn still waiting for tool results
            self.turns.start(turn, {"item_id": item})

    # ------------------------------------------------------------------ the turn template's hooks
    async def send_error(self, code: str, message: str) -> None:
        await self.emit("error", code=code, message=message)

    async def send_user_transcript(self, turn: PlannedTurn, context: Mapping[str, Any]) -> None:
        await self.emit("transcript.user", item_id=context.get("item_id"), text=turn.user_transcript)

    async def reply_started(self, reply: ReplyStream) -> None:
        await self.emit("response.started", response_id=reply.id)

    async def send_reply_chunk(self, reply: ReplyStream, audio: PcmData | None, text: Sequence[str]) -> None:
        for piece in text:
            await self.emit("text.delta" if self.output_modality == "text" else "transcript.delta",
                            response_id=reply.id, text=piece)  # fmt: skip
        if audio is not None:
            await self.emit("audio.delta", response_id=reply.id, audio=base64.b64encode(audio.samples.data).decode())

    async def send_tool_calls(self, reply: ReplyStream, calls: Sequence[PlannedToolCall]) -> None:
        for call in calls:
            await self.emit("tool.call", response_id=reply.id, call_id=call.call_id, name=call.name, arguments=call.arguments)

    async def reply_finished(self, reply: ReplyStream) -> None:
        if reply.cancelled:
            await self.emit("response.done", response_id=reply.id, status="cancelled", reason=reply.cancel_reason)
            return
        if reply.reply.text:
            done = "text.done" if self.output_modality == "text" else "transcript.done"
            await self.emit(done, response_id=reply.id, text=reply.reply.text)
        out_tokens = max(1, len(reply.reply.text) // 4) + int(reply.audio.ms / 100)
        usage = {"input_tokens": 12, "output_tokens": out_tokens, "total_tokens": 12 + out_tokens}
        await self.emit("response.done", response_id=reply.id, status="completed", usage=usage)

    # ------------------------------------------------------------------ faults the protocol has
    async def expire(self, fault: Fault) -> None:
        await self.emit("session.expiring", seconds=0.5)
        self.close_after(0.5, 4000, "session expired")

    go_away = expire  # the protocol announces both limits the same way
