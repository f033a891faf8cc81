"""One emulated DashScope connection: realtime-openai's connection machinery with DashScope's rules.

Inherited: the reader (client events in order, recorded, faults), the energy VAD on the audio clock and its
turn flow (``speech_started`` → ``speech_stopped`` → commit → response, barge-in), response streaming,
scenario faults and timers. DashScope's own: the flat session, 16 kHz input, ``input_image_buffer.append``
(refused before audio since the last commit), commits refused in VAD mode, text input only on qwen3.5,
tool outputs with server-assigned item ids, ``session.finish``, user transcripts in DashScope's shape
(qwen3.5 streams ``text``/``stash`` previews), the idle close (code 1007) and the 120-minute cap.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import time
from typing import TYPE_CHECKING, Any

from realtime_core import PcmData
from realtime_core.emulator import PlannedReply, Reply, describe_speech
from realtime_openai.emulator.connection import EmulatedConnection
from realtime_openai.emulator.conversation import Item, image_info
from realtime_openai.emulator.wire import RequestError, invalid_type, missing
from realtime_openai.protocol import new_id

from ..models import ModelProfile
from .responses import QwenResponseRun
from .schema import VoiceRefused

if TYPE_CHECKING:
    from aiohttp import web

    from .server import QwenEmulator

__all__ = ["QwenConnection"]

_MAX_BUFFER_BYTES = 15 * 1024 * 1024
_SEMANTIC_SILENCE_MS = 600
_SEMANTIC_MIN_SPEECH_MS = 400  # back-channels ("mm-hm") are shorter and do not start a turn


class QwenConnection(EmulatedConnection):
    """State and behaviour of one WebSocket connection to the Qwen emulator."""

    emu: QwenEmulator
    max_append_b64 = None  # DashScope limits the buffer (15 MiB), not one append
    bad_audio_message = "Invalid audio: expected base64-encoded PCM16 mono audio at 16 kHz."

    def __init__(
        self,
        emulator: QwenEmulator,
        ws: web.WebSocketResponse,
        request: web.Request,
        number: int,
        config: dict[str, Any],
        *,
        profile: ModelProfile,
    ) -> None:
        self.profile = profile
        super().__init__(emulator, ws, request, number, config)
        self._routes = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "input_image_buffer.append": self._on_image,
            "conversation.item.create": self._on_item_create,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
            "session.finish": self._on_session_finish,
        }
        self._created_sent = False
        self._audio_since_commit = 0
        self._pending_images: list[dict[str, Any]] = []
        self._image_tokens = 0
        self._last_image_at: float | None = None
        self._last_activity = time.monotonic()
        self.finished = False
        self._spawn(self._idle_watch(), "idle")

    # ================================================================== session
    def session_echo(self) -> dict[str, Any]:
        schema = self.emu.dashscope_schema
        if not self._created_sent:  # the first call is for session.created, which shows a subset
            self._created_sent = True
            return schema.created(self.config, self.session_id)
        return schema.echo(self.config, self.session_id, 0)

    async def _on_session_update(self, msg: dict[str, Any]) -> None:
        if "session" not in msg:
            raise missing("session")
        try:
            self.config = self.emu.schema.apply_update(self.config, msg["session"], audio_produced=self.audio_produced)
        except VoiceRefused as exc:
            await self.send_error(exc)
            await self.close(1007, "Voice not supported")
            return
        self._configure_vad()
        await self.send({"type": "session.updated", "session": self.session_echo()})

    def _turn_detection(self) -> dict[str, Any] | None:
        return self.config["turn_detection"]

    def _vad_settings(self, td: dict[str, Any]) -> tuple[float, float, float, float]:
        scenario_vad = self.emu.scenario.vad
        if td["type"] == "server_vad":
            # DashScope's threshold runs from -1 (most sensitive) to 1; 0.5 is the scenario's RMS level
            threshold = max(1e-4, scenario_vad.threshold * 2 ** ((td["threshold"] - 0.5) * 3))
            return threshold, td["silence_duration_ms"], td["prefix_padding_ms"], scenario_vad.min_speech_ms
        min_speech = max(scenario_vad.min_speech_ms, _SEMANTIC_MIN_SPEECH_MS)
        return scenario_vad.threshold, _SEMANTIC_SILENCE_MS, 300, min_speech

    # ================================================================== input
    async def _on_append(self, msg: dict[str, Any]) -> None:
        data = self._appended_audio(msg)
        if not data:
            return
        if len(self._buffer) + len(data) > _MAX_BUFFER_BYTES:
            raise RequestError("invalid_value", "The input audio buffer exceeds 15 MiB; commit or clear it.", "audio")
        self._audio_since_commit += len(data)
        if self.emu.idle_reason == "no_input":
            self._last_activity = time.monotonic()
        await self.feed_audio(PcmData.from_bytes(data, self._rate))

    async def _on_image(self, msg: dict[str, Any]) -> None:
        image = msg.get("image")
        if not isinstance(image, str):
            raise missing("image") if image is None else invalid_type("image", "a string", image)
        if not self._audio_since_commit:
            # observed wording; type invalid_request_error with empty code and param
            raise RequestError("", "Error append image before append audio.", "")
        if len(image) > self.emu.max_image_b64_bytes:
            raise RequestError(
                "invalid_value", f"The image exceeds {self.emu.max_image_b64_bytes // 1024} KB after base64 encoding.", "image"
            )
        try:
            raw = base64.b64decode(image, validate=True)
        except binascii.Error:
            raise RequestError("invalid_value", "Invalid image: expected base64-encoded JPEG data.", "image") from None
        if raw[:2] != b"\xff\xd8":
            raise RequestError("invalid_value", "Invalid image: only JPG/JPEG images are supported.", "image")
        try:
            info = image_info(f"data:image/jpeg;base64,{image}", "image")
        except RequestError:
            raise RequestError("invalid_value", "Invalid image: the JPEG data cannot be read.", "image") from None
        if max(info["width"], info["height"]) > 1920 or min(info["width"], info["height"]) > 1080:
            raise RequestError("invalid_value", "The image resolution exceeds 1080p.", "image")
        now = time.monotonic()
        limit = self.emu.max_image_fps
        if limit and self._last_image_at is not None and now - self._last_image_at < 1.0 / limit:
            raise RequestError("invalid_value", f"Images arrive faster than {limit:g} per second.", "image")
        self._last_image_at = now
        self._pending_images.append(info)
        pixels = info["width"] * info["height"]
        self._image_tokens += max(4, min(1280, pixels // self.profile.image_token_pixels))
        self.emu.note("video_frame", self.number, jpeg=True, **info)

    async def _on_commit(self, msg: dict[str, Any]) -> None:
        if self._turn_detection() is not None:
            # what a manual commit got with VAD enabled (observed, both VAD types)
            raise RequestError(None, "Internal service error: null", None, kind="server_error")
        if not self._buffer:
            raise RequestError("invalid_value", "Error committing input audio buffer: the buffer is empty.", None)
        audio = bytes(self._buffer)
        speech = PcmData.from_bytes(audio, self._rate)
        self._pending_turn = self.emu.player.next_turn("speech", speech=speech, speech_ms=speech.duration_ms)
        await self._commit(new_id("item"), audio, speech.duration_ms, self._pending_turn, respond=False)

    async def _commit(self, item_id: str, audio: bytes, speech_ms: float, turn: Any, *, respond: bool) -> None:
        self._buffer = bytearray()
        self._audio_since_commit = 0
        images, self._pending_images = self._pending_images, []
        self._input_audio_ms += len(audio) / self._bytes_per_ms
        content: list[dict[str, Any]] = [{"type": "input_audio"}]
        content += [{"type": "input_image"} for _ in images]
        data = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user", "content": content}
        self.conversation.insert(Item(data, bytearray(audio), rate=self._rate))
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id})
        await self.send({"type": "conversation.item.created", "item": dict(data)})
        if self.config["input_audio_transcription"] is None:
            return
        if not respond and self._turn_detection() is None and not self.emu.transcribe_manual_turns:
            return  # observed on some models: no transcript for manual commits
        transcript = turn.user_transcript if turn is not None else describe_speech(speech_ms)[0]
        self._pending_transcription = (item_id, transcript, len(audio) / self._bytes_per_ms / 1000)
        if not respond or self.emu.transcription_timing == "before_response":
            await self._send_transcription()

    async def _send_transcription(self) -> None:
        pending, self._pending_transcription = self._pending_transcription, None
        if pending is None:
            return
        delay = self.emu.transcription_delay_ms
        if delay > 0:
            self._spawn(self._transcribe_later(pending, delay / 1000), "transcription")
        else:
            await self._transcribe(pending)

    async def _transcribe_later(self, pending: tuple[str, str, float], delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self._transcribe(pending)

    async def _transcribe(self, pending: tuple[str, str, float]) -> None:
        item_id, transcript, _ = pending
        if self.emu.transcription_deltas(self.profile):
            words = transcript.split(" ")
            for i in range(1, len(words)):  # previews: the confirmed words, then the tentative next one
                await self.send({
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id, "content_index": 0,
                    "text": " ".join(words[:i]), "stash": " " + words[i],
                })  # fmt: skip
        self.remember_text(transcript)
        await self.send({
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": item_id, "content_index": 0, "transcript": transcript,
        })  # fmt: skip

    async def _on_clear(self, msg: dict[str, Any]) -> None:
        self._audio_since_commit = 0
        self._pending_images = []
        await super()._on_clear(msg)

    # ================================================================== items
    async def _on_item_create(self, msg: dict[str, Any]) -> None:
        raw = msg.get("item")
        if not isinstance(raw, dict):
            raise missing("item") if raw is None else invalid_type("item", "an object", raw)
        item: dict[str, Any] = raw  # pyright: ignore[reportUnknownVariableType]
        kind = item.get("type")
        item_id = new_id("item")  # Omni replaces client-supplied ids
        if kind == "function_call_output":
            call_id, output = item.get("call_id"), item.get("output")
            if not isinstance(call_id, str) or not call_id:
                raise missing("item.call_id")
            if not isinstance(output, str):
                raise invalid_type("item.output", "a string", output)
            data = {
                "id": item_id, "object": "realtime.item", "type": kind, "status": "completed",
                "call_id": call_id, "output": output,
            }  # fmt: skip
            self.conversation.insert(Item(data))
            await self.send({"type": "conversation.item.created", "item": dict(data)})
            self._tool_outputs += 1
            self.awaiting_calls.discard(call_id)
            self.emu.note("tool_result", self.number, call_id=call_id, output=output)
            return
        if kind == "message":
            if item.get("role") != "user":
                raise RequestError("invalid_value", "Only user messages can be created.", "item.role")
            if not self.profile.text_input:
                raise RequestError("invalid_value", f"Text input is not supported by model {self.profile.name}.", "item")
            content = item.get("content")
            if not isinstance(content, list) or not content:
                raise missing("item.content")
            texts: list[str] = []
            for i, part in enumerate(content):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
                if not isinstance(part, dict) or part.get("type") != "input_text":  # pyright: ignore[reportUnknownMemberType]
                    raise RequestError(
                        "invalid_value",
                        "Only input_text content is supported; send images with input_image_buffer.append.",
                        f"item.content[{i}].type",
                    )
                if not isinstance(part.get("text"), str):  # pyright: ignore[reportUnknownMemberType]
                    raise invalid_type(f"item.content[{i}].text", "a string", part.get("text"))  # pyright: ignore[reportUnknownMemberType]
                texts.append(part["text"])  # pyright: ignore[reportUnknownArgumentType]
            data = {
                "id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user",
                "content": [{"type": "input_text", "text": t} for t in texts],
            }  # fmt: skip
            self.conversation.insert(Item(data))
            await self.send({"type": "conversation.item.created", "item": dict(data)})
            text = " ".join(texts)
            self._input_text_chars += len(text)
            self._pending_text = text
            self.remember_text(text)
            self.emu.note("text_in", self.number, text=text)
            return
        raise RequestError(
            "invalid_value", f"Invalid item type {kind!r}: supported are 'message' and 'function_call_output'.", "item.type"
        )

    # ================================================================== responses
    async def _on_response_create(self, msg: dict[str, Any]) -> None:
        params = msg.get("response") or {}
        if not isinstance(params, dict):
            raise invalid_type("response", "an object", params)
        response: dict[str, Any] = params  # pyright: ignore[reportUnknownVariableType]
        for key in response:
            if key not in ("instructions", "modalities"):
                raise RequestError("invalid_value", f"Unknown parameter: 'response.{key}'.", f"response.{key}")
        if response.get("instructions") is not None and not isinstance(response["instructions"], str):
            raise invalid_type("response.instructions", "a string", response["instructions"])
        if "modalities" in response:
            self.emu.dashscope_schema.modalities(response["modalities"])
        if self._vad is not None and self._vad.speaking:
            raise RequestError("invalid_value", "Cannot create response while user is speaking.", None)
        if self.response is not None:  # unverified wording; the plugin never sends one while a reply runs
            raise RequestError("invalid_value", f"There is already an active response: {self.response.id}.", None)
        self.emu.note("response_requested", self.number)
        await self._respond(response)

    async def _respond(self, params: dict[str, Any]) -> None:
        await super()._respond(params)
        self._last_activity = time.monotonic()  # a response starting is activity (for the idle close)

    def _plan_reply(self, params: dict[str, Any]) -> tuple[PlannedReply, int | None]:
        return self._next_reply()  # DashScope has no say: instructions are only instructions

    def _deliverable(self, reply: PlannedReply) -> PlannedReply:
        if reply.tool_calls and not (self.profile.tools and self.config["tools"]):
            # qwen3-omni-flash accepts tools but never calls them; no model calls undeclared ones
            return self.emu.player.render(Reply(text=reply.text or "I cannot look that up."))
        return reply

    def _new_run(self, reply: PlannedReply, turn_index: int | None, params: dict[str, Any]) -> QwenResponseRun:
        modalities = params.get("modalities") or self.config["modalities"]
        return QwenResponseRun(
            self,
            reply,
            turn_index=turn_index,
            modality="audio" if "audio" in modalities else "text",
            voice=self.config["voice"],
            max_output_tokens=self.config.get("max_tokens"),
            metadata=None,
        )

    def response_finished(self, run: Any) -> None:
        super().response_finished(run)
        if self.emu.idle_reason == "no_response":
            self._last_activity = time.monotonic()

    async def _on_response_cancel(self, msg: dict[str, Any]) -> None:
        run = self.response
        if run is None or run.cancelled:
            raise RequestError("invalid_value", "Cancel failed: there is no active response.", None)
        self.emu.note("cancel", self.number, response_id=run.id)
        await run.cancel("client_cancelled")

    def usage(self, text_chars: int, audio_ms: float) -> dict[str, Any]:
        """``response.done`` usage in DashScope's shape (``input_tokens_details``...)."""
        rate = self.profile.audio_tokens_per_second
        text_in = self._input_text_chars // 4 + len(self.conversation) * 4
        audio_in = int(self._input_audio_ms / 1000 * rate)
        image_in = self._image_tokens
        text_out = text_chars // 4 + (1 if text_chars else 0)
        audio_out = int(audio_ms / 1000 * rate)
        inp, out = text_in + audio_in + image_in, text_out + audio_out
        details: dict[str, Any] = {"text_tokens": text_in, "audio_tokens": audio_in}
        if image_in:
            details["image_tokens"] = image_in
        return {
            "total_tokens": inp + out,
            "input_tokens": inp,
            "output_tokens": out,
            "input_tokens_details": details,
            "output_tokens_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    # ================================================================== the end of a session
    async def _on_session_finish(self, msg: dict[str, Any]) -> None:
        if self.emu.session_finish == "reject":
            raise RequestError("invalid_value", "invalid event type", "type")  # as reported on one model
        self.finished = True
        self.emu.note("session_finished", self.number, how="session.finish")
        await self.send({"type": "session.finished"})
        self._spawn(self._close_after_finish(), "finish")

    async def _close_after_finish(self) -> None:
        await asyncio.sleep(self.emu.finish_close_after_s)  # the client usually closes first
        await self.close(1000, "session finished")

    async def _idle_watch(self) -> None:
        limit = self.emu.idle_timeout_s
        if not limit:
            return
        while not self.closed:
            if self.response is not None and self.emu.idle_reason == "no_response":
                self._last_activity = time.monotonic()
            remaining = self._last_activity + limit - time.monotonic()
            if remaining <= 0:
                seconds = f"{limit:g}"
                what = "no response was generated" if self.emu.idle_reason == "no_response" else "no user input was received"
                self.emu.note_idle_close(self.number)
                await self.close(1007, f"Your session was closed because {what} for {seconds} seconds.")
                return
            await asyncio.sleep(min(remaining, 0.5))

    async def expire(self) -> None:
        """The 120-minute cap: the server ends the socket (no error event is documented)."""
        minutes = self.emu.max_session_seconds / 60
        with contextlib.suppress(Exception):
            await self.close(self.emu.expire_close_code, f"Session exceeded the maximum duration of {minutes:g} minutes.")
