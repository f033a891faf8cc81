"""realtime-openai 0.2's emulator connection, kept for realtime-qwen 0.2's emulator only (see
:mod:`realtime_openai.compat`); realtime-openai's own emulator stands on :mod:`realtime_core.emulator`.

One emulated Realtime connection: session state, input buffer and VAD, conversation, responses, faults.

The reader processes client events in order (as the server does); responses stream in their own task so a
cancel, a truncate or more audio can arrive while a reply is being generated. Every client event is
recorded on the emulator; the protocol-neutral facts (:data:`realtime_core.emulator.FACTS`) are noted
where the protocol carries them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from realtime_core import PcmData
from realtime_core.emulator import EnergyVad, Fault, PlannedReply, PlannedTurn, Reply, VadEvent, describe_speech
from realtime_openai_protocol.client_events import new_id, verbatim_text
from realtime_openai_protocol.emulator import (
    Conversation,
    Item,
    RequestError,
    image_info,
    invalid_type,
    invalid_value,
    missing,
    normalize_client_item,
    unknown_parameter,
)

from .emulator_responses import ResponseRun

if TYPE_CHECKING:
    from aiohttp import web

    from ..emulator.server import OpenAIEmulator

__all__ = ["EmulatedConnection"]

log = logging.getLogger("realtime_openai.emulator")
_MAX_APPEND_B64 = 15 * 1024 * 1024
_RESPONSE_KEYS = {
    "output_modalities", "instructions", "tools", "tool_choice", "max_output_tokens", "prompt",
    "audio", "conversation", "metadata", "input",
}  # fmt: skip
_SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 600, "auto": 600, "high": 300}


class EmulatedConnection:
    """State and behaviour of one WebSocket connection to the emulator."""

    max_append_b64: int | None = _MAX_APPEND_B64
    """The largest base64 ``audio`` one ``input_audio_buffer.append`` may carry (None: no limit)."""
    bad_audio_message = "Invalid 'audio'. Expected base64-encoded audio bytes (mono PCM16 at 24kHz)"
    """The error message for an ``audio`` that is not base64."""

    def __init__(
        self,
        emulator: OpenAIEmulator,
        ws: web.WebSocketResponse,
        request: web.Request,
        number: int,
        config: dict[str, Any],
    ) -> None:
        self.emu = emulator
        self.ws = ws
        self.request = request
        self.number = number
        self.dialect = emulator.dialect
        self._rate = emulator.input_sample_rate
        self._bytes_per_ms = self._rate * 2 / 1000
        self.config = config
        self.session_id = new_id("sess")
        self.conversation_id = new_id("conv")
        self.opened_at = time.monotonic()
        self.expires_at = int(time.time() + emulator.max_session_seconds)
        self.conversation = Conversation()
        self.closed = False
        self.audio_produced = False
        self.awaiting_calls: set[str] = set()
        self.response: ResponseRun | None = None
        self.responses_started = 0
        self.messages = 0
        self._buffer = bytearray()
        self._clock_ms = 0.0
        self._vad: EnergyVad | None = None
        self._vad_offset_ms = 0.0
        self._vad_key: Any = None
        self._speech_item: str | None = None
        self._pending_turn: PlannedTurn | None = None
        self._pending_text: str | None = None
        self._after_tools: PlannedReply | None = None
        self._tool_outputs = 0
        self._pending_transcription: tuple[str, str, float] | None = None
        self._restored_noted = False
        self._input_audio_ms = 0.0
        self._input_text_chars = 0
        self._images = 0
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._routes: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create,
            "conversation.item.retrieve": self._on_item_retrieve,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.truncate": self._on_item_truncate,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
            "output_audio_buffer.clear": self._on_output_audio_clear,
        }
        self._configure_vad()

    # ================================================================== lifecycle
    async def run(self) -> None:
        from aiohttp import WSMsgType

        self._spawn(self._expire_later(), "expiry")
        for index, fault in self.emu.player.timed_faults():
            self._spawn(self._timed_fault(index, fault), "timed-fault")
        try:
            await self.send({"type": "session.created", "session": self.session_echo()})
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self.send_error(
                        RequestError("invalid_value", "Binary frames are not supported; send JSON text frames.", None)
                    )
                if self.closed:
                    break
        finally:
            self.closed = True
            run = self.response
            tasks = [t for t in self._tasks if not t.done()]
            if run is not None and run.task is not None and not run.task.done():
                tasks.append(run.task)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"emulator-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, event: dict[str, Any]) -> None:
        """Send one server event (a fresh ``event_id`` first) and log it on the emulator."""
        if self.closed:
            return
        full = {"event_id": new_id("event"), **event}
        self.emu.log_server_event(self.number, full)
        text = json.dumps(full, separators=(",", ":"))
        async with self._send_lock:
            try:
                await self.ws.send_str(text)
            except Exception:  # the peer went away; the reader notices and ends the connection
                self.closed = True

    async def send_raw(self, text: str) -> None:
        async with self._send_lock:
            with contextlib.suppress(Exception):
                await self.ws.send_str(text)

    async def send_error(self, error: RequestError, event_id: str | None = None) -> None:
        await self.send({"type": "error", "error": error.payload(event_id)})

    async def close(self, code: int | None = None, message: str = "") -> None:
        """Close with a close frame (``code``), or drop the TCP connection when ``code`` is None."""
        if self.closed:
            return
        self.closed = True
        if code is None:
            transport = self.request.transport
            if transport is not None:
                transport.abort()
        else:
            with contextlib.suppress(Exception):
                await self.ws.close(code=code, message=message.encode()[:120])

    def session_echo(self) -> dict[str, Any]:
        return self.emu.schema.echo(self.config, self.session_id, self.expires_at)

    # ================================================================== client events
    async def _on_text(self, raw: str) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            await self.send_error(
                RequestError("invalid_json", "We could not parse the JSON body of your request.", None)
            )
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):  # pyright: ignore[reportUnknownMemberType]
            kind = "?"
        else:
            kind = event["type"]
        self.emu.record(kind, event, self.number)
        self.messages += 1
        for fault in self.emu.player.faults_for_message(self.messages):
            await self.apply_fault(fault)
            if self.closed:
                return
        if kind == "?":
            await self.send_error(missing("type"))
            return
        msg: dict[str, Any] = event  # pyright: ignore[reportUnknownVariableType]
        route = self._routes.get(kind)
        event_id = msg.get("event_id")
        try:
            if route is None:
                raise invalid_value("type", kind, sorted(self._routes))
            await route(msg)
        except RequestError as exc:
            await self.send_error(exc, event_id if isinstance(event_id, str) else None)

    async def _on_session_update(self, msg: dict[str, Any]) -> None:
        if "session" not in msg:
            raise missing("session")
        self.config = self.emu.schema.apply_update(self.config, msg["session"], audio_produced=self.audio_produced)
        self._configure_vad()
        await self.send({"type": "session.updated", "session": self.session_echo()})

    # ------------------------------------------------------------------ input audio
    async def _on_append(self, msg: dict[str, Any]) -> None:
        data = self._appended_audio(msg)
        if data:
            await self.feed_audio(PcmData.from_bytes(data, self._rate))

    def _appended_audio(self, msg: dict[str, Any]) -> bytes:
        """The PCM of an ``input_audio_buffer.append`` (a trailing odd byte dropped), or the request error."""
        audio = msg.get("audio")
        if not isinstance(audio, str):
            raise missing("audio") if audio is None else invalid_type("audio", "a string", audio)
        limit = self.max_append_b64
        if limit is not None and len(audio) > limit:
            raise RequestError("invalid_value", "Audio content exceeds the maximum of 15 MiB per append.", "audio")
        try:
            data = base64.b64decode(audio, validate=True)
        except binascii.Error:
            raise RequestError("invalid_value", self.bad_audio_message, "audio") from None
        return data[:-1] if len(data) % 2 else data

    async def feed_audio(self, pcm: PcmData) -> None:
        """User audio from any transport (``input_audio_buffer.append``, a WebRTC track), mono at the input
        rate: into the input buffer, onto the audio clock, through the VAD."""
        ms = pcm.duration_ms
        self.emu.audio_received_ms += ms
        self._clock_ms += ms
        self._buffer += pcm.samples.tobytes()
        if self._vad is not None:
            for vad_event in self._vad.process(pcm):
                await self._on_vad(vad_event)

    def _configure_vad(self) -> None:
        """(Re)build the energy VAD when the session's turn detection changed (none: manual turns)."""
        td = self._turn_detection()
        key = json.dumps(td, sort_keys=True)
        if key == self._vad_key:
            return
        self._vad_key = key
        if td is None:
            self._vad = None
            return
        threshold, silence, prefix, min_speech = self._vad_settings(td)
        self._vad = EnergyVad(
            self._rate, threshold=threshold, silence_ms=silence, prefix_ms=prefix, min_speech_ms=min_speech
        )
        self._vad_offset_ms = self._clock_ms

    def _vad_settings(self, td: dict[str, Any]) -> tuple[float, float, float, float]:
        """The energy VAD's (threshold, silence_ms, prefix_ms, min_speech_ms) for the turn detection ``td``."""
        scenario_vad = self.emu.scenario.vad
        if td["type"] == "server_vad":
            # OpenAI's threshold is a 0-1 sensitivity around 0.5; scale the scenario's RMS level with it
            threshold = max(1e-4, scenario_vad.threshold * (td["threshold"] / 0.5))
            return threshold, td["silence_duration_ms"], td["prefix_padding_ms"], scenario_vad.min_speech_ms
        return scenario_vad.threshold, _SEMANTIC_SILENCE_MS[td["eagerness"]], 300, scenario_vad.min_speech_ms

    def _turn_detection(self) -> dict[str, Any] | None:
        return self.config["audio"]["input"]["turn_detection"]

    async def _on_vad(self, vad_event: VadEvent) -> None:
        td = self._turn_detection() or {}
        at_ms = int(self._vad_offset_ms + vad_event.at_ms)
        if vad_event.kind == "start":
            self._speech_item = new_id("item")
            await self.send(
                {"type": "input_audio_buffer.speech_started", "audio_start_ms": at_ms, "item_id": self._speech_item}
            )
            run = self.response
            if run is not None and not run.cancelled and td.get("interrupt_response", True):
                self.emu.note("barge_in", self.number, response_id=run.id)
                await run.cancel("turn_detected")
            return
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": at_ms, "item_id": item_id})
        speech = vad_event.speech
        turn = self.emu.player.next_turn("speech", speech=speech, speech_ms=vad_event.speech_ms)
        self._pending_turn = turn
        respond = bool(td.get("create_response", True)) and turn is not None and self.response is None
        audio = speech.to_bytes() if speech is not None else bytes(self._buffer)
        await self._commit(item_id, audio, vad_event.speech_ms, turn, respond=respond)
        if respond:
            await self._respond({})

    async def _on_commit(self, msg: dict[str, Any]) -> None:
        buffered_ms = len(self._buffer) / self._bytes_per_ms
        if buffered_ms < 100:
            if self.emu.commit_error_delay_ms:
                await asyncio.sleep(self.emu.commit_error_delay_ms / 1000)
            raise RequestError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {buffered_ms:.2f}ms of audio.",
                None,
            )
        audio = bytes(self._buffer)
        speech = PcmData.from_bytes(audio, self._rate)
        self._pending_turn = self.emu.player.next_turn("speech", speech=speech, speech_ms=speech.duration_ms)
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        if self._vad is not None:
            self._vad.reset()
        await self._commit(item_id, audio, speech.duration_ms, self._pending_turn, respond=False)

    async def _commit(
        self, item_id: str, audio: bytes, speech_ms: float, turn: PlannedTurn | None, *, respond: bool
    ) -> None:
        self._buffer = bytearray()
        self._input_audio_ms += len(audio) / self._bytes_per_ms
        data = {
            "id": item_id, "type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }  # fmt: skip
        prev = self.conversation.insert(Item(data, bytearray(audio), rate=self._rate))
        await self.send({"type": "input_audio_buffer.committed", "previous_item_id": prev, "item_id": item_id})
        await self.send({"type": self.dialect.item_added, "previous_item_id": prev, "item": dict(data)})
        if self.dialect.item_done:
            await self.send({"type": self.dialect.item_done, "previous_item_id": prev, "item": dict(data)})
        if self.config["audio"]["input"]["transcription"] is None:
            return
        transcript = turn.user_transcript if turn is not None else describe_speech(speech_ms)[0]
        self._pending_transcription = (item_id, transcript, len(audio) / self._bytes_per_ms / 1000)
        if not respond or self.emu.transcription_timing == "before_response":
            await self._send_transcription()

    async def after_response_created(self) -> None:
        """Called by a response once ``response.created`` is out (transcripts may interleave after it)."""
        if self._pending_transcription is not None:
            await self._send_transcription()

    async def _send_transcription(self) -> None:
        pending, self._pending_transcription = self._pending_transcription, None
        if pending is None:
            return
        item_id, transcript, seconds = pending
        for piece in PlannedReply(transcript, None, 100, 0, 0).text_chunks():
            await self.send({
                "type": "conversation.item.input_audio_transcription.delta",
                "item_id": item_id, "content_index": 0, "delta": piece,
            })  # fmt: skip
        item = self.conversation.get(item_id)
        if item is not None:
            item.data["content"][0]["transcript"] = transcript
        self.remember_text(transcript)
        await self.send({
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": item_id, "content_index": 0, "transcript": transcript,
            **self._transcription_usage(transcript, seconds),
        })  # fmt: skip

    def _transcription_usage(self, transcript: str, seconds: float) -> dict[str, Any]:
        """The transcriber's ``usage`` (tokens for the gpt-4o/gpt-transcribe models, as captured)."""
        kind = self.emu.transcription_usage
        if kind == "duration":
            return {"usage": {"type": "duration", "seconds": round(seconds, 3)}}
        if kind != "tokens":
            return {}
        audio_tokens, text_tokens = max(1, int(seconds * 10)), 0
        output = max(1, len(transcript) // 4)
        return {"usage": {
            "type": "tokens", "total_tokens": audio_tokens + text_tokens + output, "input_tokens": audio_tokens + text_tokens,
            "input_token_details": {"text_tokens": text_tokens, "audio_tokens": audio_tokens}, "output_tokens": output,
        }}  # fmt: skip

    async def _on_clear(self, msg: dict[str, Any]) -> None:
        self._buffer = bytearray()
        self._speech_item = None
        if self._vad is not None:
            self._vad.reset()
        await self.send({"type": "input_audio_buffer.cleared"})

    # ------------------------------------------------------------------ conversation items
    async def _on_item_create(self, msg: dict[str, Any]) -> None:
        raw = msg.get("item")
        if raw is None:
            raise missing("item")
        item_id = raw.get("id") if isinstance(raw, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if item_id is not None and not isinstance(item_id, str):
            raise invalid_type("item.id", "a string", item_id)
        data, audio = normalize_client_item(raw, item_id or new_id("item"))
        previous = msg.get("previous_item_id")
        if previous is not None and not isinstance(previous, str):
            raise invalid_type("previous_item_id", "a string", previous)
        image = None
        for part in data.get("content", ()):
            if part["type"] == "input_image":
                image = image_info(part["image_url"], "item.content.image_url")
        prev = self.conversation.insert(Item(data, bytearray(audio), rate=self._rate), previous)
        await self.send({"type": self.dialect.item_added, "previous_item_id": prev, "item": dict(data)})
        if self.dialect.item_done:
            await self.send({"type": self.dialect.item_done, "previous_item_id": prev, "item": dict(data)})
        self._input_audio_ms += len(audio) / self._bytes_per_ms
        if self._is_replay(data):
            if not self._restored_noted:
                self._restored_noted = True
                self.emu.note("state_restored", self.number, how="history_replay")
            return
        if data["type"] == "function_call_output":
            self._tool_outputs += 1
            self.awaiting_calls.discard(data["call_id"])
            self.emu.note("tool_result", self.number, call_id=data["call_id"], output=data["output"])
        elif data["type"] == "message" and data["role"] == "user":
            for part in data["content"]:
                if part["type"] == "input_text":
                    self._input_text_chars += len(part["text"])
                    self._pending_text = part["text"]
                    self.remember_text(part["text"])
                    self.emu.note("text_in", self.number, text=part["text"])
            if image is not None:
                self._images += 1
                self.emu.note("video_frame", self.number, **image)

    def _is_replay(self, data: dict[str, Any]) -> bool:
        """An item carrying conversation from an earlier connection, before this one's first response."""
        if self.responses_started or self.number == 1:
            return False
        if data["type"] in ("function_call", "function_call_output"):
            return self.emu.seen_call(data.get("call_id"), self.number)
        return any(
            self.emu.seen_text(part.get("text"), self.number)
            for part in data.get("content", ())
            if part["type"] in ("input_text", "output_text")
        )

    async def _on_item_retrieve(self, msg: dict[str, Any]) -> None:
        item = self.conversation.get(msg.get("item_id"))
        if item is None:
            raise RequestError(
                "item_retrieve_invalid_item_id",
                f"Error retrieving item: the item with id '{msg.get('item_id')}' does not exist.",
                None,
            )
        await self.send({"type": "conversation.item.retrieved", "item": item.with_audio()})

    async def _on_item_delete(self, msg: dict[str, Any]) -> None:
        item_id = msg.get("item_id")
        if self.conversation.get(item_id) is None:
            raise RequestError(
                "item_delete_invalid_item_id",
                f"Error deleting item: the item with id '{item_id}' does not exist.",
                None,
            )
        self.conversation.delete(str(item_id))
        await self.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def _on_item_truncate(self, msg: dict[str, Any]) -> None:
        item_id = msg.get("item_id")
        item = self.conversation.get(item_id)
        if item is None or not item.is_assistant_message:
            raise RequestError(
                "item_truncate_invalid_item_id",
                f"Error truncating item: the item with id '{item_id}' does not exist or is not an assistant message.",
                None,
            )
        content_index = msg.get("content_index")
        if content_index != 0:
            raise invalid_value("content_index", content_index, (0,))
        end_ms = msg.get("audio_end_ms")
        if isinstance(end_ms, bool) or not isinstance(end_ms, int):
            raise invalid_type("audio_end_ms", "an integer", end_ms)
        if end_ms < 0:
            raise RequestError(
                "integer_below_min_value", "Invalid 'audio_end_ms': integer below minimum value.", "audio_end_ms"
            )
        if end_ms > item.audio_ms:
            raise RequestError(
                self.emu.truncate_error_code,
                f"Audio content of {item.audio_ms:.0f}ms is already shorter than {end_ms}ms",
                "audio_end_ms",
            )
        self.emu.note("truncate", self.number, item_id=item_id, audio_end_ms=end_ms, sent_ms=item.sent_ms)
        del item.audio[int(end_ms * item.rate / 500) :]  # 2 bytes per sample
        content = item.data.get("content") or []
        if content:
            content[0]["transcript"] = ""  # the server drops the transcript of a truncated part
        await self.send(
            {"type": "conversation.item.truncated", "item_id": item_id, "content_index": 0, "audio_end_ms": end_ms}
        )

    # ------------------------------------------------------------------ responses
    async def _on_response_create(self, msg: dict[str, Any]) -> None:
        params = msg.get("response") or {}
        if not isinstance(params, dict):
            raise invalid_type("response", "an object", params)
        response: dict[str, Any] = params  # pyright: ignore[reportUnknownVariableType]
        for key in response:
            if key not in _RESPONSE_KEYS:
                raise unknown_parameter(f"response.{key}")
        conversation = response.get("conversation", "auto")
        if conversation not in ("auto", "none"):
            raise invalid_value("response.conversation", conversation, ("auto", "none"))
        if "output_modalities" in response and response["output_modalities"] not in (["audio"], ["text"]):
            raise invalid_value("response.output_modalities", response["output_modalities"], (["audio"], ["text"]))
        metadata = response.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16):  # pyright: ignore[reportUnknownArgumentType]
            raise invalid_type("response.metadata", "an object of at most 16 string pairs", metadata)
        if conversation != "none" and self.response is not None:
            raise RequestError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.response.id}. "
                "Wait until the response is finished before creating a new one.",
                None,
            )
        self.emu.note("response_requested", self.number)
        await self._respond(response)

    async def _respond(self, params: dict[str, Any]) -> None:
        """Start a response for the newest unanswered input (or a say, or the after-tools reply)."""
        reply, turn_index = self._plan_reply(params)
        run = self._new_run(reply, turn_index, params)
        if run.in_conversation:
            self.response = run
        self.responses_started += 1
        run.start()

    def _plan_reply(self, params: dict[str, Any]) -> tuple[PlannedReply, int | None]:
        """The reply ``response.create`` asks for, and its scenario turn: a say (``say()`` sends the text
        as per-response instructions), else :meth:`_next_reply`."""
        said = verbatim_text(params.get("instructions"))
        if said is None:
            return self._next_reply()
        self.emu.note("say", self.number, text=said)
        self._tool_outputs = 0
        return self.emu.player.render(Reply(text=said)), None

    def _next_reply(self) -> tuple[PlannedReply, int | None]:
        """The reply to what came in since the last response, and its scenario turn: the turn's
        after-tools reply once tool outputs arrived ("Done." if the scenario has none), else the next turn
        for the pending speech or text (an empty reply when the scenario has no more turns)."""
        player = self.emu.player
        turn_index: int | None = None
        if self._after_tools is not None and self._tool_outputs:
            reply, self._after_tools = self._after_tools, None
        elif self._tool_outputs and not self._pending_turn and not self._pending_text:
            reply = player.render(Reply(text="Done."))
        else:
            turn = self._pending_turn
            if turn is None:
                turn = player.next_turn("text", text=self._pending_text or "")
            self._pending_turn = None
            self._pending_text = None
            if turn is None:
                reply = PlannedReply("", None, 100, 0, 0)
            else:
                reply, turn_index = self._deliverable(turn.reply), turn.index
                self._after_tools = turn.after_tools if reply.tool_calls else None
        self._tool_outputs = 0
        return reply, turn_index

    def _deliverable(self, reply: PlannedReply) -> PlannedReply:
        """``reply`` as this connection's model can give it (a dialect's model may not call tools)."""
        return reply

    def _new_run(self, reply: PlannedReply, turn_index: int | None, params: dict[str, Any]) -> ResponseRun:
        """The response that streams ``reply``, shaped by the ``response.create`` parameters and the session."""
        output = self.config["audio"]["output"]
        modality = (params.get("output_modalities") or self.config["output_modalities"])[0]
        return ResponseRun(
            self,
            reply,
            turn_index=turn_index,
            modality=modality,
            voice=((params.get("audio") or {}).get("output") or {}).get("voice", output["voice"]),
            max_output_tokens=params.get("max_output_tokens", self.config["max_output_tokens"]),
            metadata=params.get("metadata"),
            in_conversation=params.get("conversation", "auto") != "none",
        )

    def response_finished(self, run: ResponseRun) -> None:
        if self.response is run:
            self.response = None

    async def _on_response_cancel(self, msg: dict[str, Any]) -> None:
        run = self.response
        wanted = msg.get("response_id")
        if run is None or run.cancelled or (wanted and wanted != run.id):
            raise RequestError("response_cancel_not_active", "Cancellation failed: no active response found", None)
        self.emu.note("cancel", self.number, response_id=run.id)
        await run.cancel("client_cancelled")

    async def _on_output_audio_clear(self, msg: dict[str, Any]) -> None:
        raise RequestError(
            "invalid_value", "output_audio_buffer.clear is only supported on WebRTC and SIP connections.", "type"
        )

    # ------------------------------------------------------------------ bookkeeping for responses
    def started_audio(self, response_id: str) -> None:
        """A response began its audio part (WebRTC would send ``output_audio_buffer.started`` here)."""

    def remember_text(self, text: str) -> None:
        self.emu.remember_text(text, self.number)

    def remember_call(self, call_id: str) -> None:
        self.emu.remember_call(call_id, self.number)

    def input_tokens(self) -> dict[str, int]:
        text = self._input_text_chars // 4 + len(self.conversation) * 4
        audio = int(self._input_audio_ms / 100)
        image = self._images * 85
        return {"text": text, "audio": audio, "image": image, "total": text + audio + image}

    def rate_limits_event(self) -> dict[str, Any]:
        used = self.emu.responses_total = self.emu.responses_total + 1
        return {
            "type": "rate_limits.updated",
            "rate_limits": [
                {"name": "requests", "limit": 5000, "remaining": max(0, 5000 - used), "reset_seconds": 0.012},
                {"name": "tokens", "limit": 400000, "remaining": max(0, 400000 - 250 * used), "reset_seconds": 0.15},
            ],
        }

    # ================================================================== faults and expiry
    async def apply_turn_faults(self, turn_index: int, phase: str) -> bool:
        for fault in self.emu.player.faults_for_turn(turn_index, phase):
            await self.apply_fault(fault)
        return self.closed

    async def _timed_fault(self, index: int, fault: Fault) -> None:
        await asyncio.sleep((fault.after_ms or 0) / 1000)
        if not self.closed and self.emu.player.take_timed(index):
            await self.apply_fault(fault)

    async def apply_fault(self, fault: Fault) -> None:
        kind = fault.kind
        if kind == "close":
            await self.close(int(fault.code) if fault.code is not None else None, fault.message or "")
        elif kind == "error":
            code = str(fault.code) if fault.code is not None else "server_error"
            error = RequestError(
                code,
                fault.message or "The server had an error while processing your request. Sorry about that!",
                None,
                kind="server_error" if code == "server_error" else "invalid_request_error",
            )
            await self.send_error(error)
        elif kind == "malformed":
            await self.send_raw('{"type": "response.output_audio.delta", "delta": "AAAA')  # cut-off JSON
        elif kind == "delay":
            await asyncio.sleep(fault.delay_ms / 1000)
        elif kind == "expire":
            await self.expire()
        elif kind == "go_away":
            # OpenAI has no go-away message: the closest is the server going away with close code 1001.
            await self.close(1001, fault.message or "going away")

    async def _expire_later(self) -> None:
        await asyncio.sleep(self.emu.max_session_seconds)
        await self.expire()

    async def expire(self) -> None:
        minutes = self.emu.max_session_seconds / 60
        await self.send_error(
            RequestError("session_expired", f"Your session hit the maximum duration of {minutes:g} minutes.", None)
        )
        await self.close(self.emu.expire_close_code, "session expired")
