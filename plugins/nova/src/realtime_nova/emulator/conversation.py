"""One emulated ``InvokeModelWithBidirectionalStream`` call: the Nova event protocol on a HTTP/2 stream.

Input: signed envelopes → ``chunk`` messages → ``{"bytes": base64}`` → Nova JSON, checked event by event
against the rules of the protocol (order, names, fields, limits). Output: the model's event sequence per
:class:`~realtime_core.emulator.Scenario` turn (USER transcript; SPECULATIVE text, AUDIO, FINAL text per
sentence; tool use; usage), barge-in, in-stream exceptions and the stream time limit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from realtime_core.audio import PcmData
from realtime_core.emulator import EnergyVad, Fault, PlannedReply, PlannedToolCall, PlannedTurn

from ..eventstream import EventStreamError, MessageDecoder, encode_headers, encode_message
from ..models import ModelInfo
from .sigv4 import AuthFailure, EventChain, RequestAuth

if TYPE_CHECKING:
    from . import NovaEmulator
    from .http2 import H2ServerConnection

__all__ = ["EXCEPTION_TYPES", "NovaStreamHandler"]

MAX_PART_BYTES = 1_000_000
INTERRUPTED_MARKER = '{ "interrupted" : true }'
TIMEOUT_MESSAGE = "Model has timed out in processing the request. Try your request again."
IDLE_MESSAGE = "Timed out waiting for input events"
HISTORY_ORDER_MESSAGE = "Chat history should be sent completely before streaming audio."

EXCEPTION_TYPES = {
    name.lower(): name
    for name in (
        "validationException",
        "throttlingException",
        "modelTimeoutException",
        "modelStreamErrorException",
        "internalServerException",
        "serviceUnavailableException",
    )
}
"""The exception members of Bedrock's output event union (lower-cased name → member name)."""
STATUS_EXCEPTIONS = {
    400: "validationException",
    408: "modelTimeoutException",
    424: "modelStreamErrorException",
    429: "throttlingException",
    503: "serviceUnavailableException",
}
_CHUNK_HEADERS = encode_headers({":message-type": "event", ":event-type": "chunk", ":content-type": "application/json"})
_SENTENCE = re.compile(r"(?<=[.!?])(?=\s)")  # split after a sentence, keeping the space with the next one
_TOKENS_PER_SECOND = 25  # a rough speech-token rate for the emulated usage events
_VOICE_RATES = (8000, 16000, 24000)


class _StreamGone(Exception):
    """The HTTP/2 stream or its connection went away; stop quietly."""


class _Reject(Exception):
    """A protocol violation: answered with a validationException that ends the stream."""


@dataclass
class _Content:
    name: str
    type: str
    role: str
    interactive: bool
    rate: int = 16000
    tool_use_id: str | None = None
    parts: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    calls: dict[str, PlannedToolCall]
    done: asyncio.Event = field(default_factory=asyncio.Event)


class NovaStreamHandler:
    """Serves one Nova stream; created by :class:`~realtime_nova.emulator.NovaEmulator` per request."""

    def __init__(
        self,
        emulator: NovaEmulator,
        conn: H2ServerConnection,
        *,
        stream_id: int,
        number: int,
        model_id: str,
        model: ModelInfo,
        auth: RequestAuth | None,
    ) -> None:
        self.emu = emulator
        self.conn = conn
        self.stream_id = stream_id
        self.number = number
        self.model_id = model_id
        self.model = model
        self.session_id = str(uuid.uuid4())
        self.request_id = str(uuid.uuid4())
        self.opened_at = time.monotonic()
        self.last_input_at = self.opened_at
        self._decoder = MessageDecoder(max_payload=MAX_PART_BYTES * 2)
        self._chain = EventChain(auth) if auth is not None else None
        self._out_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._headers_sent = False
        self.ended = False
        self._closing = False
        self.saw_end_frame = False
        self.messages = 0
        # protocol state
        self.phase = "new"  # new → session → prompt → prompt_ended → session_ended
        self.prompt_name = ""
        self.output_rate = 24000
        self.voice = ""
        self.tool_names: set[str] = set()
        self.contents: dict[str, _Content] = {}
        self._open_block: _Content | None = None  # the open TEXT/TOOL block (one at a time)
        self._audio_block: _Content | None = None
        self.audio_started = False
        self.system_prompt: str | None = None
        self.history: list[tuple[str, str]] = []
        self._history_bytes = 0
        self._vad: EnergyVad | None = None
        # output state
        self.completion_id: str | None = None
        self._turns: asyncio.Queue[PlannedTurn] = asyncio.Queue()
        self._playing: asyncio.Task[None] | None = None
        self._streaming_audio = False
        self._playback_until = 0.0
        self._barge_in = False
        self._open_out_audio: str | None = None
        self._pending: _Pending | None = None
        self._issued_tool_ids: set[str] = set()
        self._usage_total = {"input": [0, 0], "output": [0, 0]}  # [speech, text] tokens
        self._spawn(self._responder())
        self._spawn(self._stream_limit())
        if emulator.idle_timeout_s:
            self._spawn(self._idle_timeout())
        for index, fault in emulator.player.timed_faults():
            self._spawn(self._timed_fault(index, fault))
        if emulator.response_headers == "immediate":
            self._send_headers()

    # ================================================================== plumbing
    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, _StreamGone):
                self.emu.violation(self.number, f"emulator task failed: {exc!r}")

    def _send_headers(self) -> None:
        if self._headers_sent:
            return
        self._headers_sent = True
        self.conn.send_headers(
            self.stream_id,
            [
                (":status", "200"),
                ("content-type", "application/vnd.amazon.eventstream"),
                ("x-amzn-requestid", self.request_id),
            ],
        )

    async def _write(self, frame: bytes) -> None:
        async with self._out_lock:
            if self.ended:
                raise _StreamGone
            stall = self.emu.stall_until.get(self.number, 0.0) - time.monotonic()
            if stall > 0:
                await asyncio.sleep(stall)
            self._send_headers()
            if self.emu.capture_wire:
                self.emu.wire_out.setdefault(self.number, bytearray()).extend(frame)
            if not await self.conn.send_data(self.stream_id, frame):
                self._gone()
                raise _StreamGone

    async def _event(self, name: str, body: dict[str, Any]) -> None:
        """Send one Nova output event (common ids first, as the service does)."""
        full = {"sessionId": self.session_id, "promptName": self.prompt_name}
        if self.completion_id is not None and name != "completionStart":
            full["completionId"] = self.completion_id
        full.update(body)
        nova = json.dumps({"event": {name: full}}, separators=(",", ":")).encode()
        payload = b'{"bytes":"' + base64.b64encode(nova) + b'"}'
        await self._write(encode_message(_CHUNK_HEADERS, payload))

    async def send_exception(self, member: str, message: str, *, end: bool = True) -> None:
        """An in-stream modeled exception (``validationException``...), then (by default) the end of the
        stream, as Bedrock does."""
        headers = {":message-type": "exception", ":exception-type": member, ":content-type": "application/json"}
        frame = encode_message(headers, json.dumps({"message": message}).encode())
        with contextlib.suppress(_StreamGone):
            await self._write(frame)
        self.emu.record("emulator.exception", {"type": member, "message": message}, self.number)
        if end:
            await self.finish()

    async def send_unmodeled_error(self, code: str, message: str) -> None:
        frame = encode_message({":message-type": "error", ":error-code": code, ":error-message": message})
        with contextlib.suppress(_StreamGone):
            await self._write(frame)
        await self.finish()

    async def finish(self) -> None:
        """End the response stream (END_STREAM) and stop everything else."""
        async with self._out_lock:
            if self.ended:
                return
            self._send_headers()
            self.conn.end_stream(self.stream_id)
            self._gone()

    def _gone(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.conn.forget(self.stream_id)
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        self.emu.stream_ended(self)

    def reset(self, code: int) -> None:
        """Abort the stream with RST_STREAM (the client sees the stream die)."""
        if self.ended:
            return
        self.conn.reset(self.stream_id, code)
        self._gone()

    def _reject(self, message: str) -> None:
        self.emu.violation(self.number, message)
        self._spawn_output(self.send_exception("validationException", message))

    def _spawn_output(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._spawn(coro)  # _task_done treats _StreamGone as a quiet end

    # ================================================================== StreamHandler
    def on_data(self, data: bytes) -> None:
        if self.ended or self._closing:
            return
        if self.emu.capture_wire:
            self.emu.wire_in.setdefault(self.number, bytearray()).extend(data)
        try:
            envelopes = self._decoder.feed(data)
        except EventStreamError as exc:
            self._closing = True
            self._reject(f"Invalid event stream: {exc}")
            return
        for envelope, _ in envelopes:
            try:
                self._on_envelope(envelope.headers, envelope.payload)
            except _Reject as exc:
                self._closing = True
                self._reject(str(exc))
                return
            except AuthFailure as exc:
                self._closing = True
                self.emu.violation(self.number, exc.message)
                self._spawn_output(self.send_unmodeled_error(exc.error_type, exc.message))
                return

    def on_input_end(self) -> None:
        if not self.saw_end_frame and not self.ended:
            self.emu.violation(self.number, "the request ended without the signed empty end frame")
        if not self.ended:
            self._spawn_output(self._end_after_input())

    def on_reset(self) -> None:
        self.emu.record("http.reset_by_client", {}, self.number)
        self._gone()

    def on_connection_lost(self) -> None:
        self._gone()

    async def _end_after_input(self) -> None:
        # The client half-closed: finish what is in flight, then end the response stream.
        playing = self._playing
        if playing is not None and not playing.done():
            with contextlib.suppress(asyncio.CancelledError, _StreamGone):
                await asyncio.wait_for(asyncio.shield(playing), 2.0)
        await self.finish()

    # ================================================================== input decoding
    def _on_envelope(self, headers: dict[str, Any], payload: bytes) -> None:
        date = headers.get(":date")
        signature = headers.get(":chunk-signature")
        if self._chain is not None:
            if date is None or not isinstance(signature, bytes):
                raise AuthFailure(403, "MissingAuthenticationTokenException", "event is not signed")
            self._chain.verify(date, signature, payload)
            self.emu.signatures_verified += 1
        if not payload:
            self.saw_end_frame = True
            return
        if self.saw_end_frame:
            raise _Reject("event received after the end of the input stream")
        try:
            inner = MessageDecoder(max_payload=MAX_PART_BYTES * 2).feed(payload)
        except EventStreamError as exc:
            raise _Reject(f"Invalid event stream message: {exc}") from None
        if len(inner) != 1:
            raise _Reject("an envelope must hold exactly one message")
        message, _ = inner[0]
        h = message.headers
        if h.get(":message-type") != "event" or h.get(":event-type") != "chunk":
            raise _Reject(f"unexpected input event {h.get(':event-type')!r}: only 'chunk' is accepted")
        if h.get(":content-type") not in (None, "application/json"):
            raise _Reject(f"unexpected content type {h.get(':content-type')!r}")
        try:
            wrapper = json.loads(message.payload)
            part = base64.b64decode(wrapper["bytes"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _Reject('Invalid input request: chunk must be {"bytes": <base64>}') from None
        if len(part) > MAX_PART_BYTES:
            raise _Reject(f"chunk bytes must be at most {MAX_PART_BYTES} bytes, got {len(part)}")
        try:
            doc = json.loads(part)
            ((name, body),) = doc["event"].items()
        except (ValueError, KeyError, TypeError, AttributeError):
            raise _Reject('Invalid input request: expected {"event": {<name>: {...}}}') from None
        if not isinstance(body, dict):
            raise _Reject(f"{name} must be an object")
        self._on_nova_event(name, body)

    # ================================================================== Nova input events
    def _on_nova_event(self, name: str, body: dict[str, Any]) -> None:
        self.last_input_at = time.monotonic()
        self.messages += 1
        if self.emu.response_headers == "first_event" and self.messages == 1:
            faults = self.emu.player.faults_for_message(1)
            http_faults = [f for f in faults if f.kind == "error" and _http_status(f.code) is not None]
            if http_faults:  # headers not sent yet: a pre-stream HTTP error is possible
                self._closing = True
                fault = http_faults[0]
                status = _http_status(fault.code) or 500
                self._spawn_output(self.emu.http_error_after_open(self, status, fault.message))
                return
            for fault in faults:
                self._spawn_output(self.apply_fault(fault))
            self._send_headers()
        handler = getattr(self, f"_in_{name}", None)
        if handler is None:
            raise _Reject(f"Invalid input request: unknown event {name!r}")
        if name != "audioInput":  # audio is recorded once decoded, without its payload
            self.emu.record(name, body, self.number)
        handler(body)
        if self.messages > 1 or self.emu.response_headers != "first_event":
            for fault in self.emu.player.faults_for_message(self.messages):
                self._spawn_output(self.apply_fault(fault))

    def _need(self, body: dict[str, Any], key: str, kind: type | tuple[type, ...], event: str) -> Any:
        value = body.get(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
            raise _Reject(f"{event}.{key} is missing or has the wrong type")
        return value

    def _check_prompt(self, body: dict[str, Any], event: str) -> None:
        if self.phase != "prompt":
            raise _Reject(f"{event} before promptStart (or after promptEnd)")
        if body.get("promptName") != self.prompt_name:
            raise _Reject(f"{event}.promptName {body.get('promptName')!r} does not match the open prompt")

    def _in_sessionStart(self, body: dict[str, Any]) -> None:
        if self.phase != "new":
            raise _Reject("sessionStart must be the first event and appear once")
        inference = self._need(body, "inferenceConfiguration", dict, "sessionStart")
        max_tokens = inference.get("maxTokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= 10_000:
            raise _Reject("sessionStart.inferenceConfiguration.maxTokens must be an integer in [1, 10000]")
        for key in ("topP", "temperature"):
            value = inference.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise _Reject(f"sessionStart.inferenceConfiguration.{key} must be a number in [0, 1]")
        if "endpointingSensitivity" in body:
            raise _Reject("endpointingSensitivity must be set under turnDetectionConfiguration")
        turn = body.get("turnDetectionConfiguration")
        if turn is not None:
            if not self.model.turn_detection and not self.emu.nova1_turn_detection:
                raise _Reject("turnDetectionConfiguration is not supported by this model")
            if not isinstance(turn, dict) or turn.get("endpointingSensitivity") not in ("HIGH", "MEDIUM", "LOW"):
                raise _Reject("turnDetectionConfiguration.endpointingSensitivity must be HIGH, MEDIUM or LOW")
        self.phase = "session"

    def _in_promptStart(self, body: dict[str, Any]) -> None:
        if self.phase != "session":
            raise _Reject("promptStart must follow sessionStart and appear once")
        name = self._need(body, "promptName", str, "promptStart")
        if not name:
            raise _Reject("promptStart.promptName must not be empty")
        self._need(body, "textOutputConfiguration", dict, "promptStart")
        audio = self._need(body, "audioOutputConfiguration", dict, "promptStart")
        expected = {"mediaType": "audio/lpcm", "sampleSizeBits": 16, "channelCount": 1, "encoding": "base64"}
        for key, value in expected.items():
            if audio.get(key) != value:
                raise _Reject(f"promptStart.audioOutputConfiguration.{key} must be {value!r}")
        if audio.get("sampleRateHertz") not in _VOICE_RATES:
            raise _Reject(f"audioOutputConfiguration.sampleRateHertz must be one of {_VOICE_RATES}")
        voice = audio.get("voiceId")
        if voice not in self.model.voices:
            raise _Reject(f"Received invalid voiceId: {voice!r}. Please check AWS documentation for valid voiceIds.")
        tools = body.get("toolConfiguration")
        if tools is not None:
            if not isinstance(tools, dict) or not isinstance(tools.get("tools"), list):
                raise _Reject("promptStart.toolConfiguration.tools must be a list")
            for entry in tools["tools"]:
                spec = entry.get("toolSpec") if isinstance(entry, dict) else None
                if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                    raise _Reject("each tool needs toolSpec.name")
                schema = spec.get("inputSchema", {}).get("json") if isinstance(spec.get("inputSchema"), dict) else None
                if not isinstance(schema, str):
                    raise _Reject(f"tool {spec['name']!r}: inputSchema.json must be a JSON string")
                try:
                    json.loads(schema)
                except ValueError:
                    raise _Reject(f"tool {spec['name']!r}: inputSchema.json is not valid JSON") from None
                self.tool_names.add(spec["name"])
            if self.tool_names and body.get("toolUseOutputConfiguration", {}).get("mediaType") != "application/json":
                raise _Reject("promptStart.toolUseOutputConfiguration.mediaType must be application/json with tools")
        self.prompt_name = name
        self.output_rate = int(audio["sampleRateHertz"])
        self.voice = str(voice)
        self.phase = "prompt"

    def _in_contentStart(self, body: dict[str, Any]) -> None:
        self._check_prompt(body, "contentStart")
        name = self._need(body, "contentName", str, "contentStart")
        if not name or name in self.contents:
            raise _Reject(f"contentStart.contentName {name!r} must be new and non-empty")
        kind = body.get("type")
        role = body.get("role")
        interactive = body.get("interactive")
        if not isinstance(interactive, bool):
            raise _Reject("contentStart.interactive must be a boolean")
        if kind in ("TEXT", "TOOL") and self._open_block is not None:
            raise _Reject(f"content {self._open_block.name!r} is still open")
        block = _Content(name=name, type=str(kind), role=str(role), interactive=interactive)
        if kind == "TEXT":
            if body.get("textInputConfiguration", {}).get("mediaType") != "text/plain":
                raise _Reject("contentStart.textInputConfiguration.mediaType must be text/plain")
            if role not in ("SYSTEM", "USER", "ASSISTANT", "SYSTEM_SPEECH"):
                raise _Reject(f"invalid role {role!r} for TEXT content")
            if not interactive and role in ("USER", "ASSISTANT") and self.audio_started:
                raise _Reject(HISTORY_ORDER_MESSAGE)
            if role == "SYSTEM" and (self.history or self.audio_started):
                raise _Reject("the system prompt must come before history and audio")
            if interactive and role != "USER":
                raise _Reject("interactive text must have role USER")
            self._open_block = block
        elif kind == "AUDIO":
            if role != "USER" or not interactive:
                raise _Reject("audio input must be interactive USER content")
            if self._audio_block is not None:
                raise _Reject("an audio content block is already open")
            config = body.get("audioInputConfiguration")
            if not isinstance(config, dict):
                raise _Reject("contentStart.audioInputConfiguration is required for AUDIO")
            fixed = {"mediaType": "audio/lpcm", "sampleSizeBits": 16, "channelCount": 1, "encoding": "base64"}
            for key, value in fixed.items():
                if config.get(key) != value:
                    raise _Reject(f"audioInputConfiguration.{key} must be {value!r}")
            rate = config.get("sampleRateHertz")
            if rate not in self.emu.input_sample_rates:
                raise _Reject(f"audioInputConfiguration.sampleRateHertz must be one of {self.emu.input_sample_rates}")
            block.rate = int(rate)
            if not self.audio_started and self.history:
                # History was replayed before the first audio: this stream continues a conversation.
                self.emu.note("state_restored", self.number, messages=len(self.history), how="history")
            self.audio_started = True
            self._audio_block = block
            vad = self.emu.scenario.vad
            self._vad = EnergyVad(
                block.rate,
                threshold=vad.threshold,
                silence_ms=vad.silence_ms,
                prefix_ms=vad.prefix_ms,
                min_speech_ms=vad.min_speech_ms,
            )
        elif kind == "TOOL":
            if role != "TOOL":
                raise _Reject("TOOL content must have role TOOL")
            config = body.get("toolResultInputConfiguration")
            tool_use_id = config.get("toolUseId") if isinstance(config, dict) else None
            if not isinstance(tool_use_id, str) or tool_use_id not in self._issued_tool_ids:
                raise _Reject(f"toolResultInputConfiguration.toolUseId {tool_use_id!r} was not issued by the model")
            block.tool_use_id = tool_use_id
            self._open_block = block
        else:
            raise _Reject(f"contentStart.type must be TEXT, AUDIO or TOOL, got {kind!r}")
        self.contents[name] = block

    def _block(self, body: dict[str, Any], event: str, kind: str) -> _Content:
        self._check_prompt(body, event)
        name = body.get("contentName")
        block = self._open_block if kind != "AUDIO" else self._audio_block
        if block is None or block.name != name or block.type != kind:
            raise _Reject(f"{event}.contentName {name!r} does not name an open {kind} content block")
        return block

    def _in_textInput(self, body: dict[str, Any]) -> None:
        block = self._block(body, "textInput", "TEXT")
        block.parts.append(self._need(body, "content", str, "textInput"))

    def _in_toolResult(self, body: dict[str, Any]) -> None:
        block = self._block(body, "toolResult", "TOOL")
        content = self._need(body, "content", str, "toolResult")
        try:
            json.loads(content)
        except ValueError:
            raise _Reject("Tool Response parsing error: toolResult.content must be a JSON string") from None
        block.parts.append(content)

    def _in_audioInput(self, body: dict[str, Any]) -> None:
        if self._open_block is not None:
            raise _Reject(HISTORY_ORDER_MESSAGE)
        block = self._block(body, "audioInput", "AUDIO")
        content = body.get("content")
        if not isinstance(content, str):
            raise _Reject("audioInput.content must be a base64 string")
        try:
            raw = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise _Reject("audioInput.content is not valid base64") from None
        if len(raw) % 2:
            raise _Reject("audioInput.content must hold 16-bit samples")
        pcm = PcmData.from_bytes(raw, block.rate)
        self.emu.record(
            "audioInput",
            {"promptName": body.get("promptName"), "contentName": block.name, "bytes": len(raw)},
            self.number,
        )
        self.emu.add_audio(self.number, pcm)
        assert self._vad is not None
        for event in self._vad.process(pcm):
            if event.kind == "start" and self._reply_active():
                playing = self._playing
                if playing is not None and not playing.done():
                    self._barge_in = True
                    playing.cancel()
                else:  # the reply was all sent but is still playing on the client (barge_in="playback")
                    self._playback_until = 0.0
                    self._spawn_output(self._interrupted())
            elif event.kind == "stop" and event.speech is not None:
                turn = self.emu.player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
                if turn is not None:
                    self._turns.put_nowait(turn)

    def _in_contentEnd(self, body: dict[str, Any]) -> None:
        self._check_prompt(body, "contentEnd")
        name = body.get("contentName")
        block = self.contents.get(name) if isinstance(name, str) else None
        if block is None or (block is not self._open_block and block is not self._audio_block):
            raise _Reject(f"contentEnd.contentName {name!r} does not name an open content block")
        if block is self._audio_block:
            self._audio_block = None
            return
        self._open_block = None
        text = "".join(block.parts)
        if block.type == "TOOL":
            self._tool_result(block, text)
        elif block.role == "SYSTEM":
            self.system_prompt = text
        elif block.interactive:
            self.emu.note("text_in", self.number, text=text)
            self.emu.note("response_requested", self.number, how="interactive text")
            if self.model.text_input or self.emu.nova1_text_replies:
                turn = self.emu.player.next_turn("text", text=text)
                if turn is not None:
                    self._turns.put_nowait(turn)
        elif block.role in ("USER", "ASSISTANT"):
            self._add_history(block.role, text)

    def _add_history(self, role: str, text: str) -> None:
        size = len(text.encode("utf-8"))
        if not self.history and role != "USER":
            raise _Reject("Chat history must start with a USER message")
        if size > self.model.history_message_bytes:
            raise _Reject(f"a history message is {size} bytes; the limit is {self.model.history_message_bytes}")
        limit = self.model.history_max_messages
        if limit is not None and len(self.history) >= limit:
            raise _Reject(f"chat history holds at most {limit} messages")
        total = self.model.history_total_bytes
        if total is not None and self._history_bytes + size > total:
            raise _Reject(f"chat history holds at most {total} bytes")
        self.history.append((role, text))
        self._history_bytes += size

    def _tool_result(self, block: _Content, text: str) -> None:
        call_id = block.tool_use_id or ""
        self.emu.note("tool_result", self.number, call_id=call_id, output=text)
        pending = self._pending
        if pending is not None and call_id in pending.calls:
            del pending.calls[call_id]
            if not pending.calls:
                pending.done.set()
        self._issued_tool_ids.discard(call_id)

    def _in_promptEnd(self, body: dict[str, Any]) -> None:
        self._check_prompt(body, "promptEnd")
        if self._open_block is not None or self._audio_block is not None:
            raise _Reject("promptEnd while a content block is still open")
        self.phase = "prompt_ended"
        playing = self._playing
        if playing is not None and not playing.done():
            playing.cancel()
        self._spawn_output(self._completion_end())

    def _in_sessionEnd(self, body: dict[str, Any]) -> None:
        if self.phase != "prompt_ended":
            raise _Reject("sessionEnd must follow promptEnd")
        self.phase = "session_ended"
        self.emu.note("session_finished", self.number, how="sessionEnd")
        self._spawn_output(self._end_after_input())

    # ================================================================== output: turns
    def _reply_active(self) -> bool:
        if self._streaming_audio:
            return True
        # "playback": a reply counts until its audio would have finished playing in real time
        return self.emu.barge_in == "playback" and time.monotonic() < self._playback_until

    async def _completion_start(self) -> None:
        if self.completion_id is None:
            self.completion_id = str(uuid.uuid4())
            await self._event("completionStart", {"completionId": self.completion_id})

    async def _completion_end(self) -> None:
        if self.completion_id is not None:
            await self._event("completionEnd", {"stopReason": "END_TURN"})
            self.completion_id = None

    async def _responder(self) -> None:
        while True:
            turn = await self._turns.get()
            if self.phase != "prompt":
                continue
            self._barge_in = False
            task = asyncio.get_running_loop().create_task(self._play_turn(turn))
            self._playing = task
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                task.cancel()
                raise
            finally:
                self._playing = None
            if not task.cancelled() and task.exception() is not None and not isinstance(task.exception(), _StreamGone):
                raise task.exception()  # type: ignore[misc]

    async def _play_turn(self, turn: PlannedTurn) -> None:
        try:
            await self._run_faults(turn.index, "before_reply")
            await self._completion_start()
            if turn.trigger == "speech":
                await self._text_block("USER", "FINAL", turn.user_transcript, self.emu.user_stop_reason)
            reply = turn.reply
            spoken = await self._speak(reply, turn, last=not reply.tool_calls)
            if reply.tool_calls:
                await self._tool_use(reply.tool_calls, turn)
                if turn.after_tools is not None:
                    spoken += await self._speak(turn.after_tools, turn, last=True)
            await self._usage(turn, spoken)
            await self._run_faults(turn.index, "after_reply")
            if self.emu.completion_per_turn:
                await self._completion_end()
        except asyncio.CancelledError:
            if self._barge_in and not self.ended:
                self._barge_in = False
                with contextlib.suppress(_StreamGone):
                    await self._interrupted()
                return
            raise

    async def _run_faults(self, index: int, phase: str) -> None:
        for fault in self.emu.player.faults_for_turn(index, phase):
            await self.apply_fault(fault)

    async def _interrupted(self) -> None:
        """The user talked over the reply: stop, mark the block INTERRUPTED and send the marker."""
        if self._open_out_audio is not None:
            content_id, self._open_out_audio = self._open_out_audio, None
            self._streaming_audio = False
            await self._event("contentEnd", {"contentId": content_id, "type": "AUDIO", "stopReason": "INTERRUPTED"})
        await self._text_block("ASSISTANT", "FINAL", INTERRUPTED_MARKER, "INTERRUPTED")
        self.emu.note("barge_in", self.number)

    async def _text_block(self, role: str, stage: str, text: str, stop: str) -> None:
        content_id = str(uuid.uuid4())
        await self._event(
            "contentStart",
            {
                "contentId": content_id,
                "type": "TEXT",
                "role": role,
                "additionalModelFields": json.dumps({"generationStage": stage}),
                "textOutputConfiguration": {"mediaType": "text/plain"},
            },
        )
        await self._event("textOutput", {"contentId": content_id, "content": text, "role": role})
        await self._event("contentEnd", {"contentId": content_id, "type": "TEXT", "stopReason": stop})

    def _segments(self, reply: PlannedReply) -> list[tuple[str, PcmData | None]]:
        audio = reply.audio if reply.audio is not None and reply.audio else None
        if audio is not None and audio.sample_rate != self.output_rate:
            audio = audio.resample(self.output_rate, 1)
        text = reply.text
        sentences = [s for s in _SENTENCE.split(text) if s] if (text and self.emu.sentence_segments) else [text]
        if len(sentences) <= 1 or audio is None:
            return [(text, audio)]
        # Split the audio in proportion to each sentence's length, on sample boundaries.
        total = sum(len(s) for s in sentences)
        out: list[tuple[str, PcmData | None]] = []
        start = 0
        frames = audio.frames
        for i, sentence in enumerate(sentences):
            end = frames if i == len(sentences) - 1 else start + frames * len(sentence) // total
            piece = PcmData(np.ascontiguousarray(audio.samples[start:end]), self.output_rate, 1)
            out.append((sentence, piece if piece.frames else None))
            start = end
        return out

    async def _speak(self, reply: PlannedReply, turn: PlannedTurn, *, last: bool) -> float:
        """Stream one reply as SPECULATIVE text / AUDIO / FINAL text per sentence; returns audio ms."""
        segments = [(t, a) for t, a in self._segments(reply) if t or a is not None]
        if not segments:
            return 0.0
        if reply.first_chunk_delay_ms:
            await asyncio.sleep(reply.first_chunk_delay_ms / 1000)
        total_chunks = sum(len(list(a.chunks(reply.chunk_ms))) for _, a in segments if a is not None)
        sent_chunks = 0
        mid_done = False
        spoken_ms = 0.0
        interval = reply.chunk_interval_ms / 1000 if reply.chunk_interval_ms else 0.0
        for i, (text, audio) in enumerate(segments):
            stop = "END_TURN" if (last and i == len(segments) - 1) else "PARTIAL_TURN"
            if text:
                await self._text_block("ASSISTANT", "SPECULATIVE", text, "PARTIAL_TURN")
            if audio is not None:
                content_id = str(uuid.uuid4())
                await self._event(
                    "contentStart",
                    {
                        "contentId": content_id,
                        "type": "AUDIO",
                        "role": "ASSISTANT",
                        "audioOutputConfiguration": {
                            "mediaType": "audio/lpcm",
                            "sampleRateHertz": self.output_rate,
                            "sampleSizeBits": 16,
                            "channelCount": 1,
                            "voiceId": self.voice,
                            "encoding": "base64",
                            "audioType": "SPEECH",
                        },
                    },
                )
                self._open_out_audio = content_id
                self._streaming_audio = True
                now = time.monotonic()
                self._playback_until = max(self._playback_until, now) + audio.duration
                for chunk in audio.chunks(reply.chunk_ms):
                    b64 = base64.b64encode(memoryview(chunk.samples)).decode()
                    await self._event("audioOutput", {"contentId": content_id, "content": b64})
                    sent_chunks += 1
                    spoken_ms += chunk.duration_ms
                    if not mid_done and sent_chunks * 2 >= total_chunks:
                        mid_done = True
                        await self._run_faults(turn.index, "mid_reply")
                    if interval:
                        await asyncio.sleep(interval)
                    elif sent_chunks % 8 == 0:
                        await asyncio.sleep(0)  # let input (a barge-in) be read between bursts
                self._streaming_audio = False
                self._open_out_audio = None
                await self._event("contentEnd", {"contentId": content_id, "type": "AUDIO", "stopReason": stop})
            if text:
                await self._text_block("ASSISTANT", "FINAL", text, stop)
        if not mid_done:
            await self._run_faults(turn.index, "mid_reply")
        return spoken_ms

    async def _tool_use(self, calls: list[PlannedToolCall], turn: PlannedTurn) -> None:
        pending = _Pending(calls={c.call_id: c for c in calls})
        self._pending = pending
        for call in calls:
            content_id = str(uuid.uuid4())
            arguments = json.dumps(call.arguments)
            if self.emu.double_encode_tool_arguments:
                arguments = json.dumps(arguments)
            self._issued_tool_ids.add(call.call_id)
            await self._event(
                "contentStart",
                {
                    "contentId": content_id,
                    "type": "TOOL",
                    "role": "TOOL",
                    "toolUseOutputConfiguration": {"mediaType": "application/json"},
                },
            )
            await self._event(
                "toolUse",
                {"contentId": content_id, "toolName": call.name, "toolUseId": call.call_id, "content": arguments},
            )
            await self._event("contentEnd", {"contentId": content_id, "type": "TOOL", "stopReason": "TOOL_USE"})
        await pending.done.wait()
        self._pending = None

    async def _usage(self, turn: PlannedTurn, spoken_ms: float) -> None:
        speech_in = 0
        text_in = 0
        if turn.trigger == "speech":
            speech_in = max(1, round(len(turn.user_transcript) / 4))
        else:
            text_in = max(1, round(len(turn.user_transcript) / 4))
        speech_out = round(spoken_ms / 1000 * _TOKENS_PER_SECOND)
        text_out = round(len(turn.reply.text) / 4)
        delta = {"input": [speech_in, text_in], "output": [speech_out, text_out]}
        for side, (speech, text) in delta.items():
            self._usage_total[side][0] += speech
            self._usage_total[side][1] += text

        def shape(values: dict[str, list[int]]) -> dict[str, Any]:
            return {side: {"speechTokens": v[0], "textTokens": v[1]} for side, v in values.items()}

        total_in = sum(self._usage_total["input"])
        total_out = sum(self._usage_total["output"])
        await self._event(
            "usageEvent",
            {
                "details": {"delta": shape(delta), "total": shape(self._usage_total)},
                "totalInputTokens": total_in,
                "totalOutputTokens": total_out,
                "totalTokens": total_in + total_out,
            },
        )

    # ================================================================== faults and timers
    async def apply_fault(self, fault: Fault) -> None:
        """Inject one Scenario fault, mapped to the nearest thing Bedrock does."""
        self.emu.record("emulator.fault", fault.model_dump(), self.number)
        kind = fault.kind
        if kind == "close":
            code = fault.code if isinstance(fault.code, int) and 0 <= fault.code <= 13 else 2  # INTERNAL_ERROR
            self.reset(code)
        elif kind == "error":
            member, status = _exception_member(fault.code)
            message = fault.message or f"emulated {member} (status {status})"
            await self.send_exception(member, message, end=self.emu.end_stream_on_exception)
        elif kind == "malformed":
            if self.emu.malformed == "crc":
                frame = bytearray(encode_message(_CHUNK_HEADERS, b'{"bytes":"e30="}'))
                frame[-1] ^= 0xFF
                await self._write(bytes(frame))
            else:
                payload = b'{"bytes":"' + base64.b64encode(b"{not json") + b'"}'
                await self._write(encode_message(_CHUNK_HEADERS, payload))
        elif kind == "delay":
            self.emu.stall_until[self.number] = time.monotonic() + fault.delay_ms / 1000
        elif kind == "expire":
            await self.send_exception("modelTimeoutException", fault.message or TIMEOUT_MESSAGE)
        elif kind == "go_away":
            # Nova has no goAway event: the nearest is HTTP/2 GOAWAY. Streams in flight go on; the next
            # stream needs a new connection.
            self.conn.go_away()

    async def _timed_fault(self, index: int, fault: Fault) -> None:
        await asyncio.sleep((fault.after_ms or 0) / 1000)
        if self.emu.player.take_timed(index):
            await self.apply_fault(fault)

    async def _stream_limit(self) -> None:
        await asyncio.sleep(self.emu.stream_limit_s)
        self.emu.record("emulator.stream_limit", {"seconds": self.emu.stream_limit_s}, self.number)
        await self.send_exception("modelTimeoutException", TIMEOUT_MESSAGE)

    async def _idle_timeout(self) -> None:
        limit = self.emu.idle_timeout_s or 0.0
        while True:
            wait = self.last_input_at + limit - time.monotonic()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        self.emu.record("emulator.idle_timeout", {"seconds": limit}, self.number)
        await self.send_exception("validationException", IDLE_MESSAGE)


def _http_status(code: int | str | None) -> int | None:
    if isinstance(code, int) and 400 <= code < 600:
        return code
    if isinstance(code, str) and code.startswith("http:") and code[5:].isdigit():
        return int(code[5:])
    return None


def _exception_member(code: int | str | None) -> tuple[str, int]:
    """The output-union exception member for a fault code (a member name, an HTTP status, or anything
    else → internalServerException)."""
    if isinstance(code, str):
        member = EXCEPTION_TYPES.get(code.lower()) or EXCEPTION_TYPES.get(code.lower().removeprefix("http:"))
        if member is not None:
            return member, {v: k for k, v in STATUS_EXCEPTIONS.items()}.get(member, 500)
    status = _http_status(code)
    if status is not None:
        return STATUS_EXCEPTIONS.get(status, "internalServerException"), status
    return "internalServerException", 500
