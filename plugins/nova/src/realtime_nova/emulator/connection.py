"""One emulated ``InvokeModelWithBidirectionalStream`` call, on the core emulator framework.

Transport: one HTTP/2 stream of a :class:`~realtime_nova.emulator.http2.H2ServerConnection`. Input is
signed envelopes → ``chunk`` messages → ``{"bytes": base64}`` → Nova JSON (:meth:`NovaConnection.decode`
checks the signature chain and unwraps; :class:`~realtime_nova.emulator.prompt.PromptRules` checks the
events). Output is the model's events, played by the framework's turn template through the hooks below:
USER transcript, then per sentence SPECULATIVE text, AUDIO, FINAL text (the FINAL blocks after all the
audio by default, as the real service does), tool use, usage, barge-in.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from realtime_core.audio import PcmData
from realtime_core.emulator import (
    BadMessage,
    EmulatorConnection,
    EnergyVad,
    Fault,
    PlannedToolCall,
    PlannedTurn,
    ReplyStream,
    hostile_frame,
    tool_spec,
)
from realtime_core.emulator.facts import audio_format

from ..eventstream import EventStreamError, Message, MessageDecoder, encode_headers, encode_message
from ..models import ModelInfo
from . import output
from .prompt import PromptRules
from .sigv4 import AuthFailure, EventChain, RequestAuth

if TYPE_CHECKING:
    from . import NovaEmulator
    from .http2 import H2ServerConnection

__all__ = ["NovaConnection"]

MAX_PART_BYTES = 1_000_000
TIMEOUT_MESSAGE = "Model has timed out in processing the request. Try your request again."
IDLE_MESSAGE = "Timed out waiting for input events"
_CHUNK_HEADERS = encode_headers({":message-type": "event", ":event-type": "chunk", ":content-type": "application/json"})
_END = {"name": "(end of input)", "body": {}}  # the signed empty frame that ends the input


class _Broken:
    """Input bytes that are not an event stream (the decoder cannot resync after them)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class NovaConnection(EmulatorConnection["NovaEmulator"]):
    """One Nova stream (see the module docstring)."""

    fault_close_code = 2  # HTTP/2 INTERNAL_ERROR: a ``close`` fault resets the stream

    def __init__(
        self,
        emulator: NovaEmulator,
        h2: H2ServerConnection,
        *,
        stream_id: int,
        number: int,
        model_id: str,
        model: ModelInfo,
        auth: RequestAuth | None,
    ) -> None:
        super().__init__(emulator, number)
        self.h2 = h2
        self.stream_id = stream_id
        self.model_id = model_id
        self.model = model
        self.rules = PromptRules(
            model, input_sample_rates=emulator.input_sample_rates, nova1_turn_detection=emulator.nova1_turn_detection
        )
        self.session_id = str(uuid.uuid4())
        self.request_id = str(uuid.uuid4())
        self.completion_id: str | None = None
        self.saw_end_frame = False
        self.last_input_at = time.monotonic()
        self.vad: EnergyVad | None = None
        self.out = output.OutputState()
        self._inbox: asyncio.Queue[Message | _Broken | None] = asyncio.Queue()
        self._decoder = MessageDecoder(max_payload=MAX_PART_BYTES * 2)
        self._chain = EventChain(auth) if auth is not None else None
        self._headers_sent = False
        self._stream_ended = False
        self._end_frame_queued = False
        self._input_ended = False
        self._response_ended = False

    # ================================================================== HTTP/2 stream callbacks
    def on_data(self, data: bytes) -> None:
        if self.closed:
            return
        if self.emulator.capture_wire:
            self.emulator.wire_in.setdefault(self.number, bytearray()).extend(data)
        try:
            for envelope, _ in self._decoder.feed(data):
                self._end_frame_queued = self._end_frame_queued or not envelope.payload
                self._inbox.put_nowait(envelope)
        except EventStreamError as exc:
            self._inbox.put_nowait(_Broken(f"Invalid event stream: {exc}"))

    def on_input_end(self) -> None:
        if self._input_ended:
            return
        self._input_ended = True
        if not self._end_frame_queued and not self._stream_ended:
            self.emulator.violation(self.number, "the request ended without the signed empty end frame")
        self.spawn(self._end_after_input(), "end-after-input")

    def on_reset(self) -> None:
        self.emulator.record("http.reset_by_client", {}, self.number)
        self._stream_ended = True
        self._inbox.put_nowait(None)

    def on_connection_lost(self) -> None:
        self._stream_ended = True
        self._inbox.put_nowait(None)

    # ================================================================== transport hooks
    async def receive(self) -> Any | None:
        return await self._inbox.get()

    def _send_headers(self, status: int = 200, extra: Sequence[tuple[str, str]] = ()) -> None:
        if self._headers_sent:
            return
        self._headers_sent = True
        content_type = "application/vnd.amazon.eventstream" if status == 200 else "application/json"
        headers = [(":status", str(status)), ("content-type", content_type), ("x-amzn-requestid", self.request_id)]
        self.h2.send_headers(self.stream_id, [*headers, *extra])

    async def send_frame(self, frame: str | bytes) -> None:
        data = frame.encode() if isinstance(frame, str) else frame
        self._send_headers()
        if self.emulator.capture_wire:
            self.emulator.wire_out.setdefault(self.number, bytearray()).extend(data)
        if not await self.h2.send_data(self.stream_id, data):
            raise ConnectionError("the HTTP/2 stream is gone")

    async def close_transport(self, code: int | None, reason: str) -> None:
        self._stream_ended = True
        if code is None:  # drop the TCP connection (every stream on it)
            self.h2.abort()
        elif code in (1000, 1001):  # a normal end: END_STREAM on the response
            self.end_response()
            self.h2.forget(self.stream_id)
        else:
            self.h2.reset(self.stream_id, code if 0 <= code <= 13 else 2)
        self._inbox.put_nowait(None)

    def decode(self, frame: Any) -> Any:
        if isinstance(frame, _Broken):
            raise BadMessage("validationException", frame.reason)
        assert isinstance(frame, Message)
        headers, payload = frame.headers, frame.payload
        if self._chain is not None:
            date, signature = headers.get(":date"), headers.get(":chunk-signature")
            if date is None or not isinstance(signature, bytes):
                raise BadMessage("MissingAuthenticationTokenException", "event is not signed")
            try:
                self._chain.verify(date, signature, payload)
            except AuthFailure as exc:
                raise BadMessage(exc.error_type, exc.message) from None
            self.emulator.signatures_verified += 1
        if not payload:
            return _END
        if self.saw_end_frame:
            raise BadMessage("validationException", "event received after the end of the input stream")
        return _unwrap(payload)

    def encode(self, event: Any) -> bytes:
        nova = json.dumps(event, separators=(",", ":")).encode()
        return encode_message(_CHUNK_HEADERS, b'{"bytes":"' + base64.b64encode(nova) + b'"}')

    def kind_of(self, message: Any) -> str:
        return str(message.get("name"))

    def log_message(self, message: Any) -> None:
        name, body = message["name"], message["body"]
        if name == "audioInput":  # recorded without its payload
            body = {"promptName": body.get("promptName"), "contentName": body.get("contentName"),
                    "bytes": _decoded_size(str(body.get("content", "")))}  # fmt: skip
        self.emulator.record(name, body, self.number)

    # ================================================================== lifecycle
    async def on_open(self) -> None:
        self.spawn(self._stream_limit(), "stream-limit")
        if self.emulator.idle_timeout_s:
            self.spawn(self._idle_timeout(), "idle-timeout")
        if self.emulator.response_headers == "immediate":
            self._send_headers()

    async def on_closed(self) -> None:
        self.h2.forget(self.stream_id)
        self.emulator.stream_ended(self)

    async def _end_after_input(self) -> None:
        # The client half-closed: let what is in flight finish (briefly), then end the response stream.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                while self.turns.current is not None:
                    await self.turns.current.finished.wait()
        # The client ended the call: the response ends too, and the connection counts as closed by the client.
        self.end_response()
        self._stream_ended = True
        self.h2.forget(self.stream_id)
        self._inbox.put_nowait(None)

    def end_response(self) -> None:
        """END_STREAM on the response (the service is done with this stream); the client's side stays open
        until the client ends or resets it, as HTTP/2 has it: then the connection is over."""
        if self._response_ended:
            return
        self._response_ended = True
        self._send_headers()
        self.h2.end_stream(self.stream_id)

    # ================================================================== client events
    async def handle(self, message: Any) -> None:
        name, body = message["name"], message["body"]
        self.last_input_at = time.monotonic()
        rules = self.rules
        match name:
            case "(end of input)":
                self.saw_end_frame = True
            case "sessionStart":
                rules.session_start(body)
            case "promptStart":
                rules.prompt_start(body)
                self._note_config()
                if self.emulator.response_headers == "after_setup" and not self.silenced:
                    self._send_headers()
            case "contentStart":
                block = rules.content_start(body)
                if block.type == "AUDIO":
                    self._audio_opened(block.rate)
            case "textInput":
                rules.text_input(body)
            case "toolResult":
                rules.tool_result(body)
            case "audioInput":
                block, raw = rules.audio_input(body)
                await self._audio(PcmData.from_bytes(raw, block.rate))
            case "contentEnd":
                self._content_ended(rules.content_end(body))
            case "promptEnd":
                rules.prompt_end(body)
                await self.turns.cancel("prompt_end")
                await self._completion_end()
            case "sessionEnd":
                rules.session_end(body)
                self.note("session_finished", how="sessionEnd")
            case _:
                raise BadMessage("validationException", f"Invalid input request: unknown event {name!r}")

    def _note_config(self) -> None:
        rules = self.rules
        self.note_config(
            model=self.model_id,
            instructions=rules.system_prompt,
            tools=[tool_spec(t.name, t.description, t.parameters) for t in rules.tools],
            voice=rules.voice,
            output_modality="audio",
            input_audio=audio_format(rules.audio_block.rate if rules.audio_block else 16000),
            output_audio=audio_format(rules.output_rate),
            turn_detection="server",
            temperature=rules.temperature,
            max_output_tokens=rules.max_tokens,
        )

    def _audio_opened(self, rate: int) -> None:
        self._note_config()
        if self.rules.history:  # history replayed before the first audio: this stream continues a conversation
            self.note("state_restored", messages=len(self.rules.history), how="history")
        self.vad = EnergyVad.from_settings(rate, self.emulator.scenario.vad)

    def _content_ended(self, block: Any) -> None:
        if block.type == "TOOL":
            self.turns.tool_result(block.tool_use_id or "", block.text)
            if not self.turns.pending_tool_calls:
                self.turns.resume_after_tools()
        elif block.role == "SYSTEM":
            self._note_config()
        elif block.type == "TEXT" and block.interactive:
            self.note("text_in", text=block.text)
            self.note("response_requested", how="interactive text")
            if self.model.text_input or self.emulator.nova1_text_replies:
                turn = self.player.next_turn("text", text=block.text)
                if turn is not None:
                    self.turns.start(turn)

    async def _audio(self, pcm: PcmData) -> None:
        self.account_audio_in(pcm)
        self.emulator.keep_audio(self.number, pcm)
        assert self.vad is not None
        for event in self.vad.process(pcm):
            if event.kind == "start":
                await self._speech_started()
            elif event.speech is not None:
                turn = self.player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
                if turn is not None:
                    self.turns.abandon_tools()  # new input supersedes a turn still waiting for tool results
                    self.turns.start(turn)

    async def _speech_started(self) -> None:
        current = self.turns.current
        if current is not None and current.status == "streaming":
            await self.turns.barge_in()
        elif self.emulator.barge_in == "playback":
            reply = self.turns.playing()  # all sent, still playing on the client: only the marker is left
            if reply is not None and not reply.extra.get("barged"):
                reply.extra["barged"] = True
                self.note("barge_in", response_id=reply.id)
                await output.interrupted_marker(self, reply)

    # ================================================================== the turn template's hooks
    async def event(self, name: str, body: Mapping[str, Any]) -> None:
        """Send one Nova output event (the common ids first, as the service does)."""
        full: dict[str, Any] = {"sessionId": self.session_id, "promptName": self.rules.prompt_name}
        if self.completion_id is not None and name != "completionStart":
            full["completionId"] = self.completion_id
        full.update(body)
        await self.send({"event": {name: full}})

    async def completion_start(self) -> None:
        if self.completion_id is None:
            self.completion_id = str(uuid.uuid4())
            await self.event("completionStart", {"completionId": self.completion_id})

    async def _completion_end(self) -> None:
        if self.completion_id is not None:
            await self.event("completionEnd", {"stopReason": "END_TURN"})
            self.completion_id = None

    async def send_user_transcript(self, turn: PlannedTurn, context: Mapping[str, Any]) -> None:
        await output.turn_opening(self, turn)
        await output.user_transcript(self, turn.user_transcript)

    async def reply_started(self, reply: ReplyStream) -> None:
        if reply.turn is not None:
            await output.turn_opening(self, reply.turn)
        await self.completion_start()

    def plan_steps(self, reply: ReplyStream) -> list[tuple[PcmData | None, list[str]]]:
        return output.plan(self, reply)

    async def send_reply_chunk(self, reply: ReplyStream, audio: PcmData | None, text: Sequence[str]) -> None:
        await output.reply_step(self, reply, audio)

    async def send_tool_calls(self, reply: ReplyStream, calls: Sequence[PlannedToolCall]) -> None:
        await output.final_texts(self, reply)
        await output.tool_use(self, calls)

    async def reply_finished(self, reply: ReplyStream) -> None:
        if reply.cancelled:
            await output.interrupted(self, reply)
        else:
            await output.final_texts(self, reply)

    async def turn_finished(self, last: ReplyStream) -> None:
        await output.usage(self, last.turn, output_only=self.emulator.usage_timing == "interleaved")
        if self.emulator.completion_per_turn:
            await self._completion_end()

    # ================================================================== errors and faults
    async def send_error(self, code: str, message: str) -> None:
        await self.send_exception(code, message)

    async def on_bad_message(self, error: BadMessage) -> None:
        self.emulator.violation(self.number, error.message)
        if not self._headers_sent:  # still in setup: the service answers with an HTTP error
            status = 403 if error.code.endswith(("SignatureException", "TokenException")) else 400
            await self.http_error(status, error.code if status == 403 else "ValidationException", error.message)
            return
        if error.code == "validationException":
            await self.send_exception("validationException", error.message)
        else:  # a broken signature: an unmodeled error, then the end
            frame = encode_message({":message-type": "error", ":error-code": error.code, ":error-message": error.message})
            with contextlib.suppress(Exception):
                await self.send_raw(frame)
        self.end_response()

    async def send_exception(self, code: str, message: str, *, end: bool = True) -> None:
        """An in-stream modeled exception (``validationException``...), then (by default) the end of the
        stream, as Bedrock does."""
        member = output.exception_member(code)
        headers = {":message-type": "exception", ":exception-type": member, ":content-type": "application/json"}
        self.emulator.record("emulator.exception", {"type": member, "message": message}, self.number)
        with contextlib.suppress(Exception):
            await self.send_raw(encode_message(headers, json.dumps({"message": message}).encode()))
        if end:
            self.end_response()

    async def http_error(self, status: int, error_type: str, message: str) -> None:
        """A restJson1 error response: only before the stream's response headers went out."""
        self._send_headers(status, [("x-amzn-errortype", f"{error_type}:{output.ERROR_NAMESPACE}")])
        await self.h2.send_data(self.stream_id, json.dumps({"message": message}).encode(), end_stream=True)
        self.emulator.record("http.error", {"status": status, "type": error_type, "message": message}, self.number)
        self.end_response()

    async def inject_error(self, fault: Fault) -> None:
        code = str(fault.code or "internalServerException")
        message = fault.message or f"emulated {code}"
        if not self._headers_sent:
            status, error_type = output.http_error_for(code)
            await self.http_error(status, error_type, message)
            return
        await self.send_exception(code, message, end=self.emulator.end_stream_on_exception)

    def sample_event(self) -> dict[str, Any]:
        return {"event": {"audioOutput": {"sessionId": self.session_id, "promptName": self.rules.prompt_name,
                                          "contentId": "c", "content": "AAAA"}}}  # fmt: skip

    async def send_malformed(self, fault: Fault) -> None:
        if self.emulator.malformed == "crc":  # broken framing: the SDK gives the stream up
            frame = bytearray(encode_message(_CHUNK_HEADERS, b'{"bytes":"e30="}'))
            frame[-1] ^= 0xFF
            await self.send_raw(bytes(frame))
            return
        hostile = hostile_frame(fault.variant, self.sample_event(), size=fault.size)
        await self.send_payload(hostile.encode() if isinstance(hostile, str) else hostile)

    async def send_payload(self, data: bytes) -> None:
        """Send ``data`` as the Nova bytes of a well-framed ``chunk`` (hostile frames, fuzz tests)."""
        await self.send_raw(encode_message(_CHUNK_HEADERS, b'{"bytes":"' + base64.b64encode(data) + b'"}'))

    async def expire(self, fault: Fault) -> None:
        await self.send_exception("modelTimeoutException", fault.message or TIMEOUT_MESSAGE)

    async def go_away(self, fault: Fault) -> None:
        # Nova has no goAway event: the nearest is HTTP/2 GOAWAY (streams in flight go on; the next stream
        # needs a new connection).
        self.h2.go_away()

    async def _stream_limit(self) -> None:
        await asyncio.sleep(self.emulator.stream_limit_s)
        self.emulator.record("emulator.stream_limit", {"seconds": self.emulator.stream_limit_s}, self.number)
        await self.send_exception("modelTimeoutException", TIMEOUT_MESSAGE)

    async def _idle_timeout(self) -> None:
        limit = self.emulator.idle_timeout_s or 0.0
        while True:  # the deadline moves with every input event
            wait = self.last_input_at + limit - time.monotonic()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        self.emulator.record("emulator.idle_timeout", {"seconds": limit}, self.number)
        await self.send_exception("validationException", IDLE_MESSAGE)


def _decoded_size(b64: str) -> int:
    return len(b64) * 3 // 4 - (2 if b64.endswith("==") else 1 if b64.endswith("=") else 0)


def _unwrap(payload: bytes) -> dict[str, Any]:
    """A signed envelope's payload → ``{"name", "body"}`` of the Nova event inside."""
    try:
        inner = MessageDecoder(max_payload=MAX_PART_BYTES * 2).feed(payload)
    except EventStreamError as exc:
        raise BadMessage("validationException", f"Invalid event stream message: {exc}") from None
    if len(inner) != 1:
        raise BadMessage("validationException", "an envelope must hold exactly one message")
    message, _ = inner[0]
    h = message.headers
    if h.get(":message-type") != "event" or h.get(":event-type") != "chunk":
        raise BadMessage("validationException", f"unexpected input event {h.get(':event-type')!r}: only 'chunk'")
    if h.get(":content-type") not in (None, "application/json"):
        raise BadMessage("validationException", f"unexpected content type {h.get(':content-type')!r}")
    try:
        part = base64.b64decode(json.loads(message.payload)["bytes"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadMessage("validationException", 'Invalid input request: chunk must be {"bytes": <base64>}') from None
    if len(part) > MAX_PART_BYTES:
        raise BadMessage("validationException", f"chunk bytes must be at most {MAX_PART_BYTES} bytes, got {len(part)}")
    try:
        ((name, body),) = json.loads(part)["event"].items()
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise BadMessage("validationException", 'Invalid input request: expected {"event": {<name>: {...}}}') from None
    if not isinstance(body, dict):
        raise BadMessage("validationException", f"{name} must be an object")
    return {"name": name, "body": body}
