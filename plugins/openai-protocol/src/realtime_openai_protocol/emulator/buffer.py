"""The input audio buffer's events of one emulated connection: ``input_audio_buffer.append`` / ``commit`` /
``clear``, what the VAD and the idle timer notice (speech started/stopped, ``timeout_triggered``), the
committed user items, and the user's transcripts (with the transcriber's usage)."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import TYPE_CHECKING, Any

from realtime_core import PcmData
from realtime_core.emulator import PlannedReply, PlannedTurn, Reply, describe_speech

from ..client_events import new_id
from .conversation import Item
from .input import InputEvent
from .replies import obfuscated
from .wire import RequestError, invalid_type, missing

if TYPE_CHECKING:
    from .connection import OpenAIStyleConnection

__all__ = ["InputBufferEvents"]

_IDLE_PROMPT = "Are you still there?"


class InputBufferEvents:
    """See the module docstring.

    :ivar pending_turn: the scenario turn of the last commit that no reply answers yet.
    """

    def __init__(self, conn: OpenAIStyleConnection[Any]) -> None:
        self.conn = conn
        self.pending_turn: PlannedTurn | None = None
        self.pending_transcript: tuple[str, str, float] | None = None

    async def on_append(self, msg: dict[str, Any]) -> None:
        conn = self.conn
        audio = msg.get("audio")
        if not isinstance(audio, str):
            raise missing("audio") if audio is None else invalid_type("audio", "a string", audio)
        limit = conn.max_append_b64
        if limit is not None and len(audio) > limit:
            raise RequestError("invalid_value", "Audio content exceeds the maximum of 15 MiB per append.", "audio")
        try:
            data = base64.b64decode(audio, validate=True)
        except binascii.Error:
            raise RequestError("invalid_value", conn.bad_audio_message, "audio") from None
        if len(data) % 2:
            data = data[:-1]
        if data:
            await conn.feed_audio(PcmData.from_bytes(data, conn.emulator.input_sample_rate))

    async def on_input_event(self, event: InputEvent) -> None:
        conn = self.conn
        td = conn.view.turn_detection
        at_ms = int(event.at_ms)
        if event.kind == "start":
            conn.input.speech_item = new_id("item")
            await conn.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": at_ms, "item_id": conn.input.speech_item})
            if td is None or td.interrupt_response:
                await conn.barge_in()
            return
        if event.kind == "idle":
            await self.on_idle_timeout(at_ms)
            return
        vad = event.vad
        assert vad is not None
        item_id = conn.input.speech_item or new_id("item")
        conn.input.speech_item = None
        await conn.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": at_ms, "item_id": item_id})
        turn = conn.player.next_turn("speech", speech=vad.speech, speech_ms=vad.speech_ms)
        respond = td is not None and td.create_response and turn is not None and conn.turns.current is None
        audio = vad.speech.to_bytes() if vad.speech is not None else bytes(conn.input.buffer)
        conn.input.take()
        await self.commit(item_id, audio, vad.speech_ms, turn, respond=respond)
        if respond and turn is not None:
            conn.turns.abandon_tools()  # new input supersedes a turn still waiting for tool results
            conn.start_turn(turn, {"item_id": item_id})
        else:
            self.pending_turn = turn

    async def on_idle_timeout(self, at_ms: int) -> None:
        """``idle_timeout_ms`` of silence after a reply: commit what was heard and have the model speak up."""
        conn = self.conn
        item_id = new_id("item")
        start = max(0, at_ms - int(conn.input.buffered_ms))
        await conn.send({"type": "input_audio_buffer.timeout_triggered", "audio_start_ms": start, "audio_end_ms": at_ms, "item_id": item_id})
        audio = conn.input.take()
        await self.commit(item_id, audio, len(audio) * 500 / conn.input.rate, None, respond=True)
        if conn.turns.current is None:
            conn.turns.start_reply(conn.player.render(Reply(text=_IDLE_PROMPT)), {"item_id": item_id})

    async def on_commit(self, msg: dict[str, Any]) -> None:
        conn = self.conn
        buffered_ms = conn.input.buffered_ms
        if buffered_ms < 100:
            error = RequestError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {buffered_ms:.2f}ms of audio.",
                None,
            )
            delay = conn.emulator.commit_error_delay_ms / 1000
            if delay:  # as observed: the error comes a little later (never wait in the inbox)
                conn.spawn(self.late_error(delay, error, msg.get("event_id")), "late-error")
                return
            raise error
        audio = conn.input.take(reset_vad=True)
        speech = PcmData.from_bytes(audio, conn.input.rate)
        item_id = conn.input.speech_item or new_id("item")
        conn.input.speech_item = None
        self.pending_turn = conn.player.next_turn("speech", speech=speech, speech_ms=speech.duration_ms)
        await self.commit(item_id, audio, speech.duration_ms, self.pending_turn, respond=False)

    async def late_error(self, delay: float, error: RequestError, event_id: Any) -> None:
        conn = self.conn
        await asyncio.sleep(delay)
        await conn.send_request_error(error, event_id if isinstance(event_id, str) else None)

    async def commit(self, item_id: str, audio: bytes, speech_ms: float, turn: PlannedTurn | None, *, respond: bool) -> None:
        """The input buffer became a user item (a VAD stop, a manual commit, an idle timeout)."""
        conn = self.conn
        conn.items.input_audio_ms += len(audio) * 500 / conn.input.rate
        data = {"id": item_id, "type": "message", "role": "user", "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}]}  # fmt: skip
        prev = conn.conversation.insert(Item(data, bytearray(audio), rate=conn.input.rate))
        await conn.send({"type": "input_audio_buffer.committed", "previous_item_id": prev, "item_id": item_id})
        await conn.send({"type": conn.dialect.item_added, "previous_item_id": prev, "item": conn.writer.shown(data)})
        if conn.dialect.item_done:
            await conn.send({"type": conn.dialect.item_done, "previous_item_id": prev, "item": conn.writer.shown(data)})
        if not conn.view.transcription:
            return
        transcript = turn.user_transcript if turn is not None else describe_speech(speech_ms)[0]
        self.pending_transcript = (item_id, transcript, len(audio) * 500 / conn.input.rate / 1000)
        if not respond or conn.emulator.transcription_timing == "before_response":
            await self.send_transcription()

    async def on_clear(self, msg: dict[str, Any]) -> None:
        conn = self.conn
        conn.input.clear()
        await conn.send({"type": "input_audio_buffer.cleared"})

    async def send_transcription(self) -> None:
        """The user transcript of the last commit (deltas, then ``completed`` with the transcriber's usage)."""
        conn = self.conn
        pending, self.pending_transcript = self.pending_transcript, None
        if pending is None:
            return
        item_id, transcript, seconds = pending
        for piece in PlannedReply(transcript, None, 100, 0, 0).text_chunks():
            event = {"type": "conversation.item.input_audio_transcription.delta", "item_id": item_id, "content_index": 0, "delta": piece}
            await conn.send(obfuscated(event, conn.emulator.obfuscation))
        item = conn.conversation.get(item_id)
        if item is not None:
            item.data["content"][0]["transcript"] = transcript
        conn.remember_text(transcript)
        completed: dict[str, Any] = {"type": "conversation.item.input_audio_transcription.completed",
                                     "item_id": item_id, "content_index": 0, "transcript": transcript}  # fmt: skip
        completed["usage"] = self.transcription_usage(transcript, seconds)
        await conn.send(completed)

    def transcription_usage(self, transcript: str, seconds: float) -> dict[str, Any]:
        """The transcriber's ``usage``: tokens (as captured from the gpt-4o transcribers) or seconds."""
        if self.conn.emulator.transcription_usage == "duration":
            return {"type": "duration", "seconds": round(seconds, 3)}
        audio, output = max(1, int(seconds * 10)), max(1, len(transcript) // 4)
        return {"type": "tokens", "total_tokens": audio + output, "input_tokens": audio,
                "input_token_details": {"text_tokens": 0, "audio_tokens": audio}, "output_tokens": output}  # fmt: skip
