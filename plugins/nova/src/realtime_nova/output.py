"""Reading a Nova stream: the model's events mapped onto core's emitters.

Nova speaks a reply sentence by sentence: a SPECULATIVE text block (what it is about to say, streamed
here as transcript deltas), an AUDIO block, then a FINAL text block (what it said). A reply ends with
``END_TURN``; the user barging in shows as ``INTERRUPTED`` and the ``{ "interrupted" : true }`` marker;
tool use comes as TOOL blocks whose calls core runs; usage arrives as ``usageEvent`` deltas.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from typing import Any

from realtime_core import ToolCall
from realtime_core.audio import PcmData
from realtime_core.errors import ConnectionFailedError, ProtocolError, RealtimeError
from realtime_core.session import Realtime

from . import protocol
from .client import StreamFault, UnknownOutput
from .link import Block, Link, join_piece, joined, outcome

__all__ = ["NovaOutput"]

log = logging.getLogger("realtime_nova.session")

_TOOL_BATCH_WINDOW = 0.05  # seconds to wait for more TOOL blocks of the same response


class NovaOutput(Realtime):
    """The receive side of :class:`~realtime_nova.NovaRealtime` (kept apart to keep modules small)."""

    _link: Link | None
    _closing: bool
    _out_rate: int
    _quiet: asyncio.Event

    def _forget_tail(self) -> None:
        """A user turn was heard to its end (the session drops the audio it keeps for re-sending)."""

    def _is_quiet(self, link: Link) -> bool:
        return link.rid is None and not link.calls and not link.issued_tools and not self._core.tool_calls_running

    def _update_quiet(self) -> None:
        link = self._link
        if link is not None and self._is_quiet(link):
            self._quiet.set()

    # ================================================================== output
    async def _receive_loop(self, link: Link) -> None:
        last_error: RealtimeError | None = None
        stream = link.stream
        try:
            while True:
                try:
                    if link.tools_ready:
                        # More TOOL blocks of this response may be right behind: look briefly, else run.
                        nxt = self._core.spawn(outcome(stream.receive()), name="nova-receive-next")
                        done, _ = await asyncio.wait({nxt}, timeout=_TOOL_BATCH_WINDOW)
                        if not done:
                            self._flush_tools(link)
                        item, error = await nxt
                        if error is not None:
                            raise error
                    else:
                        item = await stream.receive()
                except StreamFault as fault:  # an exception event: reported; the stream may go on
                    last_error = fault.error
                    if not link.retired and not self._closing:
                        self._emit_error_event(fault.error, context="stream")
                    continue
                except RealtimeError as exc:  # the stream broke
                    last_error = exc
                    break
                if item is None:
                    break
                if isinstance(item, UnknownOutput):
                    self._emit_error_event(
                        ProtocolError(f"unknown output event {item.tag!r}", provider=self.provider_name),
                        context="receive",
                    )
                    continue
                try:
                    doc = json.loads(item)
                    ((name, body),) = doc["event"].items()
                    if not isinstance(body, dict):
                        raise TypeError("event body is not an object")
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    self._emit_error_event(
                        ProtocolError(f"malformed Nova event: {type(exc).__name__}", provider=self.provider_name),
                        context="receive",
                    )
                    continue
                try:
                    self._on_event(link, name, body)
                except RealtimeError as exc:
                    self._emit_error_event(exc, context=f"receive {name}")
                except Exception as exc:
                    log.debug("nova: could not handle %s", name, exc_info=True)
                    self._emit_error_event(
                        ProtocolError(
                            f"could not handle {name}: {type(exc).__name__}: {exc}", provider=self.provider_name
                        ),
                        context=f"receive {name}",
                    )
        finally:
            link.dead = True
            link.idle.set()
            self._stream_ended(link, last_error)

    def _stream_ended(self, link: Link, error: RealtimeError | None) -> None:
        rid, link.rid = link.rid, None
        link.calls = []
        link.tools_ready = False
        if rid is not None:
            self._emit_audio_output_done_event(rid, interrupted=True)  # the reply was cut off
            self._update_quiet()
        if self._closing or link.retired or link is not self._link or link.ending:
            return
        if error is None:
            error = ConnectionFailedError("Nova ended the stream unexpectedly", provider=self.provider_name)
        self._core.connection_lost(error, reason=str(error.message))

    def _on_event(self, link: Link, name: str, body: dict[str, Any]) -> None:
        if link.retired and link.rid is None and name != "usageEvent":
            return  # a replaced stream only finishes the reply it was giving
        if link.tools_ready and not self._is_tool_event(link, name, body):
            self._flush_tools(link)
        handler = _HANDLERS.get(name)
        if handler is None:
            log.debug("nova: ignoring output event %s", name)
            return
        handler(self, link, body)

    def _is_tool_event(self, link: Link, name: str, body: dict[str, Any]) -> bool:
        if name == "usageEvent" or name == "toolUse":
            return True
        if name == "contentStart":
            return body.get("type") == "TOOL"
        if name == "contentEnd":
            block = link.blocks.get(str(body.get("contentId")))
            return (block.type if block else body.get("type")) == "TOOL"
        return False

    # ------------------------------------------------------------------ responses
    def _start_reply(self, link: Link) -> str:
        rid = link.rid
        if rid is None:
            rid = link.rid = f"nova_{uuid.uuid4().hex[:20]}"
            link.spoken, link.final = [], []
            link.audio_ended = False
            link.idle.clear()
            self._quiet.clear()
            if not link.retired:
                self._core.begin_response(rid)
        return rid

    def _end_reply(self, link: Link) -> None:
        rid = link.rid
        if rid is None:
            return
        barged = link.barged == rid
        text = joined(link.final) or joined(link.spoken)
        if text and not barged:
            self._emit_agent_speech_transcription(text, mode="final", response_id=rid)
        self._emit_audio_output_done_event(rid)
        link.last_rid, link.rid = rid, None
        link.spoken, link.final = [], []
        link.audio_ended = False
        link.idle.set()
        self._update_quiet()

    def _barge_in(self, link: Link) -> None:
        # The marker may come after the reply fully arrived (Nova generates faster than real time, the
        # user barges in while it is still playing): then it concerns the last reply, and core decides
        # from its playback clock whether anything is still audible.
        rid = link.rid or link.last_rid
        if rid is not None and link.barged == rid:
            return
        link.barged = rid
        if link.retired or link is not self._link:
            return
        if rid is not None and self._core.is_stale(rid):
            return  # already cut by a local interrupt()
        # Nova's marker means the user started talking over the reply.
        self._emit_user_speech_started()
        self._core.handle_barge_in()

    def _maybe_finish(self, link: Link) -> None:
        # Nova speaks sentence by sentence (SPECULATIVE text, AUDIO, FINAL text); the reply is complete
        # once its audio ended and every announced sentence has its FINAL transcript. (Without any
        # SPECULATIVE text there is nothing to count: wait for END_TURN or the next turn.)
        if link.rid is not None and link.audio_ended and link.spoken and len(link.final) >= len(link.spoken):
            self._end_reply(link)

    def _flush_tools(self, link: Link) -> None:
        link.tools_ready = False
        calls, link.calls = link.calls, []
        if not calls or link.retired:
            return
        self._end_reply(link)  # the spoken part before the calls (or an empty response)
        self._core.start_tool_calls(calls)

    # ------------------------------------------------------------------ event handlers
    def _ev_content_start(self, link: Link, body: dict[str, Any]) -> None:
        kind = str(body.get("type", ""))
        role = str(body.get("role", ""))
        stage = protocol.parse_generation_stage(body.get("additionalModelFields"))
        # A reply starts with its first content, not its first block: the barge-in marker comes in a
        # block of its own after the reply it cuts.
        link.blocks[str(body.get("contentId"))] = Block(kind, role, stage)

    def _ev_text_output(self, link: Link, body: dict[str, Any]) -> None:
        content = body.get("content")
        if not isinstance(content, str):
            raise ProtocolError("textOutput without text content", provider=self.provider_name)
        block = link.blocks.get(str(body.get("contentId")))
        role = str(body.get("role") or (block.role if block else ""))
        if role == "ASSISTANT" and protocol.is_interrupted_marker(content):
            self._barge_in(link)
            return
        if role == "USER":
            if link.retired:
                return
            if link.rid is not None:
                self._end_reply(link)  # a new user turn: the previous reply is over
            self._forget_tail()  # the model heard this utterance to its end
            self._emit_user_speech_transcription(content, mode="final")
            return
        if role != "ASSISTANT":
            return
        rid = self._start_reply(link)
        if block is not None and block.stage == "SPECULATIVE":
            piece = join_piece(link.spoken, content)
            link.spoken.append(content)
            if link.barged != rid:
                self._emit_agent_speech_transcription(piece, mode="delta", response_id=rid)
        else:
            link.final.append(content)

    def _ev_audio_output(self, link: Link, body: dict[str, Any]) -> None:
        content = body.get("content")
        if not isinstance(content, str):
            raise ProtocolError("audioOutput without audio content", provider=self.provider_name)
        rid = self._start_reply(link)
        raw = base64.b64decode(content)
        if raw:
            self._emit_audio_output_event(PcmData.from_bytes(raw, self._out_rate), rid)

    def _ev_tool_use(self, link: Link, body: dict[str, Any]) -> None:
        call_id = body.get("toolUseId")
        name = body.get("toolName")
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise ProtocolError("toolUse without toolUseId or toolName", provider=self.provider_name)
        rid = self._start_reply(link)
        link.issued_tools.add(call_id)
        link.calls.append(ToolCall(call_id, name, protocol.parse_tool_arguments(body.get("content")), response_id=rid))

    def _ev_content_end(self, link: Link, body: dict[str, Any]) -> None:
        block = link.blocks.pop(str(body.get("contentId")), None)
        kind = block.type if block else str(body.get("type", ""))
        role = block.role if block else ""
        stop = body.get("stopReason")
        if kind == "TOOL":
            if link.calls:
                link.tools_ready = True
            return
        if role != "ASSISTANT" or link.rid is None:
            return
        if stop == "INTERRUPTED":
            self._barge_in(link)
            if kind == "TEXT":
                self._end_reply(link)
            else:
                link.audio_ended = True
            return
        if kind == "AUDIO" and stop == "END_TURN":
            link.audio_ended = True
            self._emit_audio_output_done_event(link.rid)
            self._maybe_finish(link)
        elif kind == "TEXT" and block is not None and block.stage != "SPECULATIVE":
            if stop == "END_TURN":
                self._end_reply(link)
            else:
                self._maybe_finish(link)

    def _ev_usage(self, link: Link, body: dict[str, Any]) -> None:
        details = body.get("details") if isinstance(body.get("details"), dict) else {}
        delta = details.get("delta") if isinstance(details, dict) else None

        def count(side: Any, key: str) -> int:
            value = side.get(key) if isinstance(side, dict) else None
            return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0

        if isinstance(delta, dict):
            in_speech, in_text = count(delta.get("input"), "speechTokens"), count(delta.get("input"), "textTokens")
            out_speech, out_text = count(delta.get("output"), "speechTokens"), count(delta.get("output"), "textTokens")
        else:  # no delta: difference of the cumulative totals (they restart on every stream)
            total = details.get("total") if isinstance(details, dict) else None
            now = (
                count(total.get("input") if isinstance(total, dict) else None, "speechTokens"),
                count(total.get("input") if isinstance(total, dict) else None, "textTokens"),
                count(total.get("output") if isinstance(total, dict) else None, "speechTokens"),
                count(total.get("output") if isinstance(total, dict) else None, "textTokens"),
            )
            before = link.usage_totals or (0, 0, 0, 0)
            link.usage_totals = now
            in_speech, in_text, out_speech, out_text = (max(0, a - b) for a, b in zip(now, before, strict=True))
        inputs, outputs = in_speech + in_text, out_speech + out_text
        self._emit_usage_event(
            link.rid or link.last_rid,
            raw=body,
            input_tokens=inputs,
            output_tokens=outputs,
            total_tokens=inputs + outputs,
            input_audio_tokens=in_speech,
            input_text_tokens=in_text,
            output_audio_tokens=out_speech,
            output_text_tokens=out_text,
        )

    def _ev_completion_end(self, link: Link, body: dict[str, Any]) -> None:
        if link.calls:
            self._flush_tools(link)
        self._end_reply(link)

    def _ev_ignore(self, link: Link, body: dict[str, Any]) -> None:
        return None


_HANDLERS = {
    "completionStart": NovaOutput._ev_ignore,
    "contentStart": NovaOutput._ev_content_start,
    "textOutput": NovaOutput._ev_text_output,
    "audioOutput": NovaOutput._ev_audio_output,
    "toolUse": NovaOutput._ev_tool_use,
    "contentEnd": NovaOutput._ev_content_end,
    "usageEvent": NovaOutput._ev_usage,
    "completionEnd": NovaOutput._ev_completion_end,
}
