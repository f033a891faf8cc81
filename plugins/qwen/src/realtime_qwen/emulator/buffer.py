"""The input audio buffer of one emulated DashScope connection: the protocol's buffer events, DashScope's rules.

Shared with the OpenAI-style connection: appends, the energy VAD on the audio clock, speech started/stopped,
barge-in, ``input_audio_buffer.cleared``. DashScope's own: a 15 MiB buffer, commits refused in VAD mode
("Internal service error: null", as observed), committed user items with the images that rode on them,
and the user's transcripts: ``completed`` (after ``response.created``, as observed, or later with
``transcription_delay_ms``), ``text``/``stash`` previews on qwen3.5/3.8, and the switches for what real
traffic may add (``language``/``emotion``, ``obfuscation``) or do instead (``.failed`` with an ``error``).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any

from realtime_core import PcmData
from realtime_core.emulator import PlannedTurn, describe_speech
from realtime_openai_protocol.client_events import new_id
from realtime_openai_protocol.emulator import InputBufferEvents, Item, RequestError

if TYPE_CHECKING:
    from .connection import QwenConnection

__all__ = ["DashScopeInputBuffer"]

MAX_BUFFER_BYTES = 15 * 1024 * 1024


class DashScopeInputBuffer(InputBufferEvents):
    """See the module docstring."""

    def __init__(self, conn: QwenConnection) -> None:
        super().__init__(conn)
        self.qwen = conn

    async def on_append(self, msg: dict[str, Any]) -> None:
        conn = self.qwen
        audio = msg.get("audio")
        if isinstance(audio, str) and len(conn.input.buffer) + len(audio) * 3 // 4 > MAX_BUFFER_BYTES:
            raise RequestError("invalid_value", "The input audio buffer exceeds 15 MiB; commit or clear it.", "audio")
        await super().on_append(msg)
        if audio:
            conn.audio_since_commit = True
            conn.user_activity()

    async def on_commit(self, msg: dict[str, Any]) -> None:
        conn = self.qwen
        if conn.view.turn_detection is not None:
            # what a manual commit got with VAD enabled (observed, both VAD types)
            raise RequestError(None, "Internal service error: null", None, kind="server_error")
        if not conn.input.buffer:
            raise RequestError("invalid_value", "Error committing input audio buffer: the buffer is empty.", None)
        audio = conn.input.take(reset_vad=True)
        speech = PcmData.from_bytes(audio, conn.input.rate)
        conn.input.speech_item = None
        self.pending_turn = conn.player.next_turn("speech", speech=speech, speech_ms=speech.duration_ms)
        await self.commit(new_id("item"), audio, speech.duration_ms, self.pending_turn, respond=False)

    async def commit(self, item_id: str, audio: bytes, speech_ms: float, turn: PlannedTurn | None, *, respond: bool) -> None:
        conn = self.qwen
        conn.audio_since_commit = False
        images, conn.pending_images = conn.pending_images, []
        conn.items.input_audio_ms += len(audio) * 500 / conn.input.rate
        content: list[dict[str, Any]] = [{"type": "input_audio"}, *({"type": "input_image"} for _ in images)]
        data = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user", "content": content}
        conn.conversation.insert(Item(data, bytearray(audio), rate=conn.input.rate))
        await conn.send({"type": "input_audio_buffer.committed", "item_id": item_id})
        await conn.send({"type": "conversation.item.created", "item": dict(data)})
        if not conn.view.transcription:
            return
        if not respond and conn.view.turn_detection is None and not conn.emulator.transcribe_manual_turns:
            return  # observed on some models: no transcript for manual commits
        transcript = turn.user_transcript if turn is not None else describe_speech(speech_ms)[0]
        self.pending_transcript = (item_id, transcript, len(audio) * 500 / conn.input.rate / 1000)
        if not respond or conn.emulator.transcription_timing == "before_response":
            await self.send_transcription()

    async def on_clear(self, msg: dict[str, Any]) -> None:
        conn = self.qwen
        conn.audio_since_commit = False
        conn.pending_images = []
        await super().on_clear(msg)

    async def send_transcription(self) -> None:
        pending, self.pending_transcript = self.pending_transcript, None
        if pending is None:
            return
        delay = self.qwen.emulator.transcription_delay_ms
        if delay > 0:
            self.qwen.spawn(self._transcribe_later(pending[:2], delay / 1000), "transcription")
        else:
            await self._transcribe(pending[:2])

    async def _transcribe_later(self, pending: tuple[str, str], delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self._transcribe(pending)

    async def _transcribe(self, pending: tuple[str, str]) -> None:
        conn, emulator = self.qwen, self.qwen.emulator
        item_id, transcript = pending
        ids = {"item_id": item_id, "content_index": 0}
        if emulator.transcription_failure:
            error = {"code": "InternalError.Algo", "message": "Transcription failed.", "param": None}
            await conn.send({"type": "conversation.item.input_audio_transcription.failed", **ids, "error": error})
            return
        extras = self._extras()
        if emulator.transcription_deltas(conn.profile):
            words = transcript.split(" ")
            for i in range(1, len(words)):  # previews: the confirmed words, then the tentative next one
                preview = {"text": " ".join(words[:i]), "stash": " " + words[i]}
                await conn.send({"type": "conversation.item.input_audio_transcription.delta", **ids, **preview, **extras})
        conn.remember_text(transcript)
        await conn.send({"type": "conversation.item.input_audio_transcription.completed", **ids, "transcript": transcript, **extras})

    def _extras(self) -> dict[str, Any]:
        """Fields real traffic may add to transcription events (switches; none is confirmed for Omni)."""
        emulator = self.qwen.emulator
        extras: dict[str, Any] = {}
        if emulator.transcription_extras:
            extras.update(language="en", emotion="neutral")
        if emulator.obfuscation:
            extras["obfuscation"] = secrets.token_urlsafe(6)
        return extras
