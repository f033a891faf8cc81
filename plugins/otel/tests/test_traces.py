"""Spans against the conformance kit's reference provider: session, user speech, responses, tools, errors."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind, StatusCode

from realtime_conformance.reference import ReferenceEmulator
from realtime_core import (
    RealtimeAudioOutputDoneEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeMetricsEvent,
    RealtimeReconnectedEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeUsageEvent,
    ReconnectPolicy,
)
from realtime_core.emulator import Fault, ToolCallSpec
from realtime_core.testing import speak
from realtime_otel import semconv as sc

from .conftest import Telemetry
from .helpers import USER_TEXT, parent_of, scenario, span_id, tool_turn, turn


async def test_session_user_speech_and_response_spans(
    telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any
) -> None:
    emu = await emulators(ReferenceEmulator, scenario(turn("First answer."), turn("Second answer.")))
    s = sessions(emu)
    rec = await recorder(s)
    await s.connect()
    for n in (1, 2):
        await speak(s)
        done = await rec.wait_for(RealtimeAudioOutputDoneEvent, count=n)
        await rec.wait_for(RealtimeUsageEvent, count=n)
        s.report_playback(done.response_id, 10_000)  # the player finished it: the next turn is no barge-in
    assert not telemetry.spans(sc.SPAN_SESSION), "the session span ended before the session did"
    responses = telemetry.spans(sc.OPERATION_REALTIME_INFERENCE)
    assert len(responses) == 2, "each response span ends with its usage, before the session closes"
    await s.close()

    session = telemetry.span(sc.SPAN_SESSION)
    assert session.name == "realtime_session reference" and session.kind is SpanKind.INTERNAL
    attrs = session.attributes or {}
    assert attrs[sc.PROVIDER_NAME] == "reference" and attrs[sc.PROVIDER] == "reference"
    assert attrs[sc.REALTIME_SESSION_ID] == s.session_id and sc.REQUEST_MODEL not in attrs
    assert attrs[sc.SESSION_RESPONSES] == 2 and attrs[sc.SESSION_INTERRUPTIONS] == 0
    assert session.status.status_code is StatusCode.UNSET
    await rec.wait_ended()
    disconnected = rec.of(RealtimeDisconnectedEvent)[-1]
    assert session.end_time == int(disconnected.timestamp * 1e9)
    assert [e.name for e in session.events] == [sc.EVENT_CONNECTED]

    dones = rec.of(RealtimeAudioOutputDoneEvent)
    metrics = {m.response_id: m for m in rec.of(RealtimeMetricsEvent)}
    usage = {u.response_id: u for u in rec.of(RealtimeUsageEvent)}
    speech = telemetry.spans(sc.OPERATION_USER_SPEECH)
    assert len(speech) == 2 and all(parent_of(u) == span_id(session) for u in speech)
    assert [r.attributes[sc.RESPONSE_ID] for r in responses if r.attributes] == [d.response_id for d in dones]
    for response, user, done in zip(responses, speech, dones, strict=True):
        a = response.attributes or {}
        assert response.name == "realtime_inference reference" and response.kind is SpanKind.CLIENT
        assert parent_of(response) == span_id(session)
        assert a[sc.OPERATION_NAME] == "realtime_inference" and a[sc.PROVIDER_NAME] == "reference"
        ttfa = metrics[done.response_id].time_to_first_audio_ms
        assert ttfa is not None and a[sc.RESPONSE_TIME_TO_FIRST_CHUNK] == ttfa / 1000.0
        assert a[sc.RESPONSE_INTERRUPTED] is False
        assert a[sc.USAGE_INPUT_TOKENS] == usage[done.response_id].input_tokens
        assert a[sc.USAGE_OUTPUT_TOKENS] == usage[done.response_id].output_tokens
        # the response starts where the user's turn ended and ends at its done event
        assert response.start_time == user.end_time
        assert response.end_time == int(done.timestamp * 1e9)
    assert telemetry.count(sc.METRIC_TIME_TO_FIRST_CHUNK, **{sc.PROVIDER: "reference"}) == 2
    assert telemetry.count(sc.METRIC_OPERATION_DURATION, **{sc.OPERATION_NAME: "realtime_inference"}) == 2
    assert telemetry.count(sc.METRIC_SESSION_DURATION, **{sc.PROVIDER: "reference"}) == 1


def get_weather(city: str) -> dict[str, str]:
    """Current weather for a city.

    :param city: the city name
    """
    return {"city": city, "sky": "sunny"}


def broken_forecast(city: str) -> str:
    """A forecast service that is down."""
    raise RuntimeError(f"forecast service down for {city}")


async def test_tool_call_spans_are_children_of_their_response(
    telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any
) -> None:
    calls = (
        ToolCallSpec(name="get_weather", arguments={"city": "Paris"}),
        ToolCallSpec(name="broken_forecast", arguments={"city": "Paris"}),
    )
    emu = await emulators(ReferenceEmulator, scenario(tool_turn(*calls)))
    s = sessions(emu, tools=[get_weather, broken_forecast])
    rec = await recorder(s)
    await s.connect()
    await speak(s)
    finished = await rec.wait_for(RealtimeToolCallFinishedEvent, count=2)
    await rec.wait_for(RealtimeAudioOutputDoneEvent, after=finished)
    await s.close()

    tools = {span.attributes[sc.TOOL_NAME]: span for span in telemetry.spans("execute_tool") if span.attributes}
    assert set(tools) == {"get_weather", "broken_forecast"}
    ok, failed = tools["get_weather"], tools["broken_forecast"]
    assert ok.name == "execute_tool get_weather" and ok.status.status_code is StatusCode.UNSET
    assert ok.attributes and ok.attributes[sc.OPERATION_NAME] == "execute_tool" and ok.attributes[sc.TOOL_TYPE] == "function"
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes
    assert failed.attributes[sc.ERROR_TYPE] == "tool_error" and "forecast service down" in (failed.status.description or "")
    by_call = {e.call_id: e for e in rec.of(RealtimeToolCallFinishedEvent)}
    for span in (ok, failed):
        assert span.attributes and span.attributes[sc.TOOL_CALL_ID] in by_call
    # both calls belong to the response that asked for them (which had no audio), the answer is another span
    responses = {r.attributes[sc.RESPONSE_ID]: r for r in telemetry.spans(sc.OPERATION_REALTIME_INFERENCE) if r.attributes}
    asking = responses[by_call[str(ok.attributes[sc.TOOL_CALL_ID])].response_id or ""]
    assert parent_of(ok) == parent_of(failed) == span_id(asking)
    assert len(responses) == 2
    assert telemetry.count(sc.METRIC_OPERATION_DURATION, **{sc.OPERATION_NAME: "execute_tool", sc.TOOL_NAME: "get_weather"}) == 1
    assert telemetry.count(sc.METRIC_OPERATION_DURATION, **{sc.ERROR_TYPE: "tool_error"}) == 1


async def test_errors_are_exception_events_and_a_recoverable_one_does_not_fail_the_session(
    telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any
) -> None:
    faults = [Fault(kind="error", at_turn=0, phase="before_reply", code="server_error", message="emulated failure")]
    emu = await emulators(ReferenceEmulator, scenario(turn(), faults=faults))
    s = sessions(emu)
    rec = await recorder(s)
    await s.connect()
    await speak(s)
    error = await rec.wait_for(RealtimeErrorEvent)
    await s.close()
    session = telemetry.span(sc.SPAN_SESSION)
    exceptions = [e for e in session.events if e.name == "exception"]
    assert len(exceptions) == 1 and exceptions[0].attributes
    assert "emulated failure" in str(exceptions[0].attributes["exception.message"])
    assert exceptions[0].attributes[sc.ERROR_TYPE] == "server_error"
    assert exceptions[0].attributes[sc.ERROR_CONTEXT] == error.context
    assert session.status.status_code is StatusCode.UNSET
    assert telemetry.value(sc.METRIC_ERRORS, **{sc.ERROR_TYPE: "server_error"}) == 1


async def test_a_session_that_cannot_reconnect_ends_in_error(
    telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any
) -> None:
    emu = await emulators(ReferenceEmulator, scenario(turn(), faults=[Fault(kind="close", at_turn=0, phase="after_reply")]))
    s = sessions(emu, reconnect=ReconnectPolicy(max_attempts=0))
    rec = await recorder(s)
    await s.connect()
    await s.simple_response(USER_TEXT)  # text: no audio is being sent when the connection drops
    final = await rec.wait_for(RealtimeDisconnectedEvent)
    assert not final.will_reconnect and not final.was_clean
    session = telemetry.span(sc.SPAN_SESSION)  # ended at the final disconnect, before any close()
    assert session.status.status_code is StatusCode.ERROR and session.attributes
    assert session.attributes[sc.ERROR_TYPE] == type(final.error).__name__ or session.attributes[sc.ERROR_TYPE] == getattr(
        final.error, "code", None
    )
    assert [e.name for e in session.events].count("exception") == 1, "the error is recorded once"
    assert not realtime_otel_sessions()
    failed = telemetry.points(sc.METRIC_SESSION_DURATION)
    assert len(failed) == 1 and sc.ERROR_TYPE in failed[0].attributes


async def test_reconnect_is_an_event_on_the_session_span(
    telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any
) -> None:
    faults = [Fault(kind="close", at_turn=0, phase="after_reply")]
    emu = await emulators(ReferenceEmulator, scenario(turn(), turn("Back again."), faults=faults))
    s = sessions(emu)
    rec = await recorder(s)
    await s.connect()
    await s.simple_response(USER_TEXT)
    back = await rec.wait_for(RealtimeReconnectedEvent)
    await s.simple_response(USER_TEXT)
    await rec.wait_for(RealtimeUsageEvent, after=back)
    await s.close()
    session = telemetry.span(sc.SPAN_SESSION)
    names = [e.name for e in session.events]
    assert names == [sc.EVENT_CONNECTED, sc.EVENT_DISCONNECTED, sc.EVENT_RECONNECTED]
    reconnected = session.events[2].attributes or {}
    assert reconnected[sc.RECONNECT_STATE_RESTORED] == back.state_restored
    assert reconnected[sc.RECONNECT_PLANNED] is False and reconnected[sc.RECONNECT_ATTEMPTS] == back.attempts
    assert session.status.status_code is StatusCode.UNSET and session.attributes
    assert session.attributes[sc.SESSION_RECONNECTIONS] == 1
    assert len(telemetry.spans(sc.OPERATION_REALTIME_INFERENCE)) == 2
    assert telemetry.value(sc.METRIC_RECONNECTIONS, **{sc.RECONNECT_PLANNED: False}) == 1


def realtime_otel_sessions() -> dict[str, Any]:
    from realtime_otel import observer

    return observer.sessions


async def test_the_session_span_is_a_child_of_the_span_current_at_connect(
    telemetry: Telemetry, emulators: Any, sessions: Any
) -> None:
    emu = await emulators(ReferenceEmulator)
    s = sessions(emu)
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle call") as app:
        await s.connect()
    await s.close()
    session = telemetry.span(sc.SPAN_SESSION)
    assert parent_of(session) == app.get_span_context().span_id
    assert session.context is not None and session.context.trace_id == app.get_span_context().trace_id

