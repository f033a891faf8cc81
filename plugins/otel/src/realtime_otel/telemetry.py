"""One session's spans and metrics: what each realtime event means in OpenTelemetry terms.

Spans (all children of the session span, which is a child of whatever span was current at ``connect()``):

* ``realtime_session {model}`` from ``connect()`` to the final disconnect;
* ``user_speech`` from the user's speech started to speech stopped;
* ``realtime_inference {model}`` per response, from the end of the user's turn (speech stopped, text
  input, ``say``; else the response's first event) to its done event, with time to first audio and usage;
* ``execute_tool {name}`` per tool call, a child of the response that asked for it.

Times come from the events' own timestamps, so a span's duration is what the session saw, not when the
hook ran. A response span waits after its done event for the metrics and usage events that follow it
(only as long as the provider reports usage) and is ended at the done event's time.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, Tracer

from . import semconv as sc
from .instruments import Attributes, Instruments, usage_attributes

if TYPE_CHECKING:  # the event classes (pydantic) load with the first session, not at discovery
    from realtime_core import (
        RealtimeConnectedEvent,
        RealtimeDisconnectedEvent,
        RealtimeErrorEvent,
        RealtimeEvent,
        RealtimeInterruptedEvent,
        RealtimeMetricsEvent,
        RealtimeReconnectedEvent,
        RealtimeToolCallFinishedEvent,
        RealtimeToolCallStartedEvent,
        RealtimeUsageEvent,
    )

MAX_OPEN_RESPONSES = 16
"""Open response spans kept per session; past that the oldest is ended (a provider that never sends done)."""
MAX_RECENT_RESPONSES = 16
"""Ended responses remembered per session, so late events (usage, tool calls) find their parent."""


def ns(event: RealtimeEvent) -> int:
    """An event's wall-clock timestamp in nanoseconds, as spans take it."""
    return int(event.timestamp * 1e9)


def error_type(error: BaseException | None) -> str:
    """A low-cardinality ``error.type``: the error's code if it has one, else its class name."""
    if error is None:
        return sc.ERROR_TYPE_OTHER
    code = getattr(error, "code", None)
    return str(code) if code else type(error).__name__


@dataclass(eq=False)
class _Response:
    span: Span
    start_ns: int
    audio: bool = False
    done: bool = False
    end_ns: int | None = None
    metrics_seen: bool = False
    usage_seen: bool = False
    usage: dict[str, int] = field(default_factory=dict[str, int])


class SessionTelemetry:
    """The spans and metrics of one session; fed by :class:`~realtime_otel.plugin.RealtimeOtel`."""

    def __init__(
        self,
        tracer: Tracer,
        instruments: Instruments,
        *,
        session_id: str,
        provider: str,
        model: str | None,
        start_ns: int,
    ) -> None:
        self._tracer = tracer
        self._instruments = instruments
        self.session_id = session_id
        self.provider = provider
        self.model = model
        self.start_ns = start_ns
        self.connected = False
        self.expects_usage = False
        self.span = tracer.start_span(
            self._name(sc.SPAN_SESSION),
            context=None,  # the current context: a child of the app's span around connect()
            kind=SpanKind.INTERNAL,
            attributes={
                **self.attributes(),
                sc.SYSTEM: sc.gen_ai_provider(provider),
                sc.REALTIME_SESSION_ID: session_id,
            },
            start_time=start_ns,
        )
        self._context = trace.set_span_in_context(self.span)
        self._turn_end_ns: int | None = None
        self._user_speech: Span | None = None
        self._responses: OrderedDict[str, _Response] = OrderedDict()
        self._recent: OrderedDict[str, SpanContext] = OrderedDict()
        self._tools: dict[str, Span] = {}
        self._last_error: BaseException | None = None
        self._counts = {sc.SESSION_RESPONSES: 0, sc.SESSION_INTERRUPTIONS: 0, sc.SESSION_RECONNECTIONS: 0}

    # ---------------------------------------------------------------- naming
    def _name(self, operation: str) -> str:
        return f"{operation} {self.model}" if self.model else f"{operation} {self.provider}"

    def attributes(self) -> Attributes:
        """What every span and metric of this session carries: provider (and model, when known)."""
        attrs: Attributes = {sc.PROVIDER_NAME: sc.gen_ai_provider(self.provider), sc.PROVIDER: self.provider}
        if self.model:
            attrs[sc.REQUEST_MODEL] = self.model
        return attrs

    # ---------------------------------------------------------------- connection
    def on_connected(self, event: RealtimeConnectedEvent) -> None:
        self.connected = True
        self.expects_usage = event.capabilities.usage
        if not self.model:
            model = event.session_config.get("model")
            if isinstance(model, str) and model:
                self.model = model
                self.span.update_name(self._name(sc.SPAN_SESSION))
                self.span.set_attribute(sc.REQUEST_MODEL, model)
        self.span.add_event(sc.EVENT_CONNECTED, timestamp=ns(event))

    def on_reconnected(self, event: RealtimeReconnectedEvent) -> None:
        self._counts[sc.SESSION_RECONNECTIONS] += 1
        self._instruments.reconnections.add(
            1,
            {
                **self.attributes(),
                sc.RECONNECT_PLANNED: event.planned,
                sc.RECONNECT_STATE_RESTORED: event.state_restored,
            },
        )
        self.span.add_event(
            sc.EVENT_RECONNECTED,
            {
                sc.RECONNECT_PLANNED: event.planned,
                sc.RECONNECT_STATE_RESTORED: event.state_restored,
                sc.RECONNECT_ATTEMPTS: event.attempts,
                sc.RECONNECT_REPLAYED_AUDIO_MS: event.replayed_audio_ms,
                sc.RECONNECT_LOST_AUDIO_MS: event.lost_audio_ms,
            },
            timestamp=ns(event),
        )

    def on_connection_lost(self, event: RealtimeDisconnectedEvent) -> None:
        """A disconnect core reconnects from: the session goes on, what was in flight ends."""
        attrs: Attributes = {sc.DISCONNECT_REASON: event.reason, sc.DISCONNECT_WILL_RECONNECT: True}
        if event.error is not None:
            attrs[sc.ERROR_TYPE] = error_type(event.error)
        self.span.add_event(sc.EVENT_DISCONNECTED, attrs, timestamp=ns(event))
        self._end_user_speech(ns(event))
        self._finish_waiting_responses()

    # ---------------------------------------------------------------- turns
    def mark_turn_end(self, at_ns: int) -> None:
        """The user's turn ended (speech stopped, text sent, say): the next response starts here."""
        self._turn_end_ns = at_ns

    def on_user_speech_started(self, at_ns: int) -> None:
        self._end_user_speech(at_ns)
        self._finish_waiting_responses()  # a new turn: the last one's usage is not coming any more
        self._user_speech = self._tracer.start_span(
            sc.OPERATION_USER_SPEECH,
            context=self._context,
            kind=SpanKind.INTERNAL,
            attributes={
                **self.attributes(),
                sc.OPERATION_NAME: sc.OPERATION_USER_SPEECH,
                sc.REALTIME_SESSION_ID: self.session_id,
            },
            start_time=at_ns,
        )

    def on_user_speech_stopped(self, at_ns: int) -> None:
        self._end_user_speech(at_ns)
        self.mark_turn_end(at_ns)

    def _end_user_speech(self, at_ns: int) -> None:
        span, self._user_speech = self._user_speech, None
        if span is not None:
            span.end(end_time=at_ns)

    # ---------------------------------------------------------------- responses
    def response(self, response_id: str | None, at_ns: int) -> _Response | None:
        """The open response ``response_id``, opened now if it is new; None if it already ended."""
        if not response_id or response_id in self._recent:
            return None
        found = self._responses.get(response_id)
        if found is not None:
            return found
        self._finish_waiting_responses()
        start = self._turn_end_ns if self._turn_end_ns is not None and self._turn_end_ns <= at_ns else at_ns
        self._turn_end_ns = None
        span = self._tracer.start_span(
            self._name(sc.OPERATION_REALTIME_INFERENCE),
            context=self._context,
            kind=SpanKind.CLIENT,
            attributes={
                **self.attributes(),
                sc.OPERATION_NAME: sc.OPERATION_REALTIME_INFERENCE,
                sc.SYSTEM: sc.gen_ai_provider(self.provider),
                sc.REALTIME_SESSION_ID: self.session_id,
                sc.RESPONSE_ID: response_id,
            },
            start_time=start,
        )
        resp = _Response(span, start)
        self._responses[response_id] = resp
        self._counts[sc.SESSION_RESPONSES] += 1
        if len(self._responses) > MAX_OPEN_RESPONSES:
            oldest = next(iter(self._responses))
            self._finish_response(oldest)
        return resp

    def on_agent_speech_started(self, response_id: str, at_ns: int) -> None:
        resp = self.response(response_id, at_ns)
        if resp is not None:
            resp.audio = True

    def on_audio_output_done(self, response_id: str, interrupted: bool, at_ns: int) -> None:
        resp = self.response(response_id, at_ns)
        if resp is None or resp.done:
            return
        resp.done = True
        resp.end_ns = at_ns
        resp.span.set_attribute(sc.RESPONSE_INTERRUPTED, interrupted)
        self._finish_if_complete(response_id, resp)

    def on_metrics(self, event: RealtimeMetricsEvent) -> None:
        attrs = {**self.attributes(), sc.OPERATION_NAME: sc.OPERATION_REALTIME_INFERENCE}
        ttfa = event.time_to_first_audio_ms
        if ttfa is not None:
            self._instruments.time_to_first_chunk.record(ttfa / 1000.0, attrs)
        resp = self._responses.get(event.response_id or "")
        if resp is None:
            return
        if ttfa is not None:
            resp.span.set_attribute(sc.RESPONSE_TIME_TO_FIRST_CHUNK, ttfa / 1000.0)
        resp.span.set_attribute(sc.RESPONSE_AUDIO_OUTPUT_MS, event.audio_output_ms)
        resp.metrics_seen = True
        self._finish_if_complete(event.response_id or "", resp)

    def on_usage(self, event: RealtimeUsageEvent) -> None:
        self._instruments.record_usage(event, self.attributes())
        resp = self.response(event.response_id, ns(event))
        if resp is None:
            return
        for key, value in usage_attributes(event).items():  # a provider may report a response in parts
            resp.usage[key] = resp.usage.get(key, 0) + value
        resp.usage_seen = True
        self._finish_if_complete(event.response_id or "", resp)

    def on_interrupted(self, event: RealtimeInterruptedEvent) -> None:
        self._counts[sc.SESSION_INTERRUPTIONS] += 1
        self._instruments.interruptions.add(1, {**self.attributes(), sc.INTERRUPTION_SOURCE: event.source})
        attrs: Attributes = {sc.INTERRUPTION_SOURCE: event.source}
        if event.heard_ms is not None:
            attrs[sc.INTERRUPTION_HEARD_MS] = event.heard_ms
        resp = self._responses.get(event.response_id or "")
        target = resp.span if resp is not None else self.span
        target.add_event(sc.EVENT_INTERRUPTED, attrs, timestamp=ns(event))
        if resp is not None:
            resp.span.set_attributes({**attrs, sc.RESPONSE_INTERRUPTED: True})

    def _finish_if_complete(self, response_id: str, resp: _Response) -> None:
        """End a done response once what follows its done event arrived: metrics (if it had audio) and
        usage (if the provider reports usage)."""
        if resp.done and (resp.metrics_seen or not resp.audio) and (resp.usage_seen or not self.expects_usage):
            self._finish_response(response_id)

    def _finish_waiting_responses(self) -> None:
        """End the done responses still waiting for usage: something newer started, it is not coming."""
        for rid in [rid for rid, resp in self._responses.items() if resp.done]:
            self._finish_response(rid)

    def _finish_response(self, response_id: str, at_ns: int | None = None) -> None:
        resp = self._responses.pop(response_id)
        end = resp.end_ns if resp.end_ns is not None else at_ns
        if resp.usage:
            resp.span.set_attributes(resp.usage)
        resp.span.end(end_time=end)
        if end is not None:
            self._instruments.operation_duration.record(
                max(0.0, (end - resp.start_ns) / 1e9),
                {**self.attributes(), sc.OPERATION_NAME: sc.OPERATION_REALTIME_INFERENCE},
            )
        self._recent[response_id] = resp.span.get_span_context()
        if len(self._recent) > MAX_RECENT_RESPONSES:
            self._recent.popitem(last=False)

    # ---------------------------------------------------------------- tools
    def _tool_parent(self, response_id: str | None) -> Context:
        if response_id:
            resp = self._responses.get(response_id)
            if resp is not None:
                return trace.set_span_in_context(resp.span)
            recent = self._recent.get(response_id)
            if recent is not None:
                return trace.set_span_in_context(trace.NonRecordingSpan(recent))
        return self._context

    def _start_tool(self, name: str, call_id: str, response_id: str | None, at_ns: int) -> Span:
        return self._tracer.start_span(
            f"{sc.OPERATION_EXECUTE_TOOL} {name}",
            context=self._tool_parent(response_id),
            kind=SpanKind.INTERNAL,
            attributes={
                **self.attributes(),
                sc.OPERATION_NAME: sc.OPERATION_EXECUTE_TOOL,
                sc.TOOL_NAME: name,
                sc.TOOL_CALL_ID: call_id,
                sc.TOOL_TYPE: "function",
            },
            start_time=at_ns,
        )

    def on_tool_call_started(self, event: RealtimeToolCallStartedEvent) -> None:
        if event.call_id not in self._tools:
            self._tools[event.call_id] = self._start_tool(event.name, event.call_id, event.response_id, ns(event))

    def on_tool_call_finished(self, event: RealtimeToolCallFinishedEvent) -> None:
        end = ns(event)
        span = self._tools.pop(event.call_id, None)
        if span is None:  # started before this observer was watching
            span = self._start_tool(event.name, event.call_id, event.response_id, end - int(event.duration_ms * 1e6))
        attrs: Attributes = {
            **self.attributes(),
            sc.OPERATION_NAME: sc.OPERATION_EXECUTE_TOOL,
            sc.TOOL_NAME: event.name,
        }
        failure = (
            "timeout" if event.timed_out else "cancelled" if event.cancelled else "tool_error" if event.error else None
        )
        if failure is not None:
            attrs[sc.ERROR_TYPE] = failure
            span.set_attribute(sc.ERROR_TYPE, failure)
            span.set_status(Status(StatusCode.ERROR, event.error or failure))
        span.end(end_time=end)
        self._instruments.operation_duration.record(event.duration_ms / 1000.0, attrs)

    # ---------------------------------------------------------------- errors and the end
    def on_error(self, event: RealtimeErrorEvent) -> None:
        err = event.error
        self._last_error = err
        self._instruments.errors.add(1, {**self.attributes(), sc.ERROR_TYPE: error_type(err)})
        self.span.record_exception(
            err,
            {sc.ERROR_CONTEXT: event.context, sc.ERROR_RECOVERABLE: event.recoverable, sc.ERROR_TYPE: error_type(err)},
            timestamp=ns(event),
        )

    def finish(
        self, at_ns: int, *, error: BaseException | None = None, failed: bool = False, description: str = ""
    ) -> None:
        """End everything still open and the session span; ``failed`` marks the session span an error."""
        self._end_user_speech(at_ns)
        for call_id, span in list(self._tools.items()):
            span.set_attribute(sc.ERROR_TYPE, "cancelled")
            span.set_status(Status(StatusCode.ERROR, "the session ended before the tool call finished"))
            span.end(end_time=at_ns)
            del self._tools[call_id]
        for rid in list(self._responses):
            self._finish_response(rid, at_ns)
        self.span.set_attributes(self._counts)
        attrs = self.attributes()
        if failed:
            if error is not None and error is not self._last_error:
                self.span.record_exception(error, timestamp=at_ns)
            kind = error_type(error)
            attrs[sc.ERROR_TYPE] = kind
            self.span.set_attribute(sc.ERROR_TYPE, kind)
            self.span.set_status(Status(StatusCode.ERROR, description or kind))
        self.span.end(end_time=at_ns)
        self._instruments.session_duration.record(max(0.0, (at_ns - self.start_ns) / 1e9), attrs)

    def on_final_disconnect(self, event: RealtimeDisconnectedEvent) -> None:
        self.finish(ns(event), error=event.error, failed=not event.was_clean, description=event.reason)
