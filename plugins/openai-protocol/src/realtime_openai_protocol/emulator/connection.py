"""One emulated connection of the OpenAI-style protocol, on :mod:`realtime_core.emulator`.

The framework owns the tasks, the inbox, the fault schedule and the turn template; this class is the
protocol: ``session.update``, the input audio buffer and its VAD, conversation items, ``response.create`` /
``response.cancel``, and the turn hooks (the reply's events are written by
:class:`~realtime_openai_protocol.emulator.replies.ReplyWriter`). A dialect's emulator subclasses it for
what differs (routes it adds or refuses, a transport: WebRTC swaps the WebSocket for a data channel).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from realtime_core import PcmData
from realtime_core.emulator import (
    BadMessage,
    Fault,
    PlannedReply,
    PlannedToolCall,
    PlannedTurn,
    Reply,
    ReplyStream,
    WebSocketConnection,
    audio_format,
    reply_steps,
    tool_spec,
)

from ..client_events import new_id, verbatim_text
from .buffer import InputBufferEvents
from .conversation import Conversation
from .input import InputAudio
from .items import ConversationEvents
from .replies import ReplyWriter, audio_delta
from .server import OpenAIStyleEmulator
from .session import SessionView
from .wire import RequestError, invalid_type, invalid_value, missing, unknown_parameter

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["OpenAIStyleConnection"]

_MAX_APPEND_B64 = 15 * 1024 * 1024
_RESPONSE_KEYS = {
    "output_modalities", "instructions", "tools", "tool_choice", "max_output_tokens", "prompt",
    "audio", "conversation", "metadata", "input", "reasoning", "parallel_tool_calls",
}  # fmt: skip


class OpenAIStyleConnection[E: OpenAIStyleEmulator](WebSocketConnection[E]):
    """One connection (see the module docstring).

    :param config: the session it starts with (the dialect's session object).
    """

    max_append_b64: int | None = _MAX_APPEND_B64
    """The largest base64 ``audio`` one ``input_audio_buffer.append`` may carry (None: no limit)."""
    bad_audio_message = "Invalid 'audio'. Expected base64-encoded audio bytes (mono PCM16 at 24kHz)"

    def __init__(self, emulator: E, request: web.Request, ws: Any, number: int, config: dict[str, Any]) -> None:
        super().__init__(emulator, request, ws, number)
        self.dialect = emulator.dialect
        self.config = config
        self.session_id = new_id("sess")
        self.conversation_id = new_id("conv")
        self.expires_at = int(time.time() + emulator.max_session_seconds)
        self.conversation = Conversation()
        self.audio_produced = False
        self.input = InputAudio(emulator.input_sample_rate, emulator.scenario.vad)
        self.writer = ReplyWriter(self)
        self.items = ConversationEvents(self)
        self.buffer = InputBufferEvents(self)
        self._view = emulator.rules.view(config)
        self.replies_started = 0
        """Replies whose ``response.created`` went out on this connection."""
        self.routes: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self.on_session_update,
            "input_audio_buffer.append": self.buffer.on_append,
            "input_audio_buffer.commit": self.buffer.on_commit,
            "input_audio_buffer.clear": self.buffer.on_clear,
            "conversation.item.create": self.items.on_create,
            "conversation.item.retrieve": self.items.on_retrieve,
            "conversation.item.delete": self.items.on_delete,
            "conversation.item.truncate": self.items.on_truncate,
            "response.create": self.on_response_create,
            "response.cancel": self.on_response_cancel,
        }
        """Client event type → handler; a dialect adds or removes entries."""
        self._configure()

    # ================================================================== session
    @property
    def view(self) -> SessionView:
        """What the connection acts on of the current session."""
        return self._view

    def _configure(self) -> None:
        view = self._view = self.emulator.rules.view(self.config)
        self.output_modality = view.output_modality
        self.input.configure(view.turn_detection)

    def note_session(self) -> None:
        """The ``session_configured`` fact: everything the session object carries, normalised."""
        view = self._view
        td = view.turn_detection
        input_audio, output_audio = self.audio_formats()
        self.note_config(
            model=view.model, instructions=view.instructions, voice=view.voice, output_modality=view.output_modality,
            tools=[tool_spec(str(t.get("name")), t.get("description"), t.get("parameters")) for t in view.tools],
            input_audio=input_audio, output_audio=output_audio,
            turn_detection="manual" if td is None else "server", input_transcription=view.transcription,
            max_output_tokens=None if view.max_output_tokens == "inf" else view.max_output_tokens,
        )  # fmt: skip

    def audio_formats(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The user and agent audio as they travel (``session_configured``'s ``input_audio`` and
        ``output_audio``): the session's formats; a transport with a codec of its own overrides this."""
        view = self._view
        return audio_format(view.input_rate, view.encoding), audio_format(view.output_rate, view.encoding)

    def session_echo(self) -> dict[str, Any]:
        return self.emulator.rules.echo(self.config, self.session_id, self.expires_at)

    async def on_open(self) -> None:
        self.note_session()
        self.close_after_expiry()
        await self.send({"type": "session.created", "session": self.session_echo()})

    def close_after_expiry(self) -> None:
        self.spawn(self._expire_later(), "expiry")

    async def _expire_later(self) -> None:
        await asyncio.sleep(self.emulator.max_session_seconds)
        await self.expire(Fault(kind="expire"))

    async def on_session_update(self, msg: dict[str, Any]) -> None:
        if "session" not in msg:
            raise missing("session")
        self.config = self.emulator.rules.apply_update(self.config, msg["session"], audio_produced=self.audio_produced)
        self._configure()
        self.note_session()
        await self.send({"type": "session.updated", "session": self.session_echo()})

    # ================================================================== frames and errors
    def decode(self, frame: Any) -> Any:
        if not isinstance(frame, str):
            raise BadMessage("invalid_event", "Binary frames are not supported; send JSON text frames.")
        message = super().decode(frame)
        if not isinstance(message.get("type"), str):
            raise BadMessage("missing_required_parameter", "Missing required parameter: 'type'.")
        return message

    async def send(self, event: Any) -> None:
        """Send one server event with a fresh ``event_id`` (first, as the real server does)."""
        await super().send({"event_id": new_id("event"), **event})

    async def handle(self, message: Any) -> None:
        msg: dict[str, Any] = message
        kind = msg["type"]
        event_id = msg.get("event_id")
        try:
            route = self.routes.get(kind)
            if route is None:
                raise invalid_value("type", kind, sorted(self.routes))
            await route(msg)
        except RequestError as exc:
            await self.send_request_error(exc, event_id if isinstance(event_id, str) else None)

    async def send_request_error(self, error: RequestError, event_id: str | None = None) -> None:
        await self.send({"type": "error", "error": error.payload(event_id)})

    async def send_error(self, code: str, message: str) -> None:
        kind = "server_error" if code == "server_error" else "invalid_request_error"
        await self.send_request_error(RequestError(code, message, None, kind=kind))

    async def inject_error(self, fault: Fault) -> None:
        code = str(fault.code) if fault.code is not None else "server_error"
        await self.send_error(code, fault.message or "The server had an error while processing your request. Sorry about that!")

    def new_response_id(self) -> str:
        return new_id("resp")  # shaped like the real ids (resp_ + 21 base62 characters)

    def sample_event(self) -> dict[str, Any]:
        return {"type": self.dialect.audio_delta, "event_id": "event_0", "response_id": "resp_0", "item_id": "item_0",
                "output_index": 0, "content_index": 0, "delta": "AAAA"}  # fmt: skip

    async def expire(self, fault: Fault) -> None:
        minutes = self.emulator.max_session_seconds / 60
        await self.send_request_error(
            RequestError("session_expired", f"Your session hit the maximum duration of {minutes:g} minutes.", None)
        )
        await self.close(self.emulator.expire_close_code, "session expired")

    # ================================================================== input audio
    async def feed_audio(self, pcm: PcmData) -> None:
        """User audio as it arrived in ``input_audio_buffer.append``, mono at the input rate: counted, heard."""
        self.account_audio_in(pcm)
        await self.hear(pcm)

    async def hear(self, pcm: PcmData) -> None:
        """User audio, mono at the input rate and already counted as it arrived (a WebRTC track counts it
        at the track's rate, before resampling): into the input buffer and through the VAD."""
        for event in self.input.feed(pcm):
            await self.buffer.on_input_event(event)

    async def barge_in(self) -> None:
        """The user started speaking while the model may be talking: cut the reply being streamed."""
        await self.turns.barge_in()

    # ================================================================== responses
    async def on_response_create(self, msg: dict[str, Any]) -> None:
        params = msg.get("response") or {}
        if not isinstance(params, dict):
            raise invalid_type("response", "an object", params)
        response: dict[str, Any] = params  # pyright: ignore[reportUnknownVariableType]
        self.check_response(response)
        conversation = response.get("conversation", "auto")
        current = self.turns.current
        if conversation != "none" and current is not None:
            raise RequestError("conversation_already_has_active_response",
                               f"Conversation already has an active response in progress: {current.id}. "
                               "Wait until the response is finished before creating a new one.", None)  # fmt: skip
        self.note("response_requested")
        self.respond(response)

    def check_response(self, response: Mapping[str, Any]) -> None:
        """Validate ``response.create``'s ``response`` (a dialect with other keys overrides it)."""
        for key in response:
            if key not in _RESPONSE_KEYS:
                raise unknown_parameter(f"response.{key}")
        if response.get("conversation", "auto") not in ("auto", "none"):
            raise invalid_value("response.conversation", response.get("conversation"), ("auto", "none"))
        if "output_modalities" in response and response["output_modalities"] not in (["audio"], ["text"]):
            raise invalid_value("response.output_modalities", response["output_modalities"], (["audio"], ["text"]))
        metadata = response.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16):  # pyright: ignore[reportUnknownArgumentType]
            raise invalid_type("response.metadata", "an object of at most 16 string pairs", metadata)

    def respond(self, params: Mapping[str, Any]) -> None:
        """Start the reply ``response.create`` asks for: a say, the after-tools reply of the turn waiting for
        tool results, else the next turn for the pending speech or text."""
        context = self.reply_context(params)
        said = verbatim_text(params.get("instructions"))
        if said is not None:  # say(): the text comes as per-response instructions
            self.note("say", text=said)
            self.items.tool_outputs = 0
            self.turns.start_reply(self.player.render(Reply(text=said)), context)
            return
        if self.turns.awaiting_tools:
            self.items.tool_outputs = 0
            self.turns.resume_after_tools()  # the template streams the turn's after-tools reply
            return
        if self.items.tool_outputs and self.buffer.pending_turn is None and self.items.pending_text is None:
            self.items.tool_outputs = 0  # results for calls no turn waits for (a replay, a late answer)
            self.turns.start_reply(self.player.render(Reply(text="Done.")), context)
            return
        turn, self.buffer.pending_turn = self.buffer.pending_turn, None
        if turn is None:
            turn = self.player.next_turn("text", text=self.items.pending_text or "")
        self.items.pending_text = None
        self.items.tool_outputs = 0
        if turn is None:  # the scenario has nothing more to say: an empty reply
            self.turns.start_reply(PlannedReply("", None, 100, 0, 0), context)
        else:
            self.start_turn(turn, context)

    def reply_context(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """What of ``response.create`` shapes the reply (its modality, voice, conversation...)."""
        context: dict[str, Any] = {"in_conversation": params.get("conversation", "auto") != "none"}
        if params.get("output_modalities"):
            context["modality"] = params["output_modalities"][0]
        voice = ((params.get("audio") or {}).get("output") or {}).get("voice")
        if voice is not None:
            context["voice"] = voice
        for key in ("max_output_tokens", "metadata"):
            if key in params:
                context[key] = params[key]
        return context

    def start_turn(self, turn: PlannedTurn, context: Mapping[str, Any]) -> None:
        """Play a scenario turn. A turn whose reply calls tools always continues once results come ("Done."
        when the scenario says nothing more), so the client's ``response.create`` gets a response."""
        if turn.reply.tool_calls and turn.after_tools is None:
            turn = dataclasses.replace(turn, after_tools=self.player.render(Reply(text="Done.")))
        self.turns.start(turn, context)

    async def on_response_cancel(self, msg: dict[str, Any]) -> None:
        current = self.turns.current
        wanted = msg.get("response_id")
        if current is None or current.cancelled or (wanted and wanted != current.id):
            raise RequestError("response_cancel_not_active", "Cancellation failed: no active response found", None)
        self.note("cancel", response_id=current.id)
        await self.turns.cancel("client_cancelled")

    # ================================================================== the turn template's hooks
    async def send_user_transcript(self, turn: PlannedTurn, context: Mapping[str, Any]) -> None:
        if self.emulator.transcription_timing == "before_response":
            await self.buffer.send_transcription()

    async def after_response_created(self, reply: ReplyStream) -> None:
        """Called once ``response.created`` is out: the user's transcript interleaves from here (as observed)."""
        self.replies_started += 1
        await self.buffer.send_transcription()

    def plan_steps(self, reply: ReplyStream) -> list[tuple[PcmData | None, list[str]]]:
        return reply_steps(reply.reply, audio=self.writer.modality(reply) == "audio")

    async def reply_started(self, reply: ReplyStream) -> None:
        await self.writer.started(reply)

    async def send_reply_chunk(self, reply: ReplyStream, audio: PcmData | None, text: Sequence[str]) -> None:
        await self.writer.chunk(reply, audio, text)

    async def send_audio_delta(self, reply: ReplyStream, ids: dict[str, Any], audio: PcmData) -> None:
        """One chunk of reply audio (WebSocket: a delta event; WebRTC plays it on the track instead)."""
        await self.send(audio_delta(self.dialect.audio_delta, ids, audio))

    def started_audio(self, reply: ReplyStream) -> None:
        """A reply began its audio part (WebRTC announces its playout here)."""

    async def send_tool_calls(self, reply: ReplyStream, calls: Sequence[PlannedToolCall]) -> None:
        await self.writer.tool_calls(reply, calls)

    async def reply_finished(self, reply: ReplyStream) -> None:
        await self.writer.finished(reply)
        if not reply.cancelled:
            self.input.arm_idle()

    # ================================================================== bookkeeping
    def remember_text(self, text: str) -> None:
        self.emulator.remember_text(text, self.number)

    def remember_call(self, call_id: str) -> None:
        self.emulator.remember_call(call_id, self.number)

    def input_tokens(self) -> dict[str, int]:
        items = self.items
        text = items.input_text_chars // 4 + len(self.conversation) * 4
        audio = int(items.input_audio_ms / 100)
        image = items.images * 85
        return {"text": text, "audio": audio, "image": image, "total": text + audio + image}
