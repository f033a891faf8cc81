"""One stream's handler: the model's output events turned into :class:`~realtime_core.SessionCore` calls.

Nova speaks a reply sentence by sentence: a SPECULATIVE text block (what it is about to say, streamed here
as transcript deltas), an AUDIO block, and a FINAL text block (what it said). The real service sends the
FINAL blocks *after all the audio of a reply* (the first one ending ``END_TURN``, the next ones
``PARTIAL_TURN``); older recordings and our emulator's ``interleaved`` mode send each FINAL block right
after its sentence's audio. So a reply is over once its audio ended (an AUDIO block ``END_TURN``) and every
announced sentence has its FINAL text, whatever the stop reasons say; failing that, when the next user
turn, the next reply, ``completionEnd`` or the end of the stream shows it. A FINAL block that arrives
after its reply ended is dropped, never the start of a new reply.

A user utterance can arrive as several USER text blocks (each ``PARTIAL_TURN``): they are joined into
**one** final user transcript, emitted when the model starts answering (or the turn otherwise ends). The
user transcript also shows the model heard the audio so far (``core.audio_confirmed()``).

Usage arrives as ``usageEvent`` deltas at any time, even before ``completionStart``: a delta during a reply
is that reply's; output tokens after a reply are still that reply's; input tokens before a reply are held
and reported with the reply that answers them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from realtime_core import PcmData, SessionCore, ToolCall
from realtime_core.errors import ProtocolError, RealtimeError

from . import protocol
from .errors import PROVIDER

__all__ = ["NovaHandler", "NovaHost"]

log = logging.getLogger("realtime_nova.handler")

TOOL_BATCH_WINDOW = 0.1
"""Seconds to wait for more TOOL blocks of the same reply before running its calls."""
FINAL_TEXT_WAIT = 3.0
"""Seconds a reply whose audio ended waits for its FINAL texts before it ends without them."""


class NovaHost(Protocol):
    """What the handler needs of its session (public names; the session implements them)."""

    @property
    def output_sample_rate(self) -> int:
        """The rate of the model's audio (the promptStart configuration)."""
        ...

    @property
    def closing(self) -> bool:
        """The session is closing: errors are no longer worth reporting."""
        ...

    def user_turn_heard(self) -> None:
        """The model transcribed the user: it has heard the audio sent so far."""

    def stream_ended(self, handler: NovaHandler, error: RealtimeError | None) -> None:
        """The handler's stream ended (``error`` None: normally)."""


@dataclass
class _Block:
    type: str
    role: str
    stage: str | None


@dataclass
class _Reply:
    id: str
    spoken: list[str] = field(default_factory=list[str])  # SPECULATIVE texts (streamed as deltas)
    final: list[str] = field(default_factory=list[str])  # FINAL texts (what was actually said)
    audio_ended: bool = False  # an AUDIO block ended the reply's audio (END_TURN)
    final_end: bool = False  # a FINAL block said END_TURN

    @property
    def text(self) -> str:
        # the FINAL texts when all arrived, else what the model announced (never a truncated transcript)
        return protocol.joined(self.final if len(self.final) >= len(self.spoken) else self.spoken)

    @property
    def complete(self) -> bool:
        if not self.audio_ended:
            return False
        return len(self.final) >= len(self.spoken) > 0 or (not self.spoken and self.final_end)


class NovaHandler:
    """Per-stream output state (see the module docstring).

    :ivar retired: the session replaced this stream: it only finishes the reply it was giving.
    :ivar issued_tools: tool use ids this stream asked for and that were not answered yet.
    :ivar idle: set while no reply, no tool call and no heard-but-unanswered user turn is in progress (the
        renewal waits for it).
    """

    def __init__(self, core: SessionCore, host: NovaHost) -> None:
        self.core = core
        self.host = host
        self.retired = False
        self.issued_tools: set[str] = set()
        self.idle = asyncio.Event()
        self.idle.set()
        self._reply: _Reply | None = None
        self._last_reply: str | None = None
        self._barged: str | None = None
        self._blocks: dict[str, _Block] = {}
        self._user: list[str] = []
        self._answer_due = False  # the user's turn was heard and its reply has not started yet
        self._calls: list[ToolCall] = []
        self._tool_timer: asyncio.TimerHandle | None = None
        self._final_timer: asyncio.TimerHandle | None = None
        self._usage_totals: tuple[int, int, int, int] | None = None
        self._usage_held: tuple[int, int, int, int] = (0, 0, 0, 0)

    # ================================================================== EventSink
    def handle(self, name: str, body: dict[str, Any]) -> None:
        if self.retired and self._reply is None and name != "usageEvent":
            return  # a replaced stream only finishes the reply it was giving
        if self._calls and not self._is_tool_event(name, body):
            self._flush_tools()
        match name:
            case "contentStart":
                self._content_start(body)
            case "textOutput":
                self._text_output(body)
            case "audioOutput":
                self._audio_output(body)
            case "toolUse":
                self._tool_use(body)
            case "contentEnd":
                self._content_end(body)
            case "usageEvent":
                self._usage(body)
            case "completionEnd":
                self._answer_due = False
                self._flush_tools()
                self._user_done()
                self._end_reply()
            case _:  # completionStart, and events this client does not use
                log.debug("nova: output event %s", name)

    def fault(self, error: RealtimeError) -> None:
        if not self.retired and not self.host.closing:
            self.core.emit_error_event(error, context="stream")

    def ended(self, error: RealtimeError | None) -> None:
        self._cancel_tool_timer()
        self._cancel_final_timer()
        self._calls = []
        if not self.retired:
            self._user_done()
        reply = self._reply
        if reply is not None:
            self._end_reply(cut=not reply.audio_ended)
        if any(self._usage_held):
            self._emit_usage(None, self._usage_held, {})
        self.idle.set()
        self.host.stream_ended(self, error)

    # ================================================================== tools
    def tool_results_sent(self, call_ids: set[str]) -> None:
        self.issued_tools -= call_ids
        self._update_idle()

    def _is_tool_event(self, name: str, body: dict[str, Any]) -> bool:
        if name in ("usageEvent", "toolUse"):
            return True
        if name == "contentStart":
            return body.get("type") == "TOOL"
        if name == "contentEnd":
            block = self._blocks.get(str(body.get("contentId")))
            return (block.type if block else body.get("type")) == "TOOL"
        return False

    def _flush_tools(self) -> None:
        self._cancel_tool_timer()
        calls, self._calls = self._calls, []
        if not calls or self.retired:
            return
        self._end_reply()  # the spoken part before the calls (or an empty response)
        self.core.start_tool_calls(calls)
        self._update_idle()

    def _cancel_tool_timer(self) -> None:
        timer, self._tool_timer = self._tool_timer, None
        if timer is not None:
            timer.cancel()

    # ================================================================== replies
    def _reply_for_speech(self) -> _Reply:
        """The reply a SPECULATIVE text or audio belongs to: the open one, or a new one (after a reply
        whose audio already ended, this is the next reply)."""
        reply = self._reply
        if reply is not None and reply.audio_ended:
            self._end_reply()
            reply = None
        if reply is None:
            self._user_done()
            reply = self._reply = _Reply(f"nova_{uuid.uuid4().hex[:20]}")
            self._answer_due = False
            self.idle.clear()
            if not self.retired:
                self.core.begin_response(reply.id)
            if any(self._usage_held):  # input tokens of the turn this reply answers
                held, self._usage_held = self._usage_held, (0, 0, 0, 0)
                self._emit_usage(reply.id, held, {})
        return reply

    def _end_reply(self, *, cut: bool = False) -> None:
        reply, self._reply = self._reply, None
        if reply is None:
            return
        self._cancel_final_timer()
        text = reply.text
        if text and self._barged != reply.id and not cut:
            self.core.emit_agent_speech_transcription(text, mode="final", response_id=reply.id)
        self.core.emit_audio_output_done_event(reply.id, interrupted=cut)
        self._last_reply = reply.id
        self._update_idle()

    def _late_end(self, reply: _Reply) -> None:
        self._final_timer = None
        if self._reply is reply:
            self._end_reply()

    def _cancel_final_timer(self) -> None:
        timer, self._final_timer = self._final_timer, None
        if timer is not None:
            timer.cancel()

    def _update_idle(self) -> None:
        if self._reply is None and not self._calls and not self.issued_tools and not self._answer_due:
            self.idle.set()
        else:
            self.idle.clear()

    def _barge_in(self) -> None:
        # The marker may come after the reply fully arrived (Nova generates faster than real time and the
        # user barges in while it still plays): then it concerns the last reply, and core decides from its
        # playback clock whether anything is still audible.
        rid = self._reply.id if self._reply is not None else self._last_reply
        if rid is not None and self._barged == rid:
            return
        self._barged = rid
        if self.retired or (rid is not None and self.core.is_stale(rid)):
            return  # a replaced stream, or a reply a local interrupt() already cut
        self.core.emit_user_speech_started()
        self.core.handle_barge_in()

    # ================================================================== the user's words
    def _user_text(self, content: str) -> None:
        if self.retired:
            return
        if self._reply is not None:
            self._end_reply()  # a new user turn: the previous reply is over
        self._user.append(content)
        self._answer_due = True  # a reply follows: a renewal must not cut in before it
        self.idle.clear()
        self.core.audio_confirmed()
        self.host.user_turn_heard()

    def _user_done(self) -> None:
        pieces, self._user = self._user, []
        text = protocol.joined(pieces).strip()
        if text:
            self.core.emit_user_speech_transcription(text, mode="final")

    # ================================================================== event handlers
    def _content_start(self, body: dict[str, Any]) -> None:
        kind = str(body.get("type", ""))
        role = str(body.get("role", ""))
        stage = protocol.parse_generation_stage(body.get("additionalModelFields"))
        # A reply starts with its first content, not its first block: the barge-in marker comes in a
        # block of its own after the reply it cuts.
        self._blocks[str(body.get("contentId"))] = _Block(kind, role, stage)
        if kind == "TOOL":
            self._user_done()

    def _text_output(self, body: dict[str, Any]) -> None:
        content = body.get("content")
        if not isinstance(content, str):
            raise ProtocolError("textOutput without text content", provider=PROVIDER)
        block = self._blocks.get(str(body.get("contentId")))
        role = str(body.get("role") or (block.role if block else ""))
        if role == "USER":
            self._user_text(content)
        elif role != "ASSISTANT":
            return
        elif protocol.is_interrupted_marker(content):
            self._barge_in()
        elif block is not None and block.stage == "SPECULATIVE":
            reply = self._reply_for_speech()
            piece = protocol.join_piece(reply.spoken, content)
            reply.spoken.append(content)
            if self._barged != reply.id:
                self.core.emit_agent_speech_transcription(piece, mode="delta", response_id=reply.id)
        elif self._reply is not None:
            self._reply.final.append(content)
        else:  # the FINAL text of a reply that already ended: never the start of another one
            log.debug("nova: FINAL text after its reply ended")

    def _audio_output(self, body: dict[str, Any]) -> None:
        content = body.get("content")
        if not isinstance(content, str):
            raise ProtocolError("audioOutput without audio content", provider=PROVIDER)
        reply = self._reply_for_speech()
        raw = base64.b64decode(content)
        if raw:
            self.core.emit_audio_output_event(PcmData.from_bytes(raw, self.host.output_sample_rate), reply.id)

    def _tool_use(self, body: dict[str, Any]) -> None:
        call_id = body.get("toolUseId")
        name = body.get("toolName")
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise ProtocolError("toolUse without toolUseId or toolName", provider=PROVIDER)
        # Calls after spoken text belong to that reply; calls alone open no reply (no audio, no done event).
        self._user_done()
        rid = self._reply.id if self._reply is not None else self._calls_id()
        self.issued_tools.add(call_id)
        self.idle.clear()
        arguments = protocol.parse_tool_arguments(body.get("content"))
        self._calls.append(ToolCall(call_id, name, arguments, response_id=rid))

    def _calls_id(self) -> str:
        if self._calls and self._calls[0].response_id:
            return self._calls[0].response_id
        self._answer_due = False
        return f"nova_{uuid.uuid4().hex[:20]}"

    def _content_end(self, body: dict[str, Any]) -> None:
        block = self._blocks.pop(str(body.get("contentId")), None)
        kind = block.type if block else str(body.get("type", ""))
        role = block.role if block else str(body.get("role", ""))
        stop = body.get("stopReason")
        if kind == "TOOL":
            if self._calls:  # more TOOL blocks of this reply may follow at once: run them together
                self._cancel_tool_timer()
                self._tool_timer = asyncio.get_running_loop().call_later(TOOL_BATCH_WINDOW, self._flush_tools)
            return
        if role == "USER" and stop == "END_TURN":
            self._user_done()
            return
        reply = self._reply
        if role != "ASSISTANT" or reply is None:
            return
        if stop == "INTERRUPTED":
            self._barge_in()
            if kind == "TEXT":
                self._end_reply()
            else:
                reply.audio_ended = True
            return
        if kind == "AUDIO" and stop == "END_TURN":
            reply.audio_ended = True
            # The FINAL texts follow at once; should they never come, the reply still ends (with the
            # SPECULATIVE text as its transcript) instead of waiting for the next turn.
            self._cancel_final_timer()
            self._final_timer = asyncio.get_running_loop().call_later(FINAL_TEXT_WAIT, self._late_end, reply)
        elif kind == "TEXT" and (block is None or block.stage != "SPECULATIVE") and stop == "END_TURN":
            reply.final_end = True
        if reply.complete:
            self._end_reply()

    def _usage(self, body: dict[str, Any]) -> None:
        tokens = protocol.usage_delta(body, self._usage_totals)
        if tokens.totals is not None:
            self._usage_totals = tokens.totals
        counts = tokens.counts
        if not any(counts):
            return
        if self._reply is not None:
            self._emit_usage(self._reply.id, counts, body)
        elif (counts[2] or counts[3]) and self._last_reply is not None:
            self._emit_usage(self._last_reply, counts, body)  # the output of the reply that just ended
        else:
            self._usage_held = tuple(a + b for a, b in zip(self._usage_held, counts, strict=True))  # type: ignore[assignment]

    def _emit_usage(self, response_id: str | None, counts: tuple[int, int, int, int], raw: dict[str, Any]) -> None:
        in_speech, in_text, out_speech, out_text = counts
        inputs, outputs = in_speech + in_text, out_speech + out_text
        self.core.emit_usage_event(
            response_id,
            raw=raw,
            input_tokens=inputs,
            output_tokens=outputs,
            total_tokens=inputs + outputs,
            input_audio_tokens=in_speech,
            input_text_tokens=in_text,
            output_audio_tokens=out_speech,
            output_text_tokens=out_text,
        )
