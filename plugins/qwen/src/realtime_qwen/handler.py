"""One DashScope connection's server events → realtime-core calls.

:class:`QwenEventHandler` is realtime-openai-protocol's :class:`~realtime_openai_protocol.ServerEventHandler`
in the DashScope dialect (audio, transcripts, usage, tools, setup futures, typed errors, the silent-response
watchdog, one cancel per reply), given the session's :class:`~realtime_core.SessionCore` and a
:class:`QwenHost` (what it needs of the session, with public names: it never imports the session class).
What differs on DashScope:

* user transcripts: previews become deltas; a reply's agent text waits for the user's transcript
  (:mod:`realtime_qwen.transcripts`);
* ``response.cancel`` may never get a ``response.done`` (qwen3.5): a cancelled response counts as over after
  ``cancel_grace_s`` without one;
* ``input_audio_buffer.committed`` / ``cleared`` (images need fresh audio after them, manual turns wait for
  the commit, both confirm the audio sent so far), ``session.finished``, the "image before audio" race (not
  an app-visible error), function-call events without ``response_id``/``item_id``;
* close codes: idle closes (1007 with an idle reason) and the 120-minute cap are recoverable.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from realtime_core import RealtimeError, SessionCore
from realtime_openai_protocol import ProtocolHost, ServerEventHandler, ToolCallDraft, emit_transcription_usage

from .config import OUTPUT_SAMPLE_RATE
from .errors import IMAGE_BEFORE_AUDIO, is_commit_refusal
from .protocol import DASHSCOPE
from .transcripts import ReplyTextHold, UserTranscripts
from .transport import InputBuffer

__all__ = ["QwenEventHandler", "QwenHost"]

log = logging.getLogger("realtime_qwen.handler")
_MAX_TRACKED = 64


class QwenHost(ProtocolHost, Protocol):
    """The session side of a :class:`QwenEventHandler`: the protocol's host, plus one notification."""

    def response_ended(self) -> None:
        """A response ended (``response.done``, a cancel's grace period, a silent response given up): a
        renewal waiting for a quiet moment may go now. Called from the receive loop: must not block."""
        ...


class QwenEventHandler(ServerEventHandler):
    """See the module docstring. One handler per connection (a reconnect gets a fresh one).

    :param buffer: the connection's input buffer state (shared with its transport).
    :param transcribing: the session asked for user transcripts (the hold waits for them).
    :param transcript_hold_s: longest wait for a user transcript before a reply's text goes out anyway.
    :param cancel_grace_s: how long after ``response.cancel`` a missing ``response.done`` is waited for.
    :param response_timeout: seconds a created response may stay silent before it counts as ended.

    :ivar finished: resolved by ``session.finished`` (or when the connection ends).
    :ivar closing: set by the session before ``session.finish``: errors from then on only end the wait.
    :ivar user_speaking: between the server's speech started and stopped.
    """

    def __init__(
        self,
        core: SessionCore,
        host: QwenHost,
        *,
        buffer: InputBuffer,
        transcribing: bool = True,
        transcript_hold_s: float = 3.0,
        cancel_grace_s: float = 1.5,
        response_timeout: float | None = 30.0,
    ) -> None:
        super().__init__(core, host, dialect=DASHSCOPE, output_rate=OUTPUT_SAMPLE_RATE, response_timeout=response_timeout)
        self.qwen_host = host
        self.buffer = buffer
        self.transcribing = transcribing
        self.cancel_grace_s = cancel_grace_s
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closing = False
        self.user_speaking = False
        self.transcripts = UserTranscripts()
        self.hold = ReplyTextHold(transcript_hold_s if transcribing else 0.0)
        self._barge_response: str | None = None
        self._cancel_timers: dict[str, asyncio.TimerHandle] = {}
        self._commit: tuple[str, asyncio.Future[bool]] | None = None
        self._routes.update(
            {
                "input_audio_buffer.committed": self._on_committed,
                "input_audio_buffer.cleared": self._on_cleared,
                "session.finished": self._on_session_finished,
            }
        )

    # ------------------------------------------------------------------ lifecycle
    def expect_commit(self, event_id: str) -> asyncio.Future[bool]:
        """A future: True when the server confirms the commit sent as ``event_id``, False if an error comes
        first (one naming that event, or one naming none: DashScope errors rarely name the event)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._commit = (event_id, fut)
        return fut

    def connection_closed(self, code: int | None, reason: str) -> RealtimeError:
        error = super().connection_closed(code, reason)
        self._end_waits()
        return error

    def close(self, *, drop_held: bool = False) -> None:
        """The connection is gone or replaced: stop the timers; let held text out (core drops what is
        stale) or, when the session is closing, drop it. Idempotent."""
        super().close()
        for timer in self._cancel_timers.values():
            timer.cancel()
        self._cancel_timers.clear()
        self.hold.release_all(drop=drop_held)
        self._end_waits()

    def _end_waits(self) -> None:
        self._resolve_commit(False)
        if not self.finished.done():
            self.finished.set_result(None)  # nothing more will come: close() need not wait

    def _on_session_finished(self, msg: dict[str, Any]) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    # ------------------------------------------------------------------ the input buffer
    def _on_committed(self, msg: dict[str, Any]) -> None:
        self.core.audio_confirmed()  # the server has our audio up to here
        self.buffer.server_committed()
        item_id = msg.get("item_id")
        if item_id and self.transcribing:
            self.hold.expect(str(item_id))
        self._resolve_commit(True)

    def _on_cleared(self, msg: dict[str, Any]) -> None:
        self.core.audio_confirmed()  # dropped at our request: nothing of it is to be replayed
        self.buffer.server_committed()

    def _resolve_commit(self, ok: bool) -> None:
        pending, self._commit = self._commit, None
        if pending is not None and not pending[1].done():
            pending[1].set_result(ok)

    def _on_error(self, msg: dict[str, Any]) -> None:
        payload = msg.get("error")
        payload = payload if isinstance(payload, dict) else {}
        message = str(payload.get("message") or "")  # pyright: ignore[reportUnknownMemberType]
        if self.closing:
            # e.g. "invalid event type" for session.finish (reported on one model): just close
            log.debug("qwen: error while finishing the session: %s", message)
            self._end_waits()
            return
        if IMAGE_BEFORE_AUDIO in message.lower():
            # the server committed the buffer just before our frame arrived: the next frame is sent after
            # fresh audio. One lost snapshot is not worth an error event.
            self.buffer.server_committed()
            log.debug("qwen: a video frame raced a commit and was refused; the next one follows fresh audio")
            return
        pending = self._commit
        if pending is not None and (payload.get("event_id") == pending[0] or (payload.get("event_id") is None and is_commit_refusal(message))):  # pyright: ignore[reportUnknownMemberType]
            self._resolve_commit(False)
        super()._on_error(msg)

    # ------------------------------------------------------------------ user speech
    def agent_audible(self) -> bool:
        # DashScope stops a reply it is generating when the user speaks: that counts even before its audio
        return self.active_response is not None or super().agent_audible()

    def _on_speech_started(self, msg: dict[str, Any]) -> None:
        self.user_speaking = True
        if self.ready and self.host.interrupts_on_speech and self.agent_audible():
            self._barge_response = self.active_response  # what the barge-in's cancel is for
        super()._on_speech_started(msg)

    def _on_speech_stopped(self, msg: dict[str, Any]) -> None:
        self.user_speaking = False
        super()._on_speech_stopped(msg)

    def _on_user_delta(self, msg: dict[str, Any]) -> None:
        piece = self.transcripts.delta(msg)
        if self.ready and piece:
            self.core.emit_user_speech_transcription(piece, msg, mode="delta", item_id=msg.get("item_id"))

    def _on_user_completed(self, msg: dict[str, Any]) -> None:
        item_id = msg.get("item_id")
        transcript = msg.get("transcript")
        transcript = transcript if isinstance(transcript, str) else ""
        tail = self.transcripts.completed(item_id, transcript)
        if self.ready:
            core = self.core
            if tail:  # the last words were still tentative: the deltas add up to the transcript
                core.emit_user_speech_transcription(tail, msg, mode="delta", item_id=item_id)
            core.emit_user_speech_transcription(transcript, msg, mode="final", item_id=item_id)
            usage = msg.get("usage")
            if isinstance(usage, dict):
                emit_transcription_usage(core, usage, item_id=item_id)  # pyright: ignore[reportUnknownArgumentType]
        self.hold.arrived(item_id)

    def _on_user_failed(self, msg: dict[str, Any]) -> None:
        super()._on_user_failed(msg)
        self.transcripts.forget(msg.get("item_id"))
        self.hold.arrived(msg.get("item_id"))

    # ------------------------------------------------------------------ agent text, held for order
    def _on_response_created(self, msg: dict[str, Any]) -> None:
        super()._on_response_created(msg)
        if self.ready:
            self.hold.response_started(msg["response"]["id"])

    def _on_transcript_delta(self, msg: dict[str, Any]) -> None:
        if self.ready:
            rid, delta, core = msg["response_id"], msg["delta"], self.core
            self.hold.emit(rid, lambda: core.emit_agent_speech_transcription(delta, mode="delta", response_id=rid))

    def _on_transcript_done(self, msg: dict[str, Any]) -> None:
        if self.ready:
            rid, text, core = msg["response_id"], msg.get("transcript") or "", self.core
            self.hold.emit(rid, lambda: core.emit_agent_speech_transcription(text, mode="final", response_id=rid))

    def _on_text_delta(self, msg: dict[str, Any]) -> None:
        if self.ready:
            rid, delta, item, core = msg["response_id"], msg["delta"], msg.get("item_id"), self.core
            self.hold.emit(rid, lambda: core.emit_response_event(delta, rid, False, item))

    def _on_text_done(self, msg: dict[str, Any]) -> None:
        if self.ready:
            rid, text, item, core = msg["response_id"], msg.get("text") or "", msg.get("item_id"), self.core
            self.hold.emit(rid, lambda: core.emit_response_event(text, rid, True, item))

    # ------------------------------------------------------------------ tool calls (ids may be missing)
    def _draft(self, rid: Any, key: str, call_id: str) -> tuple[dict[str, ToolCallDraft] | None, ToolCallDraft | None]:
        calls = self._calls.get(rid or self.active_response or "")
        if calls is None:
            return None, None
        call = calls.get(key) or next((c for c in calls.values() if call_id and c.call_id == call_id), None)
        return calls, call

    def _on_output_item(self, msg: dict[str, Any]) -> None:
        item = msg.get("item") or {}
        if item.get("type") != "function_call":
            return
        call_id = item.get("call_id") or ""
        calls, call = self._draft(msg.get("response_id"), item.get("id") or call_id, call_id)
        if calls is None:
            return
        if call is None:
            calls[item.get("id") or call_id] = ToolCallDraft(call_id, item.get("name") or "", item.get("arguments") or "")
        else:
            call.call_id = call_id or call.call_id
            call.name = item.get("name") or call.name
            call.arguments = item.get("arguments") or call.arguments

    def _on_arguments_done(self, msg: dict[str, Any]) -> None:
        call_id = msg.get("call_id") or ""
        key = msg.get("item_id") or call_id
        calls, call = self._draft(msg.get("response_id"), key, call_id)
        if calls is None:
            return
        if call is None:
            calls[key] = call = ToolCallDraft(call_id, msg.get("name") or "", "")
        call.arguments = msg.get("arguments") or call.arguments
        call.call_id = call_id or call.call_id
        call.name = msg.get("name") or call.name

    # ------------------------------------------------------------------ responses and cancellation
    def _on_response_done(self, msg: dict[str, Any]) -> None:
        rid = msg["response"]["id"]
        timer = self._cancel_timers.pop(rid, None)
        if timer is not None:
            timer.cancel()
        super()._on_response_done(msg)
        self.qwen_host.response_ended()

    def _abandon(self, rid: str, idle: float) -> None:
        super()._abandon(rid, idle)
        self.hold.release(rid)
        self.qwen_host.response_ended()

    def cancel_target(self, *, barge_in: bool) -> str | None:
        """The response a ``response.cancel`` is for now, or None: nothing is generated, or its cancel was
        sent already (a thousand interrupts send one cancel per reply). A server barge-in also covers the
        reply that was generating when the user started to speak."""
        rid = self.active_response
        if barge_in:
            rid, self._barge_response = rid or self._barge_response, None
        if rid is None or rid in self.cancels_sent:
            return None
        if len(self.cancels_sent) > _MAX_TRACKED:
            self.cancels_sent.clear()
        self.cancels_sent.add(rid)
        if rid == self.active_response and rid not in self._cancel_timers:
            loop = asyncio.get_running_loop()
            self._cancel_timers[rid] = loop.call_later(self.cancel_grace_s, self._cancel_expired, rid)
        return rid

    def _cancel_expired(self, rid: str) -> None:
        """No ``response.done`` came for a cancelled response (as on qwen3.5): it is over all the same."""
        self._cancel_timers.pop(rid, None)
        if self.active_response != rid:
            return
        log.debug("qwen: no response.done for cancelled response %s; treating it as ended", rid)
        self.active_response = None
        self._calls.pop(rid, None)
        self.hold.release(rid)
        if self.ready:
            self.core.emit_audio_output_done_event(rid, interrupted=True)
        if self.deferred:
            self.host.response_slot_free()
        self.qwen_host.response_ended()
