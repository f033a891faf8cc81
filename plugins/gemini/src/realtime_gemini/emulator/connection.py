"""One client connection to the emulated Gemini Live server, on core's emulator framework.

The framework owns the tasks, the inbox, the fault schedule and the turn template; this class is the
protocol: the first message (credentials and ``setup``), the client messages after it, and the turn hooks
that write model turns the way the server does (``modelTurn`` parts, transcripts, ``toolCall``,
``generationComplete``, ``turnComplete`` with usage, resumption handles). Every error is a close frame.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from realtime_core import PcmData
from realtime_core.emulator import (
    Fault,
    PlannedToolCall,
    PlannedTurn,
    ReplyStream,
    TurnAborted,
    WebSocketConnection,
)

from . import messages as msg
from .inputs import ClientInput
from .media import usage_metadata
from .schema import INVALID_ARGUMENT, Context, WireError, camel, fast_audio, normalize
from .setup import (
    SESSION_NOT_FOUND,
    Route,
    SessionSetup,
    check_credentials,
    read_setup,
    truncate_reason,
)
from .store import Conversation, Turn

if TYPE_CHECKING:
    from aiohttp import web

    from .server import GeminiEmulator

__all__ = ["GeminiConnection"]

DEFAULT_REASONS = {
    1011: "Internal error occurred.",
    1013: "The service is currently unavailable.",
    1008: "Request trace id: emulator, [ORIGINAL ERROR] RPC::DEADLINE_EXCEEDED: ",
    1007: INVALID_ARGUMENT,
}


class GeminiConnection(WebSocketConnection["GeminiEmulator"]):
    """See the module docstring. :ivar setup: what the client's ``setup`` asked for (None before it)."""

    def __init__(
        self, emulator: GeminiEmulator, request: web.Request, ws: web.WebSocketResponse, number: int, route: Route
    ) -> None:
        super().__init__(emulator, request, ws, number)
        self.route = route
        self.ctx = Context(vertex=route.api == "vertex", alpha=route.version == "v1alpha")
        self.traffic = emulator.traffic
        self.setup: SessionSetup | None = None
        self.conversation = Conversation()
        self.input = ClientInput(self)
        """Audio, video, text and activity from the client."""
        self._cancelled_calls: set[str] = set()
        self._generation_complete = False
        self._reuse_rid: str | None = None  # a staged reply keeps its id across its tool call

    # ================================================================== transport
    async def on_open(self) -> None:
        lifetime = self.emulator.session_lifetime_s
        if lifetime is not None:
            self.spawn(self._lifetime(lifetime), "lifetime")

    async def on_closed(self) -> None:
        live = self.emulator.live_conversations.get(self.conversation.id)
        if live is not None:
            live.discard(self.number)

    async def receive(self) -> Any | None:
        frame = await super().receive()
        if frame is None and self.close_code == 1000 and not self.closed:
            self.note("session_finished", how="close 1000")  # Gemini's closing message is the close frame
        return frame

    def decode(self, frame: Any) -> Any:
        try:
            message = json.loads(frame)
        except (ValueError, RecursionError):
            raise WireError(1007, "Invalid JSON payload received. Unexpected token.") from None
        if not isinstance(message, dict):
            raise WireError(1007, "Invalid JSON payload received. Expected an object.")
        return message

    def encode(self, event: Any) -> str | bytes:
        text = json.dumps(event, separators=(",", ":"))
        return text if self.emulator.frames == "text" else text.encode()  # the real server sends binary frames

    def kind_of(self, message: Any) -> str:
        if fast_audio(message) is not None:
            return "realtimeInput.audio"
        if len(message) != 1:
            return "invalid"
        ((key, body),) = message.items()
        name = camel(str(key))
        if name == "realtimeInput" and isinstance(body, Mapping) and body:
            return "realtimeInput." + ",".join(camel(str(k)) for k in body)
        return name

    async def send_error(self, code: str, message: str) -> None:
        await self.close(int(code) if code.isdigit() else 1007, message)

    async def close_transport(self, code: int | None, reason: str) -> None:
        if reason == "emulated failure" and code in DEFAULT_REASONS:  # a close fault: the server's own wording
            reason = DEFAULT_REASONS[code]
        reason = truncate_reason(reason)
        self.emulator.closes.append((self.number, 1006 if code is None else code, reason or "dropped"))
        await super().close_transport(code, reason)

    # ================================================================== the first message
    async def _on_setup(self, message: dict[str, Any]) -> None:
        emu = self.emulator
        check_credentials(emu, self.request, self.route, self.number)
        setup = read_setup(emu, self.route, message)
        restored = False
        if setup.handle:
            source = emu.handles.source(setup.handle)
            if source is not None and emu.concurrent_resume == "reject" and emu.live_conversations.get(source.id):
                raise WireError(1008, SESSION_NOT_FOUND)
            conversation = emu.handles.restore(setup.handle)
            if conversation is None:
                raise WireError(1008, SESSION_NOT_FOUND)
            self.conversation = conversation
            restored = True
        self.setup = setup
        self.output_modality = "audio" if setup.modality == "AUDIO" else "text"
        self.conversation.system_instruction = setup.instruction or ""
        self.conversation.connections.append(self.number)
        emu.conversations.append(self.conversation)
        emu.live_conversations.setdefault(self.conversation.id, set()).add(self.number)
        emu.connection_conversation[self.number] = self.conversation
        emu.setups[self.number] = setup.raw
        self.note_config(**setup.config_fact())
        await self.send({"setupComplete": {"sessionId": self.conversation.id} if self.route.api == "vertex" else {}})
        if restored:
            self.note(
                "state_restored", turns=len(self.conversation.history), resumed_from=self.conversation.resumed_from
            )
        if setup.resumption and emu.resumption_update_on_setup:
            await self._send_handle()

    @property
    def session_setup(self) -> SessionSetup:
        """The setup (the first message has been handled)."""
        assert self.setup is not None
        return self.setup

    @property
    def voice_activity(self) -> bool:
        """Whether this connection sends ``voiceActivity`` messages."""
        setup = self.setup
        on = self.traffic.voice_activity
        return (setup is not None and setup.profile.voice_activity) if on is None else on

    @property
    def _staged(self) -> bool:
        return self.setup is not None and self.setup.profile.interaction_status

    # ================================================================== client messages
    async def handle(self, message: Any) -> None:
        if self.setup is None:
            await self._on_setup(message)
            return
        fast = fast_audio(message)
        if fast is not None:
            await self.input.audio(*fast)
            return
        name, body = normalize(message, self.ctx)
        match name:
            case "setup":
                raise WireError(1007, INVALID_ARGUMENT)  # setup is allowed once
            case "realtimeInput":
                await self.input.realtime_input(body)
            case "clientContent":
                await self._on_client_content(body)
            case "toolResponse":
                self._on_tool_response(body)
            case "contextUpdate":
                self._on_context_update(body)

    async def _on_client_content(self, body: dict[str, Any]) -> None:
        rule = self.session_setup.profile.client_content
        if rule == "seed_only" and (not self.session_setup.seed_allowed or self.conversation.model_turns > 0):
            raise WireError(1007, INVALID_ARGUMENT)
        last_user = ""
        for content in body.get("turns", []):
            role = content.get("role")
            if rule == "with_role" and role not in ("user", "model"):
                raise WireError(1007, INVALID_ARGUMENT)  # 3.x: every turn needs its role
            text = "".join(str(p.get("text", "")) for p in content.get("parts", []) if isinstance(p, Mapping))
            self.conversation.history.append(Turn("model" if role == "model" else "user", text, data="client_content"))
            self.input.prompt_chars += len(text)
            if role != "model":
                last_user = text
        complete = bool(body.get("turnComplete"))
        if complete or rule != "with_role":  # (3.8: only a complete turn interrupts; before, any content)
            await self.input.user_activity("client_content")
        if complete:
            self.note("text_in", text=last_user)
            self.note("response_requested", how="clientContent")
            turn = self.player.next_turn("text", text=last_user)
            if turn is not None:
                self.turns.start(turn)

    def _on_tool_response(self, body: dict[str, Any]) -> None:
        pending = self.turns.pending_tool_calls
        for response in body.get("functionResponses", []):
            call_id = response.get("id")
            if call_id is None:
                if self.route.api != "vertex":
                    raise WireError(1007, INVALID_ARGUMENT)  # ids are required on the Developer API
                call_id = next((c.call_id for c in pending.values() if c.name == response.get("name")), None)
            if call_id not in pending:
                if call_id in self._cancelled_calls:
                    continue  # crossed our toolCallCancellation on the wire: a legitimate race, ignored
                if self.emulator.unknown_tool_response == "close":
                    raise WireError(1007, INVALID_ARGUMENT)
                continue
            name = pending[call_id].name
            output = response.get("response")
            self.turns.tool_result(call_id, output)
            self.conversation.history.append(
                Turn("tool", json.dumps(output, default=str), "tool_result", {"id": call_id, "name": name})
            )
        if self.turns.awaiting_tools and not self.turns.pending_tool_calls:
            self.note("response_requested", how="toolResponse")
            self.turns.resume_after_tools()

    def _on_context_update(self, body: dict[str, Any]) -> None:
        setup = self.session_setup
        instruction = body.get("systemInstruction")
        if isinstance(instruction, Mapping):
            texts = [str(p.get("text", "")) for p in instruction.get("parts", []) if isinstance(p, Mapping)]
            setup.instruction = "\n".join(t for t in texts if t) or None
            setup.raw["systemInstruction"] = instruction
            self.conversation.system_instruction = setup.instruction or ""
        tools = body.get("tools")
        if isinstance(tools, Mapping):
            setup.raw["tools"] = tools.get("tools", [])
        self.note_config(**setup.config_fact())

    # ================================================================== the turn template's hooks
    def new_response_id(self) -> str:
        rid, self._reuse_rid = self._reuse_rid, None
        return rid or super().new_response_id()

    def plan_steps(self, reply: ReplyStream) -> list[tuple[PcmData | None, list[str]]]:
        return [] if self.session_setup.profile.transcription_only else super().plan_steps(reply)

    async def send_user_transcript(self, turn: PlannedTurn, context: Mapping[str, Any]) -> None:
        setup = self.session_setup
        if turn.trigger != "speech":
            return
        self.conversation.history.append(Turn("user", turn.user_transcript, data="speech"))
        if not (setup.input_tx and turn.user_transcript):
            return
        pieces = msg.transcript_pieces(turn.user_transcript, 10)
        interim = self.traffic.interim_transcription
        if setup.profile.interim_transcription if interim is None else interim:
            for i in range(1, len(pieces) + 1):  # cumulative: each replaces the one before
                await self.send({"serverContent": {"interimInputTranscription": {"text": "".join(pieces[:i])}}})
        for piece in pieces:
            await self.send({"serverContent": {"inputTranscription": {"text": piece}}})

    async def reply_started(self, reply: ReplyStream) -> None:
        self._generation_complete = False
        setup = self.session_setup
        if not setup.profile.transcription_only and msg.usage_plan(setup.profile, self.traffic) in ("start", "split"):
            await self.send({"serverContent": {}, "usageMetadata": self._usage("prompt", 0.0, 0)})

    async def send_reply_chunk(self, reply: ReplyStream, audio: PcmData | None, text: Sequence[str]) -> None:
        setup = self.session_setup
        said = list(text)
        if audio is not None:
            for event in msg.audio_content(
                audio, said, profile=setup.profile, traffic=self.traffic, output_tx=setup.output_tx
            ):
                await self.send(event)
        elif self.output_modality == "text":
            for event in msg.text_content(said, traffic=self.traffic):
                await self.send(event)
        elif setup.output_tx:
            for piece in said:
                await self.send({"serverContent": {"outputTranscription": {"text": piece}}})

    async def send_tool_calls(self, reply: ReplyStream, calls: Sequence[PlannedToolCall]) -> None:
        setup = self.session_setup
        if self._staged:  # the model spoke a filler; the reply goes on in the background
            await self.send({"serverContent": {"turnComplete": True, "interactionStatus": "IN_PROGRESS"}})
            self._reuse_rid = reply.id
        entries: list[dict[str, Any]] = []
        for call in calls:
            empty = call.name in setup.json_schema_tools and setup.profile.json_schema_tool_args == "empty"
            entry: dict[str, Any] = {"name": call.name, "args": {} if empty else call.arguments}
            if not (self.route.api == "vertex" and self.emulator.vertex_omit_call_ids):
                entry["id"] = call.call_id
            entries.append(entry)
            self.conversation.history.append(Turn("model", call.name, "tool_call", {"id": call.call_id}))
        await self.send({"toolCall": {"functionCalls": entries}})
        if setup.resumption and self.emulator.resumption_update_during_tool:
            await self.send(msg.handle_update(None))

    async def reply_finished(self, reply: ReplyStream) -> None:
        if reply.text or reply.cancelled:
            self.conversation.history.append(Turn("model", reply.text))
            self.conversation.model_turns += 1
        if reply.cancelled:
            await self._interrupted()
        elif not reply.reply.tool_calls and not self.session_setup.profile.transcription_only:
            await self._generation_done()

    async def tools_cancelled(self, calls: Sequence[PlannedToolCall]) -> None:
        ids = [c.call_id for c in calls]
        self._cancelled_calls.update(ids)
        self._reuse_rid = None
        await self.send({"toolCallCancellation": {"ids": ids}})
        await self._interrupted()

    async def turn_finished(self, last: ReplyStream) -> None:
        setup = self.session_setup
        if not self._generation_complete and not setup.profile.transcription_only:
            await self._generation_done()
        if self.emulator.turn_complete_delay == "playback" and last.playout_end is not None:
            await asyncio.sleep(max(0.0, last.playout_end - time.monotonic()))
        content: dict[str, Any] = {"turnComplete": True}
        if self._staged:
            content["interactionStatus"] = "IDLE"
        message: dict[str, Any] = {"serverContent": content}
        plan = msg.usage_plan(setup.profile, self.traffic)
        if plan != "none" and not setup.profile.transcription_only:
            chars = len(last.text)
            message["usageMetadata"] = (
                {} if plan == "start" else self._usage("full" if plan == "end" else "response", last.audio.ms, chars)
            )
        await self.send(message)
        if setup.resumption:
            await self._send_handle()

    async def _generation_done(self) -> None:
        self._generation_complete = True
        await self.send({"serverContent": {"generationComplete": True}})

    async def _interrupted(self) -> None:
        await self.send({"serverContent": {"interrupted": True}})
        await self.send({"serverContent": {"turnComplete": True}})
        if self.session_setup.resumption:
            await self._send_handle()

    def _usage(self, part: Any, audio_ms: float, chars: int) -> dict[str, Any]:
        profile = self.session_setup.profile
        thoughts = 16 if profile.thinks and self.traffic.thoughts_tokens and part != "prompt" else 0
        return usage_metadata(
            prompt_audio_ms=self.input.prompt_audio_ms,
            prompt_chars=self.input.prompt_chars,
            prompt_images=self.input.images,
            response_audio_ms=audio_ms,
            response_chars=chars,
            thoughts=thoughts,
            vertex=self.route.api == "vertex",
            part=part,
        )

    async def _send_handle(self) -> None:
        await self.send(msg.handle_update(self.emulator.handles.issue(self.conversation)))

    # ================================================================== faults and limits
    def sample_event(self) -> dict[str, Any]:
        part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAAAAA=="}}
        return {"serverContent": {"modelTurn": {"parts": [part]}}}

    async def inject_error(self, fault: Fault) -> None:
        """A close code closes the connection (Gemini's fatal errors); any other code ends the model's turn
        early with that ``turnCompleteReason`` and the session lives on. Before ``setupComplete`` there is no
        turn to end: the real server reports a failure there by closing instead of answering the setup
        (1011 ``Internal error occurred.``)."""
        code = str(fault.code or "")
        if code.isdigit():
            await self.close(int(code), fault.message or DEFAULT_REASONS.get(int(code), "Internal error occurred."))
            return
        if self.setup is None:
            await self.close(1011, fault.message or DEFAULT_REASONS[1011])
            return
        reason = code.upper() if code.upper() in msg.TURN_FAILURES else "RESPONSE_REJECTED"
        await self.send({"serverContent": {"turnComplete": True, "turnCompleteReason": reason}})
        raise TurnAborted

    async def expire(self, fault: Fault) -> None:
        await self.close(1008, fault.message or msg.GO_AWAY_ABORT)

    async def go_away(self, fault: Fault) -> None:
        left = fault.delay_ms / 1000 if fault.delay_ms else self.emulator.fault_go_away_time_left_s
        await self.announce_go_away(left)

    async def announce_go_away(self, time_left: float) -> None:
        """``goAway``; the connection is closed with 1008 (or dropped) if the client is still here when time
        is up."""
        await self.send(msg.go_away(time_left))
        self.close_after(time_left, 1008 if self.emulator.go_away_close == "1008" else None, msg.GO_AWAY_ABORT)

    async def _lifetime(self, lifetime: float) -> None:
        await asyncio.sleep(lifetime)
        await self.announce_go_away(self.emulator.go_away_time_left_s)
