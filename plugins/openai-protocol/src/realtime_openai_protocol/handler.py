"""One connection's server events → realtime-core calls (any transport, any dialect).

:class:`ServerEventHandler` receives decoded server events, keeps the per-connection protocol state (the
response in progress, function calls being streamed, which item carries a response's audio, what the
client is waiting for during setup), and reports through the session's :class:`~realtime_core.SessionCore`.
The little it needs of the session it asks of a :class:`~realtime_openai_protocol.ProtocolHost`; it never
sends anything itself. One handler per connection; a reconnect gets a fresh one, like the server does.

Beyond routing, it keeps three promises the server does not:

* **no reply blocks the next one for good**: a response that was created but sends nothing more for
  ``response_timeout`` seconds (a lost ``response.done``) is treated as ended and reported, and the
  ``response.create`` requests waiting for it go out;
* **no response that never ends**: audio for a response id the server never opened is dropped and
  reported once, so core never starts a response nothing will finish;
* **no errors the SDK caused itself**: the race of a cancel arriving after its response ended is dropped.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from realtime_core import PcmData, ProtocolError, ProviderError, RateLimit, RealtimeError, SessionCore, ToolCall

from .dialect import GA, Dialect
from .host import ProtocolHost
from .setup import SetupWaits
from .usage import emit_response_usage, emit_transcription_usage
from .watchdog import SilentResponseWatch

__all__ = ["ServerEventHandler", "ToolCallDraft"]

log = logging.getLogger("realtime_openai_protocol.handler")
_MAX_TRACKED = 256


class ToolCallDraft:
    """A function call being streamed: its fields fill in as ``response.output_item.*`` and
    ``response.function_call_arguments.done`` arrive."""

    __slots__ = ("arguments", "call_id", "name")

    def __init__(self, call_id: str, name: str, arguments: str) -> None:
        self.call_id = call_id
        self.name = name
        self.arguments = arguments


class ServerEventHandler:
    """Handles the server events of one connection (see the module docstring).

    :param core: the session's :class:`~realtime_core.SessionCore`.
    :param host: what the handler needs of the session (:class:`~realtime_openai_protocol.ProtocolHost`).
    :param dialect: the protocol variant (event names, error codes).
    :param output_rate: the rate of the PCM in audio deltas.
    :param response_timeout: seconds a created response may stay silent before it counts as ended (None:
        never; see the module docstring).

    :ivar ready: False while the session is still setting the connection up; events are then only
        used for bookkeeping and never reach the app (so the connected event always comes first).
    :ivar active_response: the response the server is generating (``response.created`` seen, no
        ``response.done`` yet).
    :ivar audio_items: response id → the assistant item carrying its audio (for truncation).
    :ivar deferred: ``response.create`` events waiting for the active response to end.
    :ivar fatal: the last error after which reconnecting cannot help (reported with the close).
    """

    def __init__(
        self,
        core: SessionCore,
        host: ProtocolHost,
        *,
        dialect: Dialect = GA,
        output_rate: int = 24000,
        response_timeout: float | None = 30.0,
    ) -> None:
        self.core = core
        self.host = host
        self.dialect = dialect
        self.output_rate = output_rate
        self.ready = False
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.setup = SetupWaits(loop)
        """What the connection's setup (and a history replay) waits for."""
        self.active_response: str | None = None
        self.audio_items: OrderedDict[str, str] = OrderedDict()
        self.fatal: RealtimeError | None = None
        self.deferred: list[dict[str, Any]] = []
        self.cancels_sent: set[str] = set()
        """Responses the client already sent ``response.cancel`` for (one cancel per reply)."""
        self.responses_abandoned = 0
        """Responses treated as ended because the server went silent on them (see the module docstring)."""
        self._known: OrderedDict[str, None] = OrderedDict()
        self._unknown_reported: set[str] = set()
        self.watch = SilentResponseWatch(loop, response_timeout, lambda: self.active_response, self._abandon)
        self._early_errors: list[RealtimeError] = []
        self._sent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._calls: dict[str, dict[str, ToolCallDraft]] = {}
        d = dialect
        routes: dict[str, Callable[[dict[str, Any]], None]] = {
            d.audio_delta: self._on_audio_delta,
            d.transcript_delta: self._on_transcript_delta,
            d.text_delta: self._on_text_delta,
            d.transcript_done: self._on_transcript_done,
            d.text_done: self._on_text_done,
            d.item_added: self.setup.item_added,
            "session.created": self.setup.created,
            "session.updated": self.setup.updated,
            "error": self._on_error,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "input_audio_buffer.committed": self._on_audio_confirmed,
            "input_audio_buffer.timeout_triggered": self._on_audio_confirmed,
            "conversation.item.input_audio_transcription.delta": self._on_user_delta,
            "conversation.item.input_audio_transcription.completed": self._on_user_completed,
            "conversation.item.input_audio_transcription.failed": self._on_user_failed,
            "response.created": self._on_response_created,
            "response.output_item.added": self._on_output_item,
            "response.output_item.done": self._on_output_item,
            "response.function_call_arguments.done": self._on_arguments_done,
            "response.done": self._on_response_done,
            "rate_limits.updated": self._on_rate_limits,
        }
        self._routes = routes

    # ------------------------------------------------------------------ entry points
    def activate(self) -> None:
        """The connection is set up: from now on events reach the app (errors that came early first)."""
        self.ready = True
        early, self._early_errors = self._early_errors, []
        for error in early:
            self.core.emit_error_event(error, context="server error")

    def handle(self, message: dict[str, Any]) -> None:
        """Handle one server event (unknown types are ignored: the protocol grows)."""
        active = self.active_response
        if active is not None and message.get("response_id") == active:
            self.watch.traffic()
        route = self._routes.get(message.get("type"))  # type: ignore[arg-type]
        if route is not None:
            route(message)

    def sent(self, event: dict[str, Any]) -> None:
        """Remember a client event that carries an ``event_id`` (to correlate a later ``error``)."""
        event_id = event.get("event_id")
        if event_id:
            kind = event.get("type")
            # keep response.create whole (it may be re-sent); of the rest only the type (images are big)
            self._sent[event_id] = event if kind == "response.create" else {"type": kind}
            if len(self._sent) > _MAX_TRACKED:
                self._sent.popitem(last=False)

    @property
    def session_created(self) -> asyncio.Future[dict[str, Any]]:
        """Resolved by ``session.created`` (failed by an error or the end of the connection)."""
        return self.setup.session_created

    @property
    def server_session(self) -> dict[str, Any]:
        """The session as the server last described it (``session.created`` / ``session.updated``)."""
        return self.setup.server_session

    def expect_update(self, event_id: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the ``session.updated`` answering the ``session.update`` sent with ``event_id``."""
        return self.setup.expect_update(event_id)

    def expect_item(self, item_id: str, event_id: str) -> asyncio.Future[None]:
        """A future resolved when the item ``item_id`` was added (or failed with the error of ``event_id``)."""
        return self.setup.expect_item(item_id, event_id)

    def defer(self, event: dict[str, Any]) -> None:
        """Hold a ``response.create`` until the active response ends (the server refuses a second one)."""
        self.deferred.append(event)
        self.watch.arm()

    def take_deferred(self) -> dict[str, Any] | None:
        return self.deferred.pop(0) if self.deferred else None

    def claim_cancel(self) -> str | None:
        """The response a ``response.cancel`` should go to now, or None: nothing is being generated, or
        its cancel was already sent (many interrupts send one cancel per reply)."""
        rid = self.active_response
        if rid is None or rid in self.cancels_sent:
            return None
        if len(self.cancels_sent) > _MAX_TRACKED:
            self.cancels_sent.clear()
        self.cancels_sent.add(rid)
        return rid

    def connection_closed(self, code: int | None, reason: str) -> RealtimeError:
        """The transport ended unexpectedly: fail whatever the setup waits for, say why it closed."""
        error = self.fatal or self.dialect.classify_close(code, reason)
        self._fail_waiters(error)
        self.close()
        return error

    def close(self) -> None:
        """The connection is gone or replaced: stop the timers (idempotent)."""
        self.watch.close()

    def _fail_waiters(self, error: BaseException) -> None:
        self.setup.fail(error)

    # ------------------------------------------------------------------ errors
    def _on_error(self, msg: dict[str, Any]) -> None:
        payload = msg.get("error") or {}
        code = payload.get("code")
        event_id = payload.get("event_id")
        sent = self._sent.get(event_id) if event_id else None
        kind = sent.get("type") if sent else None
        if self.dialect.is_benign_error(payload, kind):
            return  # e.g. our cancel raced the end of the response: harmless, and ours
        if code == "conversation_already_has_active_response" and kind == "response.create" and sent is not None:
            self.deferred.insert(0, sent)  # sent again when the active response is done
            if self.active_response is None:
                self.host.response_slot_free()
            else:
                self.watch.arm()
            return
        error = self.dialect.error_from_payload(payload, context=f"in reply to {kind}" if kind else "")
        if self.dialect.is_fatal(error):
            self.fatal = error
        if self.setup.update_failed(event_id, self.dialect.setup_error(error, payload), ready=self.ready):
            return
        if self.setup.item_failed(event_id, error):
            return
        if not self.ready:
            if self.setup.waiting:
                self.setup.fail(self.dialect.setup_error(error, payload))
            else:
                self._early_errors.append(error)  # reported once the connection is handed to the app
            return
        self.core.emit_error_event(error, context=f"server error ({kind})" if kind else "server error")
        if code == "session_expired":
            self.core.renew("session_expired")

    # ------------------------------------------------------------------ user speech
    def _on_audio_confirmed(self, msg: dict[str, Any]) -> None:
        # the server committed the input buffer (or its idle timeout did): it has our audio up to here
        self.core.audio_confirmed()

    def _on_speech_started(self, msg: dict[str, Any]) -> None:
        core = self.core
        core.audio_confirmed()
        if not self.ready:
            return
        core.emit_user_speech_started(item_id=msg.get("item_id"), audio_start_ms=msg.get("audio_start_ms"))
        if self.host.interrupts_on_speech and self.agent_audible():
            core.handle_barge_in()

    def agent_audible(self) -> bool:
        """Whether the user may be hearing the agent (user speech now is a barge-in). A transport that
        plays the audio itself (WebRTC) adds what it knows."""
        core = self.core
        return core.responding or core.agent_audible

    def _on_speech_stopped(self, msg: dict[str, Any]) -> None:
        self.core.audio_confirmed()
        if self.ready:
            self.core.emit_user_speech_stopped(item_id=msg.get("item_id"), audio_end_ms=msg.get("audio_end_ms"))

    def _on_user_delta(self, msg: dict[str, Any]) -> None:
        delta = msg.get("delta")
        if self.ready and delta:
            self.core.emit_user_speech_transcription(delta, msg, mode="delta", item_id=msg.get("item_id"))

    def _on_user_completed(self, msg: dict[str, Any]) -> None:
        if not self.ready:
            return
        self.core.emit_user_speech_transcription(msg.get("transcript") or "", msg, mode="final", item_id=msg.get("item_id"))
        usage = msg.get("usage")
        if isinstance(usage, dict):
            emit_transcription_usage(self.core, usage, item_id=msg.get("item_id"))

    def _on_user_failed(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self.core.emit_error_event(
                self.dialect.error_from_payload(msg.get("error"), context="input transcription"),
                context="transcription",
            )

    # ------------------------------------------------------------------ responses
    def _on_response_created(self, msg: dict[str, Any]) -> None:
        rid = msg["response"]["id"]
        self.active_response = rid
        self.watch.traffic()
        self._known[rid] = None
        if len(self._known) > _MAX_TRACKED:
            self._known.popitem(last=False)
        self._calls[rid] = {}
        if self.ready:
            self.core.begin_response(rid)
        self.watch.arm()

    def _on_output_item(self, msg: dict[str, Any]) -> None:
        item = msg["item"]
        if item.get("type") != "function_call":
            return
        calls = self._calls.get(msg["response_id"])
        if calls is None:
            return
        call = calls.get(item["id"])
        if call is None:
            calls[item["id"]] = ToolCallDraft(item.get("call_id") or "", item.get("name") or "", item.get("arguments") or "")
        else:
            call.call_id = item.get("call_id") or call.call_id
            call.name = item.get("name") or call.name
            call.arguments = item.get("arguments") or call.arguments

    def _on_arguments_done(self, msg: dict[str, Any]) -> None:
        calls = self._calls.get(msg["response_id"])
        if calls is None:
            return
        call = calls.get(msg["item_id"])
        if call is None:
            calls[msg["item_id"]] = call = ToolCallDraft(msg.get("call_id") or "", msg.get("name") or "", "")
        call.arguments = msg.get("arguments") or ""
        call.call_id = msg.get("call_id") or call.call_id
        call.name = msg.get("name") or call.name

    def _on_audio_delta(self, msg: dict[str, Any]) -> None:
        rid = msg["response_id"]
        data = binascii.a2b_base64(msg["delta"], strict_mode=True)  # C speed; garbage raises
        if not self.ready or not data:
            return
        if rid not in self._known:
            self._unknown_response(rid)
            return
        self.remember_audio_item(rid, msg["item_id"])
        self.core.emit_audio_output_event(PcmData.from_bytes(data, self.output_rate), rid)

    def remember_audio_item(self, response_id: str, item_id: str) -> None:
        """Note the assistant item that carries ``response_id``'s audio (what a truncate names)."""
        items = self.audio_items
        if response_id not in items:
            items[response_id] = item_id
            if len(items) > _MAX_TRACKED:
                items.popitem(last=False)

    def _unknown_response(self, rid: str) -> None:
        """Audio for a response the server never opened: dropped (core would start a response that nothing
        ends), and reported once per id."""
        if rid in self._unknown_reported:
            return
        if len(self._unknown_reported) > _MAX_TRACKED:
            self._unknown_reported.clear()
        self._unknown_reported.add(rid)
        self.core.emit_error_event(
            ProtocolError(
                f"audio for response {rid!r}, which the server never created; dropped",
                code="unknown_response",
                provider=self.dialect.provider,
            ),
            context="receive",
        )

    def _on_transcript_delta(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self.core.emit_agent_speech_transcription(msg["delta"], mode="delta", response_id=msg["response_id"])

    def _on_transcript_done(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self.core.emit_agent_speech_transcription(
                msg.get("transcript") or "", mode="final", response_id=msg["response_id"]
            )

    def _on_text_delta(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self.core.emit_response_event(msg["delta"], msg["response_id"], False, msg.get("item_id"))

    def _on_text_done(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self.core.emit_response_event(msg.get("text") or "", msg["response_id"], True, msg.get("item_id"))

    def _on_response_done(self, msg: dict[str, Any]) -> None:
        response = msg["response"]
        rid = response["id"]
        status = response.get("status")
        if self.active_response == rid:
            self.active_response = None
        calls = self._calls.pop(rid, {})
        if self.ready:
            core = self.core
            # one done per response, at its end: a response the server cancelled (barge-in before any
            # audio, or a cancel) ends "interrupted"; those cut locally were already finished by core
            self._audio_done(rid, response)
            usage = response.get("usage")
            if usage:
                emit_response_usage(core, rid, usage)
            if status == "failed":
                details = response.get("status_details") or {}
                error = self.dialect.error_from_payload(details.get("error"), context="response failed")
                if self.dialect.is_fatal(error):
                    self.fatal = error
                core.emit_error_event(error, context="response")
            if status == "completed" and calls:
                core.start_tool_calls(
                    [ToolCall(c.call_id, c.name, c.arguments, response_id=rid) for c in calls.values() if c.call_id]
                )
        if self.deferred and self.active_response is None:
            self.host.response_slot_free()

    def _audio_done(self, rid: str, response: dict[str, Any]) -> None:
        """The response ended (``response`` is ``response.done``'s object): its one audio-done event. A
        transport whose audio arrives out of band (WebRTC: on a media track, still playing after
        ``response.done``) overrides this to defer it."""
        self.core.emit_audio_output_done_event(rid, interrupted=response.get("status") == "cancelled")

    def _on_rate_limits(self, msg: dict[str, Any]) -> None:
        if not self.ready:
            return
        limits = [
            RateLimit(
                name=str(r.get("name") or "unknown"),
                limit=r.get("limit"),
                remaining=r.get("remaining"),
                reset_seconds=r.get("reset_seconds"),
            )
            for r in msg.get("rate_limits") or ()
        ]
        self.core.emit_rate_limits_event(limits)

    # ------------------------------------------------------------------ a response gone silent
    def _abandon(self, rid: str, idle: float) -> None:
        """The server went silent on ``rid`` without ending it: treat it as ended, say so, and let the
        requests that waited for it go."""
        log.warning("%s: response %s sent nothing for %.1f s and never ended; treated as ended", self.dialect.provider, rid, idle)
        self.responses_abandoned += 1
        self.active_response = None
        self._calls.pop(rid, None)
        if self.ready:
            self.core.emit_error_event(
                ProviderError(
                    f"response {rid} sent nothing for {idle:.1f} s and never ended (no response.done); treated as ended",
                    code="response_timeout",
                    provider=self.dialect.provider,
                ),
                context="response",
            )
            self.core.emit_audio_output_done_event(rid, interrupted=True)
        if self.deferred:
            self.host.response_slot_free()
