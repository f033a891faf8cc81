"""realtime-openai 0.2's emulator responses, kept for realtime-qwen 0.2's emulator only (see
:mod:`realtime_openai.compat`); realtime-openai's own emulator stands on :mod:`realtime_core.emulator`.

One response of the emulated model, streamed with the real event order (protocol notes §8.2, §8.6).

A :class:`ResponseRun` streams a :class:`~realtime_core.emulator.PlannedReply`: ``response.created``,
the message item (content part, interleaved transcript and audio deltas, the ``.done`` events), then one
``function_call`` item per tool call, then ``response.done`` with usage and ``rate_limits.updated``.
Cancellation (client ``response.cancel`` or a VAD barge-in) stops between deltas, closes the open parts
with status ``incomplete`` and ends with ``response.done`` status ``cancelled``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from typing import TYPE_CHECKING, Any

from realtime_core.emulator import PlannedReply
from realtime_openai_protocol.client_events import new_id
from realtime_openai_protocol.emulator import Item

if TYPE_CHECKING:
    from .emulator_connection import EmulatedConnection

__all__ = ["ResponseRun"]


class ResponseRun:
    """Streams one reply; see the module docstring.

    :param turn_index: the scenario turn this reply belongs to (for ``at_turn`` faults), if any.
    :param in_conversation: False for ``conversation: "none"`` (out-of-band) responses.
    """

    def __init__(
        self,
        conn: EmulatedConnection,
        reply: PlannedReply,
        *,
        turn_index: int | None,
        modality: str,
        voice: Any,
        max_output_tokens: Any,
        metadata: dict[str, Any] | None,
        in_conversation: bool = True,
    ) -> None:
        self.conn = conn
        self.reply = reply
        self.id = new_id("resp")
        self.turn_index = turn_index
        self.modality = modality
        self.voice = voice
        self.max_output_tokens = max_output_tokens
        self.metadata = metadata
        self.in_conversation = in_conversation
        self.cancel_reason: str | None = None
        self.finished = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._output: list[dict[str, Any]] = []
        self._audio_ms = 0.0
        self._text_chars = 0

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"emulator-{self.id}")

    async def cancel(self, reason: str) -> None:
        """Stop streaming and wait until ``response.done`` (cancelled) has been sent."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self._wake.set()
        await self.finished.wait()

    @property
    def cancelled(self) -> bool:
        return self.cancel_reason is not None

    async def _pause(self, ms: float) -> None:
        if ms <= 0:
            await asyncio.sleep(0)  # let the reader process a cancel between deltas
            return
        try:
            async with asyncio.timeout(ms / 1000):
                await self._wake.wait()
        except TimeoutError:
            pass

    def _base(self, status: str) -> dict[str, Any]:
        conn = self.conn
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": None,
            "output": [],
            "conversation_id": conn.conversation_id if self.in_conversation else None,
            "output_modalities": [self.modality],
            "max_output_tokens": self.max_output_tokens,
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": self.voice}},
            "usage": None,
            "metadata": self.metadata,
        }

    async def _run(self) -> None:
        conn = self.conn
        try:
            await conn.send({"type": "response.created", "response": self._base("in_progress")})
            if conn.emu.rate_limits_at == "start":
                await conn.send(conn.rate_limits_event())
            await conn.after_response_created()
            if await self._faults("before_reply"):
                return
            if self.reply.first_chunk_delay_ms:
                await self._pause(self.reply.first_chunk_delay_ms)
            output_index = 0
            if self.reply.text or self.reply.audio is not None:
                if await self._message(output_index):
                    return
                output_index += 1
            if not self.cancelled:
                for call in self.reply.tool_calls:
                    await self._function_call(output_index, call.call_id, call.name, call.arguments)
                    output_index += 1
            await self._done()
            if not self.cancelled and await self._faults("after_reply"):
                return
        finally:
            conn.response_finished(self)
            self.finished.set()

    async def _faults(self, phase: str) -> bool:
        """Apply the scenario's faults for this phase; True if the connection is gone."""
        if self.turn_index is None:
            return False
        return await self.conn.apply_turn_faults(self.turn_index, phase)

    # ------------------------------------------------------------------ the message item
    async def _message(self, output_index: int) -> bool:
        conn = self.conn
        d = conn.dialect
        audio_mode = self.modality == "audio"
        item_id = new_id("item")
        data: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        item = Item(data)
        ids = {"response_id": self.id, "item_id": item_id, "output_index": output_index, "content_index": 0}
        await conn.send(
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": output_index,
                "item": dict(data),
            }
        )
        if self.in_conversation:
            prev = conn.conversation.insert(item)
            await conn.send({"type": d.item_added, "previous_item_id": prev, "item": dict(data)})
        part_type = conn.emu.part_type(audio_mode)
        text_key = d.audio_part_text_key if audio_mode else "text"  # DashScope: "text" for audio parts too
        empty_part = {"type": part_type, text_key: ""}
        await conn.send({"type": "response.content_part.added", **ids, "part": empty_part})
        if audio_mode:
            conn.started_audio(self.id)

        text_chunks = self.reply.text_chunks()
        audio_chunks = list(self.reply.audio_chunks()) if audio_mode else []
        sent_text: list[str] = []
        mid = len(audio_chunks) // 2 if audio_chunks else len(text_chunks) // 2
        delta_type = d.transcript_delta if audio_mode else d.text_delta
        steps = max(len(audio_chunks), len(text_chunks))
        next_text = 0
        for step in range(steps):
            if self.cancelled:
                break
            # spread the text deltas evenly over the audio deltas
            due = len(text_chunks) if step == steps - 1 else (step + 1) * len(text_chunks) // steps
            while next_text < due and not self.cancelled:
                piece = text_chunks[next_text]
                next_text += 1
                sent_text.append(piece)
                event = {"type": delta_type, **ids, "delta": piece}
                if audio_mode and conn.emu.obfuscation:
                    event["obfuscation"] = secrets.token_urlsafe(6)
                await conn.send(event)
            if step < len(audio_chunks) and not self.cancelled:
                chunk = audio_chunks[step]
                await conn.send(
                    {"type": d.audio_delta, **ids, "delta": base64.b64encode(chunk.samples).decode("ascii")}
                )
                item.audio += chunk.samples.tobytes()
                item.sent_ms = item.audio_ms
                self._audio_ms += chunk.duration_ms
                conn.audio_produced = True
            if step == mid and await self._faults("mid_reply"):
                return True
            await self._pause(self.reply.chunk_interval_ms)

        status = "incomplete" if self.cancelled else "completed"
        text = "".join(sent_text) if self.cancelled else self.reply.text
        self._text_chars += len(text)
        if audio_mode:
            if d.transcript_done_first:
                await conn.send({"type": d.transcript_done, **ids, "transcript": text})
                await conn.send({"type": d.audio_done, **ids})
            else:
                await conn.send({"type": d.audio_done, **ids})
                await conn.send({"type": d.transcript_done, **ids, "transcript": text})
            part = {"type": part_type, text_key: text}
            content = {"type": d.assistant_audio_content, text_key: text}
        else:
            await conn.send({"type": d.text_done, **ids, "text": text})
            part = {"type": part_type, "text": text}
            content = {"type": d.assistant_text_content, "text": text}
        await conn.send({"type": "response.content_part.done", **ids, "part": part})
        data.update(status=status, content=[content])
        await conn.send(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": output_index,
                "item": dict(data),
            }
        )
        if self.in_conversation and d.item_done and conn.emu.assistant_item_done:
            await conn.send({"type": d.item_done, "previous_item_id": prev, "item": dict(data)})  # pyright: ignore[reportPossiblyUnboundVariable]
        conn.remember_text(text)
        self._output.append(dict(data))
        return False

    # ------------------------------------------------------------------ function calls
    async def _function_call(self, output_index: int, call_id: str, name: str, arguments: dict[str, Any]) -> None:
        conn = self.conn
        d = conn.dialect
        item_id = new_id("item")
        data: dict[str, Any] = {
            "id": item_id, "type": "function_call", "status": "in_progress",
            "name": name, "call_id": call_id, "arguments": "",
        }  # fmt: skip
        await conn.send(
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": output_index,
                "item": dict(data),
            }
        )
        prev = None
        if self.in_conversation:
            prev = conn.conversation.insert(Item(data))
            await conn.send({"type": d.item_added, "previous_item_id": prev, "item": dict(data)})
        args = json.dumps(arguments)
        step = max(1, len(args) // 3 + 1)
        ids = {"response_id": self.id, "item_id": item_id, "output_index": output_index, "call_id": call_id}
        for start in range(0, len(args), step):
            await conn.send(
                {"type": "response.function_call_arguments.delta", **ids, "delta": args[start : start + step]}
            )
        await conn.send({"type": "response.function_call_arguments.done", **ids, "name": name, "arguments": args})
        data.update(status="completed", arguments=args)
        await conn.send(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": output_index,
                "item": dict(data),
            }
        )
        if self.in_conversation and d.item_done and conn.emu.assistant_item_done:
            await conn.send({"type": d.item_done, "previous_item_id": prev, "item": dict(data)})
        conn.awaiting_calls.add(call_id)
        conn.remember_call(call_id)
        self._text_chars += len(args)
        self._output.append(dict(data))

    # ------------------------------------------------------------------ the end
    async def _done(self) -> None:
        conn = self.conn
        response = self._base("cancelled" if self.cancelled else "completed")
        if self.cancelled:
            response["status_details"] = {"type": "cancelled", "reason": self.cancel_reason}
        response["output"] = self._output
        input_tokens = conn.input_tokens()
        text_out = self._text_chars // 4 + (1 if self._text_chars else 0)
        audio_out = int(self._audio_ms / 50)
        response["usage"] = {
            "total_tokens": input_tokens["total"] + text_out + audio_out,
            "input_tokens": input_tokens["total"],
            "output_tokens": text_out + audio_out,
            "input_token_details": {
                "text_tokens": input_tokens["text"],
                "audio_tokens": input_tokens["audio"],
                "image_tokens": input_tokens["image"],
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }
        await conn.send({"type": "response.done", "response": response})
        if conn.emu.rate_limits_at == "end":
            await conn.send(conn.rate_limits_event())
