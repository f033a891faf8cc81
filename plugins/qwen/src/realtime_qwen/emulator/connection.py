"""One emulated DashScope connection: the protocol's OpenAI-style connection with DashScope's rules.

From realtime-openai-protocol (on the core emulator framework): the inbox, faults, the turn template, the
input buffer's VAD and barge-in, the reply's events in the dialect's names. DashScope's own: the flat session
(:class:`~realtime_qwen.emulator.schema.DashScopeSchema`; an unsupported voice errors then closes),
``session.created`` showing a subset, 16 kHz input, ``input_image_buffer.append`` (refused before audio since
the last commit), text input only on qwen3.5/3.8, tool outputs with server-assigned item ids,
``response.create`` with ``instructions``/``modalities`` only, ``session.finish`` (answered with
``session.finished`` unless the model documents none), the idle close (code 1007) and the 120-minute cap.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from realtime_core.emulator import Fault, PlannedTurn, Reply, audio_format, tool_spec
from realtime_openai_protocol.client_events import new_id
from realtime_openai_protocol.emulator import (
    InputAudio,
    Item,
    OpenAIStyleConnection,
    RequestError,
    TurnDetection,
    image_info,
    invalid_type,
    missing,
)

from ..models import ModelProfile
from .buffer import DashScopeInputBuffer
from .replies import DashScopeReplyWriter
from .schema import VoiceRefused

if TYPE_CHECKING:
    from aiohttp import web

    from .server import QwenEmulator

__all__ = ["QwenConnection"]

_SEMANTIC_MIN_SPEECH_MS = 400  # back-channels ("mm-hm") are shorter and do not start a semantic VAD turn


class _DashScopeInput(InputAudio):
    """The shared input buffer's VAD; semantic VAD also ignores bursts shorter than a back-channel."""

    def configure(self, detection: TurnDetection | None) -> None:
        super().configure(detection)
        if detection is not None and detection.kind == "semantic_vad" and self._vad is not None:
            self._vad.min_speech_ms = max(self._vad.min_speech_ms, _SEMANTIC_MIN_SPEECH_MS)


class QwenConnection(OpenAIStyleConnection["QwenEmulator"]):
    """One WebSocket connection to the Qwen emulator (see the module docstring).

    :ivar audio_since_commit: audio arrived since the last commit or clear (an image is accepted).
    :ivar pending_images: images that ride on the next committed user item.
    """

    max_append_b64 = None  # DashScope limits the buffer (15 MiB), not one append
    bad_audio_message = "Invalid audio: expected base64-encoded PCM16 mono audio at 16 kHz."

    def __init__(
        self, emulator: QwenEmulator, request: web.Request, ws: Any, number: int, config: dict[str, Any], *, profile: ModelProfile
    ) -> None:
        self.profile = profile
        super().__init__(emulator, request, ws, number, config)
        self.writer = DashScopeReplyWriter(self)
        self.buffer = DashScopeInputBuffer(self)
        self.input = _DashScopeInput(emulator.input_sample_rate, emulator.scenario.vad)
        self.input.configure(self.view.turn_detection)
        self.routes = {
            "session.update": self.on_session_update,
            "input_audio_buffer.append": self.buffer.on_append,
            "input_audio_buffer.commit": self.buffer.on_commit,
            "input_audio_buffer.clear": self.buffer.on_clear,
            "input_image_buffer.append": self.on_image,
            "conversation.item.create": self.on_item_create,
            "response.create": self.on_response_create,
            "response.cancel": self.on_response_cancel,
            "session.finish": self.on_session_finish,
        }
        self.audio_since_commit = False
        self.pending_images: list[dict[str, Any]] = []
        self.image_tokens = 0
        self._last_image_at: float | None = None
        self._last_activity = time.monotonic()

    # ================================================================== session
    async def on_open(self) -> None:
        self.note_session()
        self.close_after_expiry()
        self.spawn(self._idle_watch(), "idle")
        await self.send({"type": "session.created", "session": self.emulator.dashscope_schema.created(self.config, self.session_id)})

    def note_session(self) -> None:
        """The ``session_configured`` fact: everything DashScope's session object carries, sampling included."""
        view, config = self.view, self.config
        self.note_config(
            model=view.model, instructions=view.instructions, voice=view.voice, output_modality=view.output_modality,
            tools=[tool_spec(str(t.get("name")), t.get("description"), t.get("parameters")) for t in view.tools],
            input_audio=audio_format(16000), output_audio=audio_format(24000),  # PCM16 whatever the label (pcm24: its rate)
            turn_detection="manual" if view.turn_detection is None else "server", input_transcription=view.transcription,
            temperature=config.get("temperature"), max_output_tokens=config.get("max_tokens"),
        )  # fmt: skip

    async def on_session_update(self, msg: dict[str, Any]) -> None:
        if "session" not in msg:
            raise missing("session")
        try:
            self.config = self.emulator.rules.apply_update(self.config, msg["session"], audio_produced=self.audio_produced)
        except VoiceRefused as exc:
            await self.send_request_error(exc, msg.get("event_id"))
            await self.close(1007, "Voice not supported")
            return
        self._configure()
        self.note_session()
        await self.send({"type": "session.updated", "session": self.session_echo()})

    # ================================================================== images
    async def on_image(self, msg: dict[str, Any]) -> None:
        image = msg.get("image")
        if not isinstance(image, str):
            raise missing("image") if image is None else invalid_type("image", "a string", image)
        if not self.audio_since_commit:
            # observed wording; type invalid_request_error with empty code and param
            raise RequestError("", "Error append image before append audio.", "")
        limit = self.emulator.max_image_b64_bytes
        if len(image) > limit:
            raise RequestError("invalid_value", f"The image exceeds {limit // 1024} KB after base64 encoding.", "image")
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
        now, fps = time.monotonic(), self.emulator.max_image_fps
        if fps and self._last_image_at is not None and now - self._last_image_at < 1.0 / fps:
            raise RequestError("invalid_value", f"Images arrive faster than {fps:g} per second.", "image")
        self._last_image_at = now
        self.pending_images.append(info)
        self.image_tokens += max(4, min(1280, info["width"] * info["height"] // self.profile.image_token_pixels))
        self.note("video_frame", jpeg=True, **info)

    # ================================================================== items
    async def on_item_create(self, msg: dict[str, Any]) -> None:
        raw = msg.get("item")
        if not isinstance(raw, dict):
            raise missing("item") if raw is None else invalid_type("item", "an object", raw)
        item: dict[str, Any] = raw  # pyright: ignore[reportUnknownVariableType]
        kind, item_id = item.get("type"), new_id("item")  # Omni replaces client-supplied ids
        if kind == "function_call_output":
            call_id, output = item.get("call_id"), item.get("output")
            if not isinstance(call_id, str) or not call_id:
                raise missing("item.call_id")
            if not isinstance(output, str):
                raise invalid_type("item.output", "a string", output)
            data = {"id": item_id, "object": "realtime.item", "type": kind, "status": "completed", "call_id": call_id, "output": output}
            self.conversation.insert(Item(data))
            await self.send({"type": "conversation.item.created", "item": dict(data)})
            self.items.tool_outputs += 1
            self.turns.tool_result(call_id, output)
            return
        if kind != "message":
            raise RequestError("invalid_value", f"Invalid item type {kind!r}: supported are 'message' and 'function_call_output'.", "item.type")
        if item.get("role") != "user":
            raise RequestError("invalid_value", "Only user messages can be created.", "item.role")
        if not self.profile.text_input:
            raise RequestError("invalid_value", f"Text input is not supported by model {self.profile.name}.", "item")
        texts = _input_texts(item.get("content"))
        data = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user",
                "content": [{"type": "input_text", "text": t} for t in texts]}  # fmt: skip
        self.conversation.insert(Item(data))
        await self.send({"type": "conversation.item.created", "item": dict(data)})
        text = " ".join(texts)
        self.items.input_text_chars += len(text)
        self.items.pending_text = text
        self.remember_text(text)
        self.note("text_in", text=text)

    # ================================================================== responses
    async def on_response_create(self, msg: dict[str, Any]) -> None:
        params = msg.get("response") or {}
        if not isinstance(params, dict):
            raise invalid_type("response", "an object", params)
        response: dict[str, Any] = params  # pyright: ignore[reportUnknownVariableType]
        for key in response:
            if key not in ("instructions", "modalities"):
                raise RequestError("invalid_value", f"Unknown parameter: 'response.{key}'.", f"response.{key}")
        if response.get("instructions") is not None and not isinstance(response["instructions"], str):
            raise invalid_type("response.instructions", "a string", response["instructions"])
        shaped: dict[str, Any] = {}  # DashScope has no say: instructions are only instructions
        if "modalities" in response:
            modalities = self.emulator.dashscope_schema.modalities(response["modalities"])
            shaped["output_modalities"] = ["audio"] if "audio" in modalities else ["text"]
        if self.input.speaking:
            raise RequestError("invalid_value", "Cannot create response while user is speaking.", None)
        current = self.turns.current
        if current is not None:  # unverified wording; the plugin never sends one while a reply runs
            raise RequestError("invalid_value", f"There is already an active response: {current.id}.", None)
        self.note("response_requested")
        self.respond(shaped)

    def start_turn(self, turn: PlannedTurn, context: Mapping[str, Any]) -> None:
        if turn.reply.tool_calls and not (self.profile.tools and self.config["tools"]):
            # qwen3-omni-flash accepts tools but never calls them; no model calls undeclared ones
            turn = dataclasses.replace(turn, reply=self.player.render(Reply(text=turn.reply.text or "I cannot look that up.")))
        super().start_turn(turn, context)

    async def after_response_created(self, reply: Any) -> None:
        await super().after_response_created(reply)
        if self.emulator.idle_reason == "no_response":
            self._last_activity = time.monotonic()  # a response starting is activity (for the idle close)

    async def on_response_cancel(self, msg: dict[str, Any]) -> None:
        current = self.turns.current
        if current is None or current.cancelled:
            raise RequestError("invalid_value", "Cancel failed: there is no active response.", None)
        self.note("cancel", response_id=current.id)
        await self.turns.cancel("client_cancelled")

    # ================================================================== the end of a session
    async def on_session_finish(self, msg: dict[str, Any]) -> None:
        emulator = self.emulator
        if emulator.session_finish == "reject":
            raise RequestError("invalid_value", "invalid event type", "type")  # as reported on one model
        self.note("session_finished", how="session.finish")
        if emulator.finish_acknowledged(self.profile):
            await self.send({"type": "session.finished"})
        self.close_after(emulator.finish_close_after_s, 1000, "session finished")  # the client usually closes first

    def user_activity(self) -> None:
        if self.emulator.idle_reason == "no_input":
            self._last_activity = time.monotonic()

    async def _idle_watch(self) -> None:
        limit = self.emulator.idle_timeout_s
        if not limit:
            return
        while not self.closed:
            if self.turns.current is not None and self.emulator.idle_reason == "no_response":
                self._last_activity = time.monotonic()
            remaining = self._last_activity + limit - time.monotonic()
            if remaining <= 0:
                what = "no response was generated" if self.emulator.idle_reason == "no_response" else "no user input was received"
                self.emulator.idle_closes += 1
                await self.close(1007, f"Your session was closed because {what} for {limit:g} seconds.")
                return
            await asyncio.sleep(min(remaining, 0.5))

    async def expire(self, fault: Fault) -> None:
        """The 120-minute cap: the server ends the socket (no error event is documented)."""
        minutes = self.emulator.max_session_seconds / 60
        await self.close(self.emulator.expire_close_code, f"Session exceeded the maximum duration of {minutes:g} minutes.")

    async def go_away(self, fault: Fault) -> None:
        """DashScope announces nothing: the closest it does is closing with 1001 (going away)."""
        await self.close(1001, fault.message or "going away")


def _input_texts(content: Any) -> list[str]:
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
        text = part.get("text")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if not isinstance(text, str):
            raise invalid_type(f"item.content[{i}].text", "a string", text)
        texts.append(text)
    return texts
