"""DashScope server events of one connection → session events (realtime-openai's handler, DashScope dialect).

:class:`QwenEventHandler` reuses :class:`realtime_openai.handler.ServerEventHandler` (the response and tool
bookkeeping, audio and transcript routing, the setup futures) with the DashScope dialect, and adds what
differs on DashScope:

* user transcripts: qwen3.5 streams previews (``text`` confirmed so far + ``stash`` still tentative); the
  confirmed growth becomes ``delta`` events that concatenate to the final transcript;
* order: the user's transcript often arrives *after* ``response.created`` (it runs beside the model). The
  agent's transcript and text events of a response that answers a turn still being transcribed are held
  back (audio never is) until that transcript arrives, fails, or ``transcript_hold_s`` passes, so apps and
  the history see the user's words before the agent's;
* ``response.cancel`` may never get a ``response.done`` (observed on qwen3.5): a cancelled response counts as
  over after ``cancel_grace_s`` even without one;
* ``input_audio_buffer.committed`` (images need fresh audio after it, manual turns wait for it),
  ``session.finished``, and the "image before audio" race (not an app-visible error);
* close codes: idle closes (1007 with an idle reason) and the 120-minute cap are recoverable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from realtime_core import RealtimeError
from realtime_openai.handler import ServerEventHandler, _Call

from .config import OUTPUT_SAMPLE_RATE
from .dialect import DASHSCOPE
from .errors import IMAGE_BEFORE_AUDIO, classify_close

if TYPE_CHECKING:
    from realtime_openai.session import OpenAIRealtime

    from .link import QwenLink
    from .session import QwenRealtime

__all__ = ["QwenEventHandler"]

log = logging.getLogger("realtime_qwen.handler")
_MAX_TRACKED = 64


class _Gate:
    """Agent text of one response, held until the user transcripts it answers have arrived."""

    __slots__ = ("awaiting", "queue", "timer")

    def __init__(self, awaiting: set[str], timer: asyncio.TimerHandle) -> None:
        self.awaiting = awaiting
        self.queue: list[Callable[[], None]] = []
        self.timer = timer


class QwenEventHandler(ServerEventHandler):
    """See the module docstring. One handler per connection (a reconnect gets a fresh one).

    :param transcript_hold_s: longest wait for a user transcript before the agent's text goes out anyway
        (0 disables the ordering).
    :param cancel_grace_s: how long after ``response.cancel`` a missing ``response.done`` is waited for.
    """

    def __init__(self, session: QwenRealtime, *, transcript_hold_s: float = 3.0, cancel_grace_s: float = 1.5) -> None:
        # the base handler is typed for OpenAIRealtime; QwenRealtime offers the surface it uses (the core
        # emitters, _begin_response, _start_tool_calls, _renew, and _send_deferred_soon from the DialectSession
        # both share); the one OpenAI-only access (_config.interrupt_response in _on_speech_started) is
        # overridden below
        super().__init__(cast("OpenAIRealtime", session), DASHSCOPE, output_rate=OUTPUT_SAMPLE_RATE)
        self._q = session
        self.link: QwenLink | None = None
        self.transcript_hold_s = transcript_hold_s
        self.cancel_grace_s = cancel_grace_s
        loop = asyncio.get_running_loop()
        self.finished: asyncio.Future[None] = loop.create_future()
        self.user_speaking = False
        self.closing = False
        """Set by the session before ``session.finish``: errors from then on only end the wait."""
        self.cancelled: set[str] = set()
        self._transcribing: dict[str, float] = {}
        self._confirmed: dict[str, str] = {}
        self._gates: dict[str, _Gate] = {}
        self._cancel_timers: dict[str, asyncio.TimerHandle] = {}
        self._commit_waiter: asyncio.Future[bool] | None = None
        self._commit_event: str | None = None
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
        self._commit_waiter = fut
        self._commit_event = event_id
        return fut

    def connection_closed(self, code: int | None, reason: str) -> RealtimeError:
        error = self.fatal or classify_close(code, reason)
        self._fail_waiters(error)
        if not self.finished.done():
            self.finished.set_result(None)  # nothing more will come: close() need not wait
        self._resolve_commit(False)
        return error

    def dispose(self, *, release_held: bool = True) -> None:
        """The connection is gone or being replaced: stop timers; let held text out (core drops what is stale)
        or, when the session is closing, drop it."""
        for timer in self._cancel_timers.values():
            timer.cancel()
        self._cancel_timers.clear()
        for rid in list(self._gates):
            if release_held:
                self._release(rid)
            else:
                self._gates.pop(rid).timer.cancel()
        self._resolve_commit(False)
        if not self.finished.done():
            self.finished.set_result(None)

    def _on_session_finished(self, msg: dict[str, Any]) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    # ------------------------------------------------------------------ input buffer
    def _on_committed(self, msg: dict[str, Any]) -> None:
        if self.link is not None:
            self.link.buffer_committed()
        item_id = msg.get("item_id")
        if item_id and self._q._config.input_transcription and self.transcript_hold_s > 0:
            now = time.monotonic()
            self._transcribing[item_id] = now
            if len(self._transcribing) > _MAX_TRACKED:
                self._transcribing.pop(next(iter(self._transcribing)))
        self._resolve_commit(True)

    def _on_cleared(self, msg: dict[str, Any]) -> None:
        if self.link is not None:
            self.link.buffer_committed()

    def _resolve_commit(self, ok: bool) -> None:
        fut, self._commit_waiter = self._commit_waiter, None
        if fut is not None and not fut.done():
            fut.set_result(ok)

    def _on_error(self, msg: dict[str, Any]) -> None:
        payload = msg.get("error") or {}
        if self.closing:
            # e.g. "invalid event type" for session.finish (reported on one model): just close
            log.debug("qwen: error while finishing the session: %s", payload.get("message"))
            if not self.finished.done():
                self.finished.set_result(None)
            return
        if IMAGE_BEFORE_AUDIO in str(payload.get("message") or "").lower():
            # the server committed the buffer just before our frame arrived: the next frame is sent after
            # fresh audio. One lost snapshot is not worth an error event.
            if self.link is not None:
                self.link.buffer_committed()
            log.debug("qwen: a video frame raced a commit and was refused; the next one follows fresh audio")
            return
        if payload.get("event_id") in (None, self._commit_event):
            self._resolve_commit(False)
        super()._on_error(msg)

    # ------------------------------------------------------------------ user speech
    def _on_speech_started(self, msg: dict[str, Any]) -> None:
        self.user_speaking = True
        if not self.ready:
            return
        q = self._q
        q._core.emit_user_speech_started(item_id=msg.get("item_id"), audio_start_ms=msg.get("audio_start_ms"))
        if q._config.interrupt_response:
            q._barge_in_if_playing()

    def _on_speech_stopped(self, msg: dict[str, Any]) -> None:
        self.user_speaking = False
        super()._on_speech_stopped(msg)

    def _on_user_delta(self, msg: dict[str, Any]) -> None:
        item_id = msg.get("item_id")
        if not self.ready:
            return
        delta = msg.get("delta")
        if isinstance(delta, str):  # the OpenAI-style shape, should a model send it
            if delta:
                self._confirmed[item_id or ""] = self._confirmed.get(item_id or "", "") + delta
                self._q._core.emit_user_speech_transcription(delta, msg, mode="delta", item_id=item_id)
            return
        # qwen3.5 previews: "text" is what is confirmed so far, "stash" the tentative rest
        confirmed = msg.get("text")
        if not isinstance(confirmed, str):
            return
        key = item_id or ""
        before = self._confirmed.get(key, "")
        if len(confirmed) > len(before) and confirmed.startswith(before):
            self._confirmed[key] = confirmed
            self._q._core.emit_user_speech_transcription(confirmed[len(before) :], msg, mode="delta", item_id=item_id)
        if len(self._confirmed) > _MAX_TRACKED:
            self._confirmed.pop(next(iter(self._confirmed)))

    def _on_user_completed(self, msg: dict[str, Any]) -> None:
        item_id = msg.get("item_id")
        if self.ready:
            transcript = msg.get("transcript") or ""
            before = self._confirmed.pop(item_id or "", None)
            if before is not None and len(transcript) > len(before) and transcript.startswith(before):
                # the last words were still tentative: complete the deltas so they add up to the transcript
                self._q._core.emit_user_speech_transcription(
                    transcript[len(before) :], msg, mode="delta", item_id=item_id
                )
            self._q._core.emit_user_speech_transcription(transcript, msg, mode="final", item_id=item_id)
        self._transcript_arrived(item_id)

    def _on_user_failed(self, msg: dict[str, Any]) -> None:
        super()._on_user_failed(msg)
        self._confirmed.pop(msg.get("item_id") or "", None)
        self._transcript_arrived(msg.get("item_id"))

    def _transcript_arrived(self, item_id: str | None) -> None:
        if item_id is None:
            return
        self._transcribing.pop(item_id, None)
        for rid, gate in list(self._gates.items()):
            gate.awaiting.discard(item_id)
            if not gate.awaiting:
                self._release(rid)

    # ------------------------------------------------------------------ agent text, held for order
    def _on_response_created(self, msg: dict[str, Any]) -> None:
        super()._on_response_created(msg)
        if not self.ready or not self._transcribing:
            return
        now = time.monotonic()
        hold = self.transcript_hold_s
        for item_id, at in list(self._transcribing.items()):
            if now - at > hold:
                del self._transcribing[item_id]  # it never came (some models skip it in manual mode)
        if self._transcribing:
            rid = msg["response"]["id"]
            timer = asyncio.get_running_loop().call_later(hold, self._release, rid)
            self._gates[rid] = _Gate(set(self._transcribing), timer)

    def _release(self, rid: str) -> None:
        gate = self._gates.pop(rid, None)
        if gate is None:
            return
        gate.timer.cancel()
        for emit in gate.queue:
            emit()

    def _emit_text(self, rid: str, emit: Callable[[], None]) -> None:
        gate = self._gates.get(rid)
        if gate is None:
            emit()
        else:
            gate.queue.append(emit)

    def _on_transcript_delta(self, msg: dict[str, Any]) -> None:
        if self.ready:
            rid, delta = msg["response_id"], msg["delta"]
            self._emit_text(rid, lambda: self._q._core.emit_agent_speech_transcription(delta, mode="delta", response_id=rid))

    def _on_transcript_done(self, msg: dict[str, Any]) -> None:
        if self.ready:
            rid, text = msg["response_id"], msg.get("transcript") or ""
            self._emit_text(rid, lambda: self._q._core.emit_agent_speech_transcription(text, mode="final", response_id=rid))

    def _on_text_delta(self, msg: dict[str, Any]) -> None:
        if self.ready:
            rid, delta, item = msg["response_id"], msg["delta"], msg.get("item_id")
            self._emit_text(rid, lambda: self._q._core.emit_response_event(delta, rid, False, item))

    def _on_text_done(self, msg: dict[str, Any]) -> None:
        if self.ready:
            rid, text, item = msg["response_id"], msg.get("text") or "", msg.get("item_id")
            self._emit_text(rid, lambda: self._q._core.emit_response_event(text, rid, True, item))

    # ------------------------------------------------------------------ tool calls (ids may be missing)
    def _on_output_item(self, msg: dict[str, Any]) -> None:
        item = msg.get("item") or {}
        if item.get("type") != "function_call":
            return
        rid = msg.get("response_id") or self.active_response
        calls = self._calls.get(rid) if rid else None
        if calls is None:
            return
        key = item.get("id") or item.get("call_id") or ""
        call = calls.get(key)
        if call is None:
            calls[key] = _Call(item.get("call_id") or "", item.get("name") or "", item.get("arguments") or "")
        else:
            call.call_id = item.get("call_id") or call.call_id
            call.name = item.get("name") or call.name
            call.arguments = item.get("arguments") or call.arguments

    def _on_arguments_done(self, msg: dict[str, Any]) -> None:
        rid = msg.get("response_id") or self.active_response
        calls = self._calls.get(rid) if rid else None
        if calls is None:
            return
        call_id = msg.get("call_id") or ""
        key = msg.get("item_id") or call_id
        call = calls.get(key) or next((c for c in calls.values() if call_id and c.call_id == call_id), None)
        if call is None:
            calls[key] = call = _Call(call_id, msg.get("name") or "", "")
        call.arguments = msg.get("arguments") or call.arguments
        call.call_id = call_id or call.call_id
        call.name = msg.get("name") or call.name

    # ------------------------------------------------------------------ responses and cancellation
    def _on_response_done(self, msg: dict[str, Any]) -> None:
        rid = msg["response"]["id"]
        timer = self._cancel_timers.pop(rid, None)
        if timer is not None:
            timer.cancel()
        self.cancelled.discard(rid)
        super()._on_response_done(msg)
        self._q._response_ended()

    def note_cancel(self, rid: str) -> None:
        """The session sent ``response.cancel`` for ``rid``: end it by ``cancel_grace_s`` even if the
        server never sends its ``response.done``."""
        if len(self.cancelled) > _MAX_TRACKED:
            self.cancelled.clear()
        self.cancelled.add(rid)
        if rid == self.active_response and rid not in self._cancel_timers:
            self._cancel_timers[rid] = asyncio.get_running_loop().call_later(
                self.cancel_grace_s, self._cancel_expired, rid
            )

    def _cancel_expired(self, rid: str) -> None:
        self._cancel_timers.pop(rid, None)
        self.cancelled.discard(rid)
        if self.active_response != rid:
            return
        log.debug("qwen: no response.done for cancelled response %s; treating it as ended", rid)
        self.active_response = None
        self._calls.pop(rid, None)
        self._release(rid)
        if self.ready:
            self._q._core.emit_audio_output_done_event(rid, interrupted=True)
        if self.deferred:
            self._q._send_deferred_soon()
        self._q._response_ended()
