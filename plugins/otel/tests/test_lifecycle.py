"""State and safety: nothing left after sessions end, however they end; hooks never raise; instrument and
uninstrument; the observer never sees audio chunks."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import realtime_core
import realtime_otel
from realtime_conformance.reference import ReferenceEmulator, ReferenceRealtime
from realtime_core import (
    AuthenticationError,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeToolCallStartedEvent,
    RealtimeUsageEvent,
)
from realtime_core.emulator import Scenario, ToolCallSpec
from realtime_core.testing import speak
from realtime_otel import observer
from realtime_otel import semconv as sc

from .conftest import Telemetry
from .helpers import USER_TEXT, long_turn, scenario, tool_turn, turn


def assert_no_state() -> None:
    assert observer.sessions == {} and observer._finalizers == {}


async def test_no_state_left_after_50_sessions(
    telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any
) -> None:
    emu = await emulators(ReferenceEmulator, Scenario(when_exhausted="repeat_last", turns=[turn(audio_ms=200)]))
    for i in range(50):
        s = sessions(emu)
        await s.connect()
        assert s.session_id in observer.sessions
        if i % 10 == 0:  # some with a response, so response state is exercised too
            rec = await recorder(s)
            await s.simple_response(USER_TEXT)
            await rec.wait_for(RealtimeUsageEvent)
        await s.close()
    assert_no_state()
    assert len(telemetry.spans(sc.SPAN_SESSION)) == 50
    assert len(telemetry.spans(sc.OPERATION_REALTIME_INFERENCE)) == 5
    assert telemetry.count(sc.METRIC_SESSION_DURATION) == 50


async def slow_lookup(city: str) -> str:
    """A lookup that is still running when the session closes."""
    await asyncio.Event().wait()
    return city


async def test_closing_mid_response_and_mid_tool_call_ends_every_span(
    telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any
) -> None:
    emu = await emulators(ReferenceEmulator, scenario(long_turn()))
    s = sessions(emu)
    rec = await recorder(s)
    await s.connect()
    await speak(s)
    await rec.wait_for(RealtimeAgentSpeechStartedEvent)
    await s.close()  # the reply is still streaming
    response = telemetry.span(sc.OPERATION_REALTIME_INFERENCE)
    assert (response.attributes or {})[sc.RESPONSE_INTERRUPTED] is True
    assert response.end_time is not None and telemetry.span(sc.SPAN_SESSION).end_time is not None
    assert_no_state()

    emu = await emulators(ReferenceEmulator, scenario(tool_turn(ToolCallSpec(name="slow_lookup", arguments={"city": "Oslo"}))))
    s = sessions(emu, tools=[slow_lookup])
    rec = await recorder(s)
    await s.connect()
    await speak(s)
    await rec.wait_for(RealtimeToolCallStartedEvent)
    await s.close()
    tool = telemetry.span("execute_tool")
    assert tool.status.status_code is StatusCode.ERROR and (tool.attributes or {})[sc.ERROR_TYPE] == "cancelled"
    assert len(telemetry.spans(sc.SPAN_SESSION)) == 2
    assert_no_state()


async def test_failed_connect_then_close_ends_the_span_in_error(telemetry: Telemetry, emulators: Any) -> None:
    emu = await emulators(ReferenceEmulator)
    s = ReferenceRealtime(url=emu.url, api_key="wrong-key")
    with pytest.raises(AuthenticationError):
        await s.connect()
    assert s.session_id in observer.sessions  # a retry may still follow
    await s.close()
    span = telemetry.span(sc.SPAN_SESSION)
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "closed before it connected"
    assert_no_state()


async def test_a_failed_session_never_closed_is_forgotten_when_collected(telemetry: Telemetry, emulators: Any) -> None:
    emu = await emulators(ReferenceEmulator)

    async def try_once() -> str:
        s = ReferenceRealtime(url=emu.url, api_key="wrong-key")
        try:
            await s.connect()
        except AuthenticationError:
            pass
        return s.session_id

    sid = await try_once()
    async with asyncio.timeout(10):  # the websockets client lets go of the failed connection a loop turn later
        while sid in observer.sessions:
            gc.collect()
            await asyncio.sleep(0)
    assert_no_state()
    assert telemetry.span(sc.SPAN_SESSION).status.status_code is StatusCode.ERROR


class _BrokenTracer(trace.Tracer):
    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        raise RuntimeError("broken exporter setup")

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken exporter setup")


class _BrokenTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _BrokenTracer()


async def test_hooks_never_raise_into_the_session(
    emulators: Any, sessions: Any, recorder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    realtime_otel.instrument(tracer_provider=_BrokenTracerProvider())
    try:
        emu = await emulators(ReferenceEmulator, scenario(turn(), turn("Still fine.")))
        s = sessions(emu)
        rec = await recorder(s)
        with caplog.at_level(logging.WARNING, logger="realtime_otel"):
            await s.connect()
            for n in (1, 2):
                await speak(s)
                await rec.wait_for(RealtimeAudioOutputDoneEvent, count=n)
            await s.close()
        failures = [r for r in caplog.records if r.name == "realtime_otel"]
        assert failures and all("telemetry may be incomplete" in r.getMessage() for r in failures)
        hooks = [r.getMessage().split()[2] for r in failures]
        assert len(hooks) == len(set(hooks)), "each failing hook is logged once, not per event"
        assert not [r for r in caplog.records if r.name == "realtime_core.session"], "core saw no observer failure"
    finally:
        realtime_otel.uninstrument()


async def test_uninstrument_stops_and_instrument_resumes(
    telemetry: Telemetry, emulators: Any, sessions: Any
) -> None:
    emu = await emulators(ReferenceEmulator)
    realtime_otel.uninstrument()
    assert not realtime_core.get_plugin_manager().is_registered(observer)
    s = sessions(emu)
    await s.connect()
    await s.close()
    assert telemetry.spans() == []
    realtime_otel.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    s = sessions(emu)
    await s.connect()
    await s.close()
    assert len(telemetry.spans(sc.SPAN_SESSION)) == 1


async def test_uninstrument_ends_the_spans_of_running_sessions(
    telemetry: Telemetry, emulators: Any, sessions: Any
) -> None:
    emu = await emulators(ReferenceEmulator)
    s = sessions(emu)
    await s.connect()
    realtime_otel.uninstrument()
    assert len(telemetry.spans(sc.SPAN_SESSION)) == 1
    assert_no_state()
    await s.close()  # no hook any more: nothing recorded, nothing raised
    assert len(telemetry.spans(sc.SPAN_SESSION)) == 1


def test_the_observer_never_sees_audio_chunks(telemetry: Telemetry) -> None:
    """Audio arrives 50 times a second: the plugin implements no hook that would see it (nor the catch-all,
    which would make core build an audio event for it)."""
    (info,) = [p for p in realtime_core.list_plugins() if p.name == "otel"]
    assert info.distribution == "realtime-otel"
    for hook in ("realtime_on_event", "realtime_on_audio_output", "realtime_on_audio_input", "realtime_audio_input",
                 "realtime_on_agent_speech_transcription", "realtime_register_providers"):
        assert hook not in info.hooks
