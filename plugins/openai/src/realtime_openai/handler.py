"""The transport-agnostic protocol layer: server events of one connection → session events.

:class:`ServerEventHandler` receives decoded server events (from any transport), keeps the per-connection
protocol state (the response in progress, function calls being streamed, which item carries a response's
audio, what the client is waiting for), and reports through the session's core emitters. It never sends
anything itself: follow-ups (a deferred ``response.create``, a renewal on ``session_expired``) go back to
the session. One handler per connection; a reconnect gets a fresh one, like the server does.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from realtime_core import ConfigurationError, PcmData, ProviderError, RateLimit, RealtimeError, ToolCall
from realtime_core.transport import classify_close

from .dialect import Dialect

if TYPE_CHECKING:
    from .session import OpenAIRealtime

__all__ = ["ServerEventHandler"]

log = logging.getLogger("realtime_openai.handler")
_MAX_TRACKED = 256


class _Call:
    __slots__ = ("arguments", "call_id", "name")

    def __init__(self, call_id: str, name: str, arguments: str) -> None:
        self.call_id = call_id
        self.name = name
        self.arguments = arguments


class ServerEventHandler:
    """Handles the server events of one connection (see the module docstring).

    :ivar ready: False while the session is still setting the connection up; events are then only
        used for bookkeeping and never reach the app (so the connected event always comes first).
    :ivar active_response: the response the server is generating (``response.created`` seen, no
        ``response.done`` yet).
    :ivar audio_items: response id → the assistant item carrying its audio (for truncation).
    :ivar fatal: the last error after which reconnecting cannot help (reported with the close).
    """

    def __init__(self, session: OpenAIRealtime, dialect: Dialect, *, output_rate: int) -> None:
        self._s = session
        self.dialect = dialect
        self.output_rate = output_rate
        self.ready = False
        loop = asyncio.get_running_loop()
        self.session_created: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.server_session: dict[str, Any] = {}
        self.active_response: str | None = None
        self.audio_items: OrderedDict[str, str] = OrderedDict()
        self.fatal: RealtimeError | None = None
        self.deferred: list[dict[str, Any]] = []
        self._early_errors: list[RealtimeError] = []
        self._update: tuple[str, asyncio.Future[dict[str, Any]]] | None = None
        self._items: dict[str, asyncio.Future[None]] = {}
        self._item_events: dict[str, str] = {}
        self._sent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._calls: dict[str, dict[str, _Call]] = {}
        d = dialect
        routes: dict[str, Callable[[dict[str, Any]], None]] = {
            d.audio_delta: self._on_audio_delta,
            d.transcript_delta: self._on_transcript_delta,
            d.text_delta: self._on_text_delta,
            d.transcript_done: self._on_transcript_done,
            d.text_done: self._on_text_done,
            d.item_added: self._on_item_added,
            "session.created": self._on_session_created,
            "session.updated": self._on_session_updated,
            "error": self._on_error,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
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
            self._s._core.emit_error_event(error, context="server error")

    def handle(self, message: dict[str, Any]) -> None:
        """Handle one server event (unknown types are ignored: the protocol grows)."""
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

    def expect_update(self, event_id: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the ``session.updated`` answering the ``session.update`` sent with ``event_id``."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._update = (event_id, fut)
        return fut

    def expect_item(self, item_id: str, event_id: str) -> asyncio.Future[None]:
        """A future resolved when the item ``item_id`` was added (or failed with the error of ``event_id``)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._items[item_id] = fut
        self._item_events[event_id] = item_id
        return fut

    def take_deferred(self) -> dict[str, Any] | None:
        return self.deferred.pop(0) if self.deferred else None

    def connection_closed(self, code: int | None, reason: str) -> RealtimeError:
        """The transport ended unexpectedly: fail whatever the setup waits for, say why it closed."""
        error = self.fatal or classify_close(code, reason, provider=self.dialect.provider)
        self._fail_waiters(error)
        return error

    # ------------------------------------------------------------------ setup
    def _on_session_created(self, msg: dict[str, Any]) -> None:
        self.server_session = msg.get("session") or {}
        if not self.session_created.done():
            self.session_created.set_result(self.server_session)

    def _on_session_updated(self, msg: dict[str, Any]) -> None:
        self.server_session = msg.get("session") or {}
        pending, self._update = self._update, None
        if pending is not None and not pending[1].done():
            pending[1].set_result(self.server_session)

    def _on_item_added(self, msg: dict[str, Any]) -> None:
        item_id = (msg.get("item") or {}).get("id")
        fut = self._items.pop(item_id, None) if item_id else None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _has_waiters(self) -> bool:
        return not self.session_created.done() or self._update is not None or bool(self._items)

    def _fail_waiters(self, error: BaseException) -> None:
        futures: list[asyncio.Future[Any]] = [self.session_created, *self._items.values()]
        if self._update is not None:
            futures.append(self._update[1])
        for fut in futures:
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # mark retrieved: nobody may be waiting on every one of them
        self._items.clear()
        self._update = None

    # ------------------------------------------------------------------ errors
    def _on_error(self, msg: dict[str, Any]) -> None:
        payload = msg.get("error") or {}
        code = payload.get("code")
        event_id = payload.get("event_id")
        sent = self._sent.get(event_id) if event_id else None
        kind = sent.get("type") if sent else None
        if self.dialect.is_benign_error(payload, kind):
            return  # e.g. our cancel raced the end of the response: harmless
        if code == "conversation_already_has_active_response" and kind == "response.create" and sent is not None:
            self.deferred.insert(0, sent)  # sent again when the active response is done
            if self.active_response is None:
                self._s._send_deferred_soon()
            return
        error = self.dialect.error_from_payload(payload, context=f"in reply to {kind}" if kind else "")
        if self.dialect.is_fatal(error):
            self.fatal = error
        if self._update is not None and (event_id == self._update[0] or not self.ready):
            _, fut = self._update
            self._update = None
            if not fut.done():
                if type(error) is ProviderError:
                    error = ConfigurationError(
                        f"the server rejected the session configuration: {error.message}",
                        code=error.code,
                        provider=self.dialect.provider,
                    )
                fut.set_exception(error)
            return
        item_id = self._item_events.pop(event_id, None) if event_id else None
        if item_id is not None:
            fut = self._items.pop(item_id, None)
            if fut is not None and not fut.done():
                fut.set_exception(error)
                return
        if not self.ready:
            if self._has_waiters():
                self._fail_waiters(error)
            else:
                self._early_errors.append(error)  # reported once the connection is handed to the app
            return
        self._s._core.emit_error_event(error, context=f"server error ({kind})" if kind else "server error")
        if code == "session_expired":
            self._s._core.renew("session_expired")

    # ------------------------------------------------------------------ user speech
    def _on_speech_started(self, msg: dict[str, Any]) -> None:
        if not self.ready:
            return
        s = self._s
        s._core.emit_user_speech_started(item_id=msg.get("item_id"), audio_start_ms=msg.get("audio_start_ms"))
        if s._config.interrupt_response:
            s._barge_in_if_playing()

    def _on_speech_stopped(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self._s._core.emit_user_speech_stopped(item_id=msg.get("item_id"), audio_end_ms=msg.get("audio_end_ms"))

    def _on_user_delta(self, msg: dict[str, Any]) -> None:
        delta = msg.get("delta")
        if self.ready and delta:
            self._s._core.emit_user_speech_transcription(delta, msg, mode="delta", item_id=msg.get("item_id"))

    def _on_user_completed(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self._s._core.emit_user_speech_transcription(
                msg.get("transcript") or "", msg, mode="final", item_id=msg.get("item_id")
            )

    def _on_user_failed(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self._s._core.emit_error_event(
                self.dialect.error_from_payload(msg.get("error"), context="input transcription"),
                context="transcription",
            )

    # ------------------------------------------------------------------ responses
    def _on_response_created(self, msg: dict[str, Any]) -> None:
        rid = msg["response"]["id"]
        self.active_response = rid
        self._calls[rid] = {}
        if self.ready:
            self._s._core.begin_response(rid)

    def _on_output_item(self, msg: dict[str, Any]) -> None:
        item = msg["item"]
        if item.get("type") != "function_call":
            return
        calls = self._calls.get(msg["response_id"])
        if calls is None:
            return
        call = calls.get(item["id"])
        if call is None:
            calls[item["id"]] = _Call(item.get("call_id") or "", item.get("name") or "", item.get("arguments") or "")
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
            calls[msg["item_id"]] = call = _Call(msg.get("call_id") or "", msg.get("name") or "", "")
        call.arguments = msg.get("arguments") or ""
        call.call_id = msg.get("call_id") or call.call_id
        call.name = msg.get("name") or call.name

    def _on_audio_delta(self, msg: dict[str, Any]) -> None:
        rid = msg["response_id"]
        data = binascii.a2b_base64(msg["delta"], strict_mode=True)  # C speed; garbage raises
        if not self.ready or not data:
            return
        pcm = PcmData.from_bytes(data, self.output_rate)
        items = self.audio_items
        if rid not in items:
            items[rid] = msg["item_id"]
            if len(items) > _MAX_TRACKED:
                items.popitem(last=False)
        self._s._core.emit_audio_output_event(pcm, rid)

    def _on_transcript_delta(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self._s._core.emit_agent_speech_transcription(msg["delta"], mode="delta", response_id=msg["response_id"])

    def _on_transcript_done(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self._s._core.emit_agent_speech_transcription(
                msg.get("transcript") or "", mode="final", response_id=msg["response_id"]
            )

    def _on_text_delta(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self._s._core.emit_response_event(msg["delta"], msg["response_id"], False, msg.get("item_id"))

    def _on_text_done(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self._s._core.emit_response_event(msg.get("text") or "", msg["response_id"], True, msg.get("item_id"))

    def _on_response_done(self, msg: dict[str, Any]) -> None:
        response = msg["response"]
        rid = response["id"]
        status = response.get("status")
        if self.active_response == rid:
            self.active_response = None
        calls = self._calls.pop(rid, {})
        if self.ready:
            s = self._s
            # one done per response, at its end: a response the server cancelled (barge-in before any
            # audio, or a cancel) ends "interrupted"; those cut locally were already finished by core
            self._audio_done(rid, response)
            usage = response.get("usage")
            if usage:
                _emit_usage(s, rid, usage)
            if status == "failed":
                details = response.get("status_details") or {}
                error = self.dialect.error_from_payload(details.get("error"), context="response failed")
                if self.dialect.is_fatal(error):
                    self.fatal = error
                s._core.emit_error_event(error, context="response")
            if status == "completed" and calls:
                s._core.start_tool_calls(
                    [ToolCall(c.call_id, c.name, c.arguments, response_id=rid) for c in calls.values() if c.call_id]
                )
        if self.deferred and self.active_response is None:
            self._s._send_deferred_soon()

    def _audio_done(self, rid: str, response: dict[str, Any]) -> None:
        """The response ended (``response`` is ``response.done``'s object): its one audio-done event. A
        transport whose audio arrives out of band (WebRTC: on a media track, still playing after
        ``response.done``) overrides this to defer it."""
        self._s._core.emit_audio_output_done_event(rid, interrupted=response.get("status") == "cancelled")

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
        self._s._core.emit_rate_limits_event(limits)


def _emit_usage(session: OpenAIRealtime, rid: str, usage: dict[str, Any]) -> None:
    # OpenAI spells them input_token_details; DashScope input_tokens_details
    inp = usage.get("input_token_details") or usage.get("input_tokens_details") or {}
    out = usage.get("output_token_details") or usage.get("output_tokens_details") or {}
    session._core.emit_usage_event(
        rid,
        raw=usage,
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        total_tokens=usage.get("total_tokens"),
        input_text_tokens=inp.get("text_tokens"),
        input_audio_tokens=inp.get("audio_tokens"),
        input_image_tokens=inp.get("image_tokens"),
        cached_input_tokens=inp.get("cached_tokens"),
        output_text_tokens=out.get("text_tokens"),
        output_audio_tokens=out.get("audio_tokens"),
    )
