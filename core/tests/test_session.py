"""The Realtime base class: lifecycle, guards, the epoch rule, done events, tools, reconnection, events."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pydantic
import pytest

from realtime_core import (
    Capabilities,
    ConfigurationError,
    ConnectionFailedError,
    InvalidAudioError,
    PcmData,
    Realtime,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAudioInputEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeConnectedEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeEvent,
    RealtimeInterruptedEvent,
    RealtimeMetricsEvent,
    RealtimeReconnectedEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeUserSpeechTranscriptionEvent,
    ReconnectPolicy,
    SessionClosedError,
    SessionState,
    ToolCall,
    ToolExecutionError,
    ToolTimeoutError,
    UnsupportedCapability,
    UserTranscriptEvent,
)
from realtime_core.emulator import Reply, Scenario, ToolCallSpec, Turn
from realtime_core.testing import FakeRealtime, pending_tasks

FAST_RECONNECT = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05)


def speech(ms: float = 600, rate: int = 48000) -> list[PcmData]:
    return list(PcmData.tone(ms, rate, amplitude=0.3).chunks(20)) + list(PcmData.silence(700, rate).chunks(20))


async def say_turn(session: Realtime, rate: int = 48000) -> None:
    for chunk in speech(rate=rate):
        await session.simple_audio_response(chunk)


class Manual(Realtime):
    """A provider whose test drives every emitter by hand."""

    provider_name = "manual"

    def __init__(self, caps: Capabilities | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.caps = caps or Capabilities(text_input=True, interruption=True)
        self.sent: list[PcmData] = []
        self.interrupts: list[Any] = []
        self.closed = 0

    def _build_capabilities(self) -> Capabilities:
        return self.caps

    async def connect(self) -> None:
        self._emit_connected_event({"model": "m"})

    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        self.sent.append(pcm)

    async def simple_response(self, text: str) -> None:
        pass

    async def close(self) -> None:
        self.closed += 1

    async def _on_interrupt(self, info: Any) -> None:
        self.interrupts.append(info)


# ---------------------------------------------------------------------------------------------- lifecycle
async def test_lifecycle_events_and_idempotence() -> None:
    s = Manual()
    events = s.events()
    assert not s.connected and s.state is SessionState.NEW
    await s.connect()
    await s.connect()  # no-op
    assert s.connected
    await asyncio.gather(s.close(), s.close())
    await s.close()
    got = [e async for e in events]
    assert [type(e) for e in got] == [RealtimeConnectedEvent, RealtimeDisconnectedEvent]
    assert got[1].was_clean and got[0].session_config == {"model": "m"}
    assert s.closed == 1 and s.state is SessionState.CLOSED
    with pytest.raises(SessionClosedError, match="create a new session"):
        await s.connect()


async def test_events_stamped() -> None:
    s = Manual()
    events = s.events()
    await s.connect()
    s._emit_audio_output_event(PcmData.silence(20, 24000), "r1")
    first = await events.next(1)
    audio = await events.wait_for(RealtimeAudioOutputEvent, timeout=1)
    for e in (first, audio):
        assert e.session_id == s.session_id and e.provider == "manual" and e.timestamp > 0 and e.epoch == 0
    dumped = audio.model_dump(mode="json")
    assert dumped["audio_data"] == {"duration_ms": 20.0, "sample_rate": 24000, "channels": 1}
    await s.close()


async def test_late_subscriber_starts_with_connected_event() -> None:
    s = Manual()
    await s.connect()
    first = await s.events().next(1)
    assert isinstance(first, RealtimeConnectedEvent)
    await s.close()
    assert [e async for e in s.events()] == []


async def test_not_connected_and_closed_errors() -> None:
    s = Manual()
    with pytest.raises(SessionClosedError, match="connect\\(\\) first"):
        await s.simple_audio_response(PcmData.silence(20, 16000))
    with pytest.raises(SessionClosedError):
        await s.simple_response("hi")
    await s.connect()
    await s.close()
    with pytest.raises(SessionClosedError):
        await s.simple_audio_response(PcmData.silence(20, 16000))


async def test_connect_failure_is_typed_and_retryable() -> None:
    s = FakeRealtime(fail_connect=True)
    with pytest.raises(ConnectionFailedError):
        await s.connect()
    assert s.state is SessionState.NEW and not s.connected


async def test_connect_timeout_becomes_connection_failed() -> None:
    class Hangs(Manual):
        async def connect(self) -> None:
            await asyncio.sleep(30)

    s = Hangs(connect_timeout=0.05)
    with pytest.raises(ConnectionFailedError, match="timed out after 0.05s"):
        await s.connect()


async def test_connect_os_error_becomes_connection_failed() -> None:
    class Refused(Manual):
        async def connect(self) -> None:
            raise ConnectionRefusedError(111, "refused")

    with pytest.raises(ConnectionFailedError, match="refused"):
        await Refused().connect()


def test_constructor_validation() -> None:
    with pytest.raises(ConfigurationError):
        Manual(fps=0)
    with pytest.raises(ConfigurationError):
        Manual(connect_timeout=-1)
    with pytest.raises(ConfigurationError):
        Manual(event_buffer=0)


# ---------------------------------------------------------------------------------------------- input
async def test_input_is_resampled_once_and_mirrored() -> None:
    s = Manual(caps=Capabilities(input_sample_rate=16000))
    events = s.events(audio_input=True)
    await s.connect()
    chunks = list(PcmData.tone(200, 48000).to_stereo().chunks(20))
    for chunk in chunks:
        await s.simple_audio_response(chunk, participant="alice")
    assert all(p.sample_rate == 16000 and p.channels == 1 for p in s.sent)
    held = 3200 - sum(p.frames for p in s.sent)
    assert 0 <= held <= 16000 * 0.025  # all of it, but what the filter holds (its delay, under 25 ms)
    mirrored = [e async for e in _take(events, RealtimeAudioInputEvent, len(chunks))]
    assert [e.audio_data for e in mirrored] == chunks
    assert all(e.user_metadata == "alice" for e in mirrored)
    same_rate = PcmData.silence(20, 16000)
    await s.simple_audio_response(same_rate)
    assert s.sent[-1] is same_rate  # no copy on the fast path
    await s.close()


async def _take(stream: Any, cls: type[RealtimeEvent], n: int) -> Any:
    count = 0
    async for e in stream:
        if isinstance(e, cls):
            yield e
            count += 1
            if count == n:
                return


async def test_bad_input_is_typed_and_loses_nothing() -> None:
    s = Manual()
    await s.connect()
    with pytest.raises(InvalidAudioError, match="PcmData.from_bytes"):
        await s.simple_audio_response(b"\x00\x00")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="empty"):
        await s.simple_response("   ")
    with pytest.raises(ConfigurationError, match="str"):
        await s.simple_response(42)  # type: ignore[arg-type]
    await s.simple_audio_response(PcmData.silence(20, 16000))
    assert len(s.sent) == 1 and s.connected
    await s.close()


# ---------------------------------------------------------------------------------------------- capability guard
async def test_capability_guard_refuses_before_anything_is_sent() -> None:
    caps = Capabilities(text_input=False, say=False, video_input=False, manual_turns=False, interruption=False)
    s = FakeRealtime(capabilities=caps)
    await s.connect()
    for op, flag in (
        (lambda: s.simple_response("hi"), "text_input"),
        (lambda: s.say("hi"), "say"),
        (lambda: s.end_user_turn(), "manual_turns"),
        (lambda: s.begin_user_turn(), "manual_turns"),
        (lambda: s.interrupt(), "interruption"),
        (lambda: s.watch_video_track(object()), "video_input"),  # type: ignore[arg-type]
    ):
        with pytest.raises(UnsupportedCapability) as info:
            await op()
        assert info.value.capability == flag and info.value.recoverable is False
        assert "capabilities." + flag in str(info.value)
    assert s.log.texts == [] and s.log.said == [] and s.epoch == 0
    await s.close()


async def test_guard_applies_even_before_connect() -> None:
    s = FakeRealtime(capabilities=Capabilities(text_input=False))
    with pytest.raises(UnsupportedCapability):
        await s.simple_response("hello")


async def test_tools_refused_at_connect_when_unsupported() -> None:
    def t(x: int) -> int:
        return x

    s = FakeRealtime(capabilities=Capabilities(tools=False), tools=[t])
    with pytest.raises(UnsupportedCapability, match="tools"):
        await s.connect()
    assert s.log.connections == 0


# ---------------------------------------------------------------------------------------------- epoch & responses
async def test_epoch_rule_slow_consumer_never_sees_stale_output() -> None:
    s = Manual()
    events = s.events()
    await s.connect()
    for _ in range(5):
        s._emit_audio_output_event(PcmData.silence(20, 24000), "r1")
    s._emit_agent_speech_transcription("partial", mode="delta", response_id="r1")
    await s.interrupt()
    assert s.epoch == 1
    # late output of the interrupted response is dropped at the source
    s._emit_audio_output_event(PcmData.silence(20, 24000), "r1")
    s._emit_agent_speech_transcription("late", mode="final", response_id="r1")
    s._emit_audio_output_done_event("r1")
    # a new response plays normally
    s._emit_audio_output_event(PcmData.silence(20, 24000), "r2")
    s._emit_audio_output_done_event("r2")
    await s.close()
    got = [e async for e in events]
    types = [type(e).__name__ for e in got]
    assert not any(isinstance(e, RealtimeAudioOutputEvent) and e.response_id == "r1" for e in got), types
    dones = [e for e in got if isinstance(e, RealtimeAudioOutputDoneEvent)]
    assert [(d.response_id, d.interrupted) for d in dones] == [("r1", True), ("r2", False)]
    interrupted = next(e for e in got if isinstance(e, RealtimeInterruptedEvent))
    assert interrupted.epoch == 1 and interrupted.response_id == "r1" and interrupted.source == "local"
    assert all(e.epoch >= 1 for e in got[got.index(interrupted):] if e.is_output)
    assert len(s.interrupts) == 1 and s.interrupts[0].response_id == "r1"


async def test_heard_position_never_past_received_audio() -> None:
    s = Manual()
    await s.connect()
    s._emit_audio_output_event(PcmData.silence(100, 24000), "r1")
    s.report_playback("r1", 5000)  # the app claims more than arrived
    await s.interrupt()
    info = s.interrupts[0]
    assert info.received_ms == pytest.approx(100) and info.heard_ms == pytest.approx(100)
    s._emit_audio_output_event(PcmData.silence(100, 24000), "r2")
    s.report_playback("r2", 30)
    await s.interrupt()
    assert s.interrupts[1].heard_ms == pytest.approx(30)
    await s.close()


async def test_interrupting_a_reply_that_arrived_but_is_still_playing() -> None:
    s = Manual()
    events = s.events()
    await s.connect()
    s._emit_audio_output_event(PcmData.silence(5000, 24000), "r1")  # 5 s arrived at once
    s._emit_audio_output_done_event("r1")
    s.report_playback("r1", 1200)
    assert s.agent_audible and not s.responding
    await s.interrupt()
    assert not s.agent_audible
    info = s.interrupts[0]
    assert info.response_id == "r1" and info.heard_ms == pytest.approx(1200) and info.generating is False
    s._emit_audio_output_event(PcmData.silence(20, 24000), "r1")  # a straggler: dropped
    await s.close()
    got = [e async for e in events]
    assert [e.response_id for e in got if isinstance(e, RealtimeInterruptedEvent)] == ["r1"]
    assert len([e for e in got if isinstance(e, RealtimeAudioOutputDoneEvent)]) == 1
    assert not [e for e in got if isinstance(e, RealtimeAudioOutputEvent)]  # read late: all of epoch 0 is stale
    # once playback is over, an interrupt no longer points at that reply
    s2 = Manual()
    await s2.connect()
    s2._emit_audio_output_event(PcmData.silence(100, 24000), "r1")
    s2._emit_audio_output_done_event("r1")
    s2.report_playback("r1", 100)
    await s2.interrupt()
    assert s2.interrupts[0].response_id is None
    await s2.close()


async def test_unconfirmed_audio_is_replayed_after_a_drop() -> None:
    s = FakeRealtime(reconnect=ReconnectPolicy(max_attempts=2, initial_delay=0.05, jitter=0))
    events = s.events()
    await s.connect()
    await s.simple_audio_response(PcmData.silence(100, 16000))
    s._core.audio_confirmed()  # the provider showed it had those 100 ms
    await s.simple_audio_response(PcmData.silence(60, 16000))  # ...but not these: they may have died with the socket
    s.simulate_disconnect()
    back = await events.wait_for(RealtimeReconnectedEvent, timeout=5)
    assert back.replayed_audio_ms == pytest.approx(60)
    assert back.lost_audio_ms == 0
    await s.close()


async def test_audio_a_transport_held_at_a_planned_renewal_is_replayed() -> None:
    s = FakeRealtime(reconnect=ReconnectPolicy(max_attempts=2, initial_delay=0.05, jitter=0))
    events = s.events()
    await s.connect()
    s._core.renew("session limit")
    s._core.unsent_audio(PcmData.silence(60, 16000))  # the old connection closed with this still queued
    back = await events.wait_for(RealtimeReconnectedEvent, timeout=5)
    assert back.planned and back.replayed_audio_ms == pytest.approx(60)
    await s.close()


async def test_audio_that_can_never_be_sent_is_reported_lost() -> None:
    s = FakeRealtime(reconnect=ReconnectPolicy.disabled())
    events = s.events()
    await s.connect()
    await s.simple_audio_response(PcmData.silence(80, 16000))  # unconfirmed when the connection dies
    s.simulate_disconnect()
    gone = await events.wait_for(RealtimeDisconnectedEvent, timeout=5)
    assert not gone.was_clean and not gone.will_reconnect
    assert gone.lost_audio_ms == pytest.approx(80)
    await s.close()


async def test_one_done_per_response_and_speech_events() -> None:
    s = Manual()
    events = s.events()
    await s.connect()
    s._core.mark_turn_end()
    s._emit_audio_output_event(PcmData.silence(40, 24000), "r1")
    s._emit_audio_output_done_event("r1")
    s._emit_audio_output_done_event("r1")
    s._emit_audio_output_event(PcmData.silence(40, 24000), "r1")  # after done: dropped
    await s.close()
    got = [e async for e in events]
    kinds = [type(e) for e in got]
    assert kinds.count(RealtimeAudioOutputDoneEvent) == 1
    assert kinds.count(RealtimeAudioOutputEvent) == 1
    assert kinds.index(RealtimeAgentSpeechStartedEvent) < kinds.index(RealtimeAudioOutputEvent)
    assert kinds.index(RealtimeAgentSpeechStoppedEvent) < kinds.index(RealtimeAudioOutputDoneEvent)
    metrics = next(e for e in got if isinstance(e, RealtimeMetricsEvent))
    assert metrics.time_to_first_audio_ms is not None and metrics.audio_output_ms == pytest.approx(40)


async def test_close_ends_an_active_response_as_interrupted() -> None:
    s = Manual()
    events = s.events()
    await s.connect()
    s._emit_audio_output_event(PcmData.silence(40, 24000), "r1")
    await s.close()
    got = [e async for e in events]
    done = [e for e in got if isinstance(e, RealtimeAudioOutputDoneEvent)]
    assert len(done) == 1 and done[0].interrupted
    assert isinstance(got[-1], RealtimeDisconnectedEvent)


async def test_server_barge_in_same_events_as_local() -> None:
    s = FakeRealtime(scenario=Scenario(turns=[Turn(reply=Reply(text="long", audio_ms=3000, chunk_interval_ms=5))]))
    events = s.events()
    await s.connect()
    await s.simple_response("go")
    first = await events.wait_for(RealtimeAudioOutputEvent, timeout=5)
    for chunk in speech(300):
        await s.simple_audio_response(chunk)
    marker = await events.wait_for(RealtimeInterruptedEvent, timeout=5)
    assert marker.source == "server" and marker.response_id == first.response_id
    done = await events.wait_for(RealtimeAudioOutputDoneEvent, timeout=5)
    assert done.interrupted and done.response_id == first.response_id
    await s.close()
    assert s.log.interrupts and s.log.interrupts[0].source == "server"


# ---------------------------------------------------------------------------------------------- tools
def get_weather(city: str) -> dict[str, str]:
    """Weather."""
    return {"city": city}


async def slow(x: int = 1) -> int:
    await asyncio.sleep(10)
    return x


def boom(x: int = 1) -> int:
    raise ValueError("kaput")


async def test_tool_batch_results_sent_together_with_failures_reported() -> None:
    turn = Turn(
        reply=Reply(
            audio="none",
            tool_calls=[
                ToolCallSpec(name="get_weather", arguments={"city": "Oslo"}),
                ToolCallSpec(name="slow"),
                ToolCallSpec(name="boom"),
                ToolCallSpec(name="missing"),
            ],
        ),
        after_tools=Reply(text="done"),
    )
    s = FakeRealtime(scenario=Scenario(turns=[turn]), tools=[get_weather, slow, boom], tool_timeout=0.2)
    events = s.events()
    error_stream = s.events(types=[RealtimeErrorEvent])
    await s.connect()
    await s.simple_response("go")
    await events.wait_for(RealtimeAgentSpeechStartedEvent, timeout=5)
    assert len(s.log.tool_results) == 1
    results = {r.name: r for r in s.log.tool_results[0]}
    assert results["get_weather"].output == {"city": "Oslo"} and results["get_weather"].ok
    assert results["slow"].timed_out and "timed out" in (results["slow"].error or "")
    assert "kaput" in (results["boom"].error or "")
    assert "unknown tool 'missing'" in (results["missing"].error or "")
    await s.close()
    errors = [e async for e in error_stream if isinstance(e, RealtimeErrorEvent)]
    assert any(isinstance(e.error, ToolTimeoutError) for e in errors)
    assert sum(isinstance(e.error, ToolExecutionError) for e in errors) >= 3


async def test_cancelled_tool_calls_are_not_sent() -> None:
    s = FakeRealtime(tools=[slow, get_weather])
    await s.connect()
    task = s._core.start_tool_calls([ToolCall("c1", "slow", {}), ToolCall("c2", "get_weather", '{"city": "Rome"}')])
    assert task is not None
    s._core.cancel_tool_calls(["c1"])
    await asyncio.wait_for(task, 5)
    assert [r.call_id for r in s.log.tool_results[0]] == ["c2"]
    await s.close()


async def test_tool_results_finished_events() -> None:
    s = FakeRealtime(tools=[get_weather])
    events = s.events()
    await s.connect()
    task = s._core.start_tool_calls([ToolCall("c1", "get_weather", '{"city": 3}')])
    assert task is not None
    await task
    finished = await events.wait_for(RealtimeToolCallFinishedEvent, timeout=2)
    assert finished.error and "invalid arguments" in finished.error  # validated against the schema
    await s.close()


# ---------------------------------------------------------------------------------------------- reconnection
async def test_reconnect_buffers_and_replays_audio() -> None:
    s = FakeRealtime(reconnect=ReconnectPolicy(max_attempts=3, initial_delay=0.2, jitter=0))
    events = s.events()
    await s.connect()
    await s.simple_response("remember me")
    s.simulate_disconnect()
    assert s.state is SessionState.RECONNECTING and not s.connected
    before = s.log.audio_ms
    await s.simple_audio_response(PcmData.silence(100, 16000))
    assert s.log.audio_ms == before  # buffered, not sent
    back = await events.wait_for(RealtimeReconnectedEvent, timeout=5)
    assert back.state_restored and back.replayed_audio_ms == pytest.approx(100) and back.lost_audio_ms == 0
    assert s.log.audio_ms == pytest.approx(before + 100)
    assert s.connected and s.log.connections == 2
    await s.close()
    got = [e async for e in events]
    disconnects = [e for e in got if isinstance(e, RealtimeDisconnectedEvent)]
    assert [d.was_clean for d in disconnects] == [True]  # the unclean one came before the reconnect


async def test_gap_buffer_overflow_is_reported() -> None:
    s = FakeRealtime(reconnect=ReconnectPolicy(max_attempts=2, initial_delay=0.1, jitter=0, buffer_audio_ms=50))
    events = s.events()
    await s.connect()
    s.simulate_disconnect()
    for _ in range(5):
        await s.simple_audio_response(PcmData.silence(20, 16000))
    back = await events.wait_for(RealtimeReconnectedEvent, timeout=5)
    assert back.replayed_audio_ms == pytest.approx(40) and back.lost_audio_ms == pytest.approx(60)
    await s.close()


async def test_unrecoverable_drop_ends_the_session() -> None:
    s = FakeRealtime(reconnect=FAST_RECONNECT)
    events = s.events()
    await s.connect()
    s.simulate_disconnect(recoverable=False)
    got = [e async for e in events]
    assert isinstance(got[-1], RealtimeDisconnectedEvent) and not got[-1].was_clean and not got[-1].will_reconnect
    assert any(isinstance(e, RealtimeErrorEvent) for e in got)
    assert s.state is SessionState.FAILED
    with pytest.raises(SessionClosedError):
        await s.simple_audio_response(PcmData.silence(20, 16000))
    await s.close()


async def test_reconnect_gives_up_after_attempts() -> None:
    class Flaky(FakeRealtime):
        async def _reconnect(self, ctx: Any) -> bool:
            raise ConnectionFailedError("still down")

    s = Flaky(reconnect=FAST_RECONNECT)
    events = s.events()
    await s.connect()
    s.simulate_disconnect()
    got = [e async for e in events]
    final = got[-1]
    assert isinstance(final, RealtimeDisconnectedEvent) and final.reason == "reconnect failed"
    err = next(e for e in got if isinstance(e, RealtimeErrorEvent) and e.context == "reconnect")
    assert "after 3 attempt" in str(err.error) and not err.recoverable
    await s.close()


async def test_reconnection_disabled() -> None:
    s = FakeRealtime(reconnect=ReconnectPolicy.disabled())
    events = s.events()
    await s.connect()
    s.simulate_disconnect()
    got = [e async for e in events]
    assert isinstance(got[-1], RealtimeDisconnectedEvent) and not got[-1].will_reconnect


async def test_planned_renewal() -> None:
    s = FakeRealtime(reconnect=FAST_RECONNECT)
    events = s.events()
    await s.connect()
    s._core.renew("go_away")
    back = await events.wait_for(RealtimeReconnectedEvent, timeout=5)
    assert back.planned and back.reason == "go_away" and back.state_restored
    assert s.log.connections == 2
    await s.close()


# ---------------------------------------------------------------------------------------------- consumption
async def test_overflow_drops_input_mirrors_first_never_control_events(caplog: pytest.LogCaptureFixture) -> None:
    s = Manual()
    stream = s.events(maxsize=5, audio_input=True)
    await s.connect()
    for _ in range(10):
        await s.simple_audio_response(PcmData.silence(20, 16000))
    s._emit_error_event("boom")
    await s.close()
    got = [e async for e in stream]
    assert isinstance(got[0], RealtimeConnectedEvent)
    assert isinstance(got[-1], RealtimeDisconnectedEvent)
    assert any(isinstance(e, RealtimeErrorEvent) for e in got)
    assert stream.dropped >= 6
    assert "falling behind" in caplog.text


async def test_handlers_run_in_order_and_survive_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    s = Manual()
    seen: list[str] = []

    @s.on(RealtimeConnectedEvent)
    def sync_handler(event: RealtimeConnectedEvent) -> None:
        seen.append("sync")
        raise RuntimeError("handler bug")

    @s.on(RealtimeEvent)
    async def async_handler(event: RealtimeEvent) -> None:
        seen.append(type(event).__name__)

    caplog.set_level(logging.ERROR)
    await s.connect()
    s._emit_user_speech_transcription("hello", mode="final")
    await s.close()
    assert seen[:2] == ["sync", "RealtimeConnectedEvent"]
    assert "RealtimeUserSpeechTranscriptionEvent" in seen and "UserTranscriptEvent" in seen
    assert seen[-1] == "RealtimeDisconnectedEvent"
    assert "handler bug" in caplog.text


async def test_user_transcripts_and_history() -> None:
    s = Manual()
    events = s.events()
    await s.connect()
    s._emit_user_speech_transcription("Hel", mode="delta")
    s._emit_user_speech_transcription("Hello", mode="final", item_id="i1")
    s._emit_agent_speech_transcription("Hi!", mode="final", response_id="r1")
    s._emit_response_event("Hi!", "r1", is_complete=True)  # same response: recorded once
    await s.close()
    got = [e async for e in events]
    stt = [e for e in got if isinstance(e, UserTranscriptEvent)]
    assert [(e.text, e.is_final) for e in stt] == [("Hel", False), ("Hello", True)]
    assert [e.mode for e in got if isinstance(e, RealtimeUserSpeechTranscriptionEvent)] == ["delta", "final"]
    assert [(h.role, h.text) for h in s.history] == [("user", "Hello"), ("assistant", "Hi!")]


async def test_echo_scenario_end_to_end() -> None:
    s = FakeRealtime()
    events = s.events()
    await s.connect()
    await say_turn(s)
    done = await events.wait_for(RealtimeAudioOutputDoneEvent, timeout=5)
    transcript = next(e for e in s.history if e.role == "assistant")
    assert "You spoke for 0.6 seconds" in transcript.text
    assert done.response_id
    await s.close()


async def test_no_task_left_after_close() -> None:
    s = FakeRealtime(scenario=Scenario(turns=[Turn(reply=Reply(audio_ms=5000, chunk_interval_ms=10))]))
    await s.connect()
    await s.simple_response("go")
    await s.events().wait_for(RealtimeAudioOutputEvent, timeout=5)
    await s.close()
    assert not pending_tasks(s)


async def test_video_sampling_limits_and_stop() -> None:
    import av

    from realtime_core import VideoFrameJpeg

    class Track:
        kind = "video"

        def __init__(self) -> None:
            self.n = 0

        async def recv(self) -> Any:
            await asyncio.sleep(0.005)
            self.n += 1
            return av.VideoFrame.from_ndarray(np.full((720, 1280, 3), self.n % 255, np.uint8), format="rgb24")

    class Counting(FakeRealtime):
        two = asyncio.Event()

        async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
            await super()._send_video_frame(frame)
            if len(self.log.frames) >= 2:
                self.two.set()

    s = Counting(fps=20)  # capped by capabilities.video_max_fps = 2
    await s.connect()
    track = Track()
    await s.watch_video_track(track)  # type: ignore[arg-type]
    sampler = s._video.sampler
    assert sampler is not None and sampler.fps == 2.0
    await asyncio.wait_for(s.two.wait(), 10)
    await s.stop_watching_video_track()
    frames = list(s.log.frames)
    assert all(f.width <= 640 and f.height <= 480 for f in frames)
    assert frames[0].width == 640 and frames[0].height == 360  # aspect ratio kept
    assert frames[0].data[:2] == b"\xff\xd8"
    assert frames[1].timestamp - frames[0].timestamp >= 0.4  # 2 fps, never faster
    assert track.n > 3 * len(frames)  # the track ran at its own pace: latest frame wins, no backlog
    assert not sampler.running and s._video.sampler is None  # nothing left that could send a frame
    await s.close()
    assert len(s.log.frames) == len(frames)


def test_repr_has_no_secrets() -> None:
    s = Manual()
    assert "manual" in repr(s) and s.session_id in repr(s)


async def test_rejects_non_text_say_when_supported() -> None:
    s = FakeRealtime()
    await s.connect()
    await s.say("Welcome")
    assert s.log.said == ["Welcome"]
    with pytest.raises(ConfigurationError):
        await s.say("")
    await s.close()


def test_fast_events_equal_validated_ones() -> None:
    pcm = PcmData.silence(20, 24000)
    fields = {"session_id": "s", "provider": "p", "timestamp": 1.0, "epoch": 2, "user_metadata": None}
    fast = RealtimeAudioOutputEvent.fast(**fields, audio_data=pcm, response_id="r")
    slow = RealtimeAudioOutputEvent(**fields, audio_data=pcm, response_id="r")
    assert fast == slow and fast.type == "realtime.audio_output"
    assert fast.model_dump(mode="json") == slow.model_dump(mode="json")
    with pytest.raises(pydantic.ValidationError):  # still frozen
        fast.epoch = 3  # type: ignore[misc]


async def test_input_mirrors_only_when_asked_for() -> None:
    s = FakeRealtime()
    plain, asked, typed = s.events(), s.events(audio_input=True), s.events(types=[RealtimeAudioInputEvent])
    await s.connect()
    await s.simple_audio_response(PcmData.silence(20, 16000))
    await s.close()
    assert not [e async for e in plain if isinstance(e, RealtimeAudioInputEvent)]
    assert len([e async for e in asked if isinstance(e, RealtimeAudioInputEvent)]) == 1
    assert [type(e) async for e in typed] == [RealtimeAudioInputEvent]
