"""Interruption: server barge-in, local interrupt, manual activity, and their events."""

from __future__ import annotations

import asyncio

import pytest

from realtime_core import (
    ConfigurationError,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeInterruptedEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeToolCallStartedEvent,
    UnsupportedCapability,
)
from realtime_core.emulator import Reply, Scenario, ToolCallSpec, Turn
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator

from .conftest import RecorderFactory, of, send_audio, speech, utterance

SLOW = Reply(text="A long and slow answer.", audio="tone", audio_ms=3000, chunk_ms=100, chunk_interval_ms=30)


def slow_then_echo() -> Scenario:
    return Scenario(turns=[Turn(reply=SLOW)])


async def test_speech_over_a_reply_is_a_server_barge_in(recorder: RecorderFactory) -> None:
    async with GeminiEmulator(scenario=slow_then_echo()) as emu, GeminiRealtime(**emu.session_options()) as session:
        rec = await recorder(session)
        await session.simple_response("talk")
        events = await rec.collect_until(RealtimeAudioOutputEvent)
        rid = events[-1].response_id
        await send_audio(session, utterance(500, 700))
        events += await rec.collect_until(
            RealtimeAudioOutputDoneEvent, lambda e: e.response_id != rid, after=events[-1]
        )

        interrupted = of(events, RealtimeInterruptedEvent)
        assert len(interrupted) == 1 and interrupted[0].source == "server" and interrupted[0].response_id == rid
        cut = events.index(interrupted[0])
        stopped = of(events, RealtimeAgentSpeechStoppedEvent)
        assert stopped[0].response_id == rid and stopped[0].interrupted
        done = [e for e in of(events, RealtimeAudioOutputDoneEvent) if e.response_id == rid]
        assert len(done) == 1 and done[0].interrupted
        # nothing of the interrupted reply reaches the app afterwards
        assert not [e for e in events[cut:] if isinstance(e, RealtimeAudioOutputEvent) and e.response_id == rid]
        # the user's speech was then answered in a new response
        assert of(events[cut:], RealtimeAudioOutputEvent)
        assert emu.facts_named("barge_in")
        kinds = [m["serverContent"] for m in emu.sent_messages(1) if isinstance(m, dict) and "serverContent" in m]
        i = kinds.index({"interrupted": True})
        assert kinds[i + 1] == {"turnComplete": True}
        assert {"generationComplete": True} not in kinds[:i][-3:]  # no generationComplete for a cut turn


async def test_local_interrupt_drops_the_rest_and_tells_the_server_nothing(recorder: RecorderFactory) -> None:
    async with GeminiEmulator(scenario=slow_then_echo()) as emu, GeminiRealtime(**emu.session_options()) as session:
        assert emu.interrupt_facts == ()
        rec = await recorder(session)
        await session.simple_response("talk")
        first = await rec.wait_for(RealtimeAudioOutputEvent)
        sent_before = {m.kind for m in emu.received}
        mark = rec.mark()  # what the app receives from the interrupt() call on
        await session.interrupt()
        events = await rec.collect_until(RealtimeAudioOutputDoneEvent, after=mark)
        assert events[0].type == "realtime.interrupted" and events[0].source == "local"
        assert events[-1].interrupted and events[-1].response_id == first.response_id
        # the server keeps streaming the reply; none of it is delivered
        await emu.wait_for(lambda m: m.kind == "fact:text_in")
        await session.simple_response("again")
        later = await rec.collect_until(RealtimeAudioOutputEvent, after=events[-1])
        assert all(e.response_id != first.response_id for e in of(later, RealtimeAudioOutputEvent))
        assert {m.kind for m in emu.received} - sent_before <= {
            "realtimeInput.text",
            "fact:text_in",
            "fact:response_requested",
            "fact:barge_in",
            "fact:response_sent",
        }


async def test_barge_in_while_a_tool_runs_cancels_it_and_sends_no_result() -> None:
    started = asyncio.Event()

    async def slow_tool() -> str:
        started.set()
        await asyncio.sleep(30)  # cancelled long before
        return "never"

    turn = Turn(reply=Reply(tool_calls=[ToolCallSpec(name="slow_tool")]), after_tools=Reply(text="done"))
    async with GeminiEmulator(scenario=Scenario(turns=[turn])) as emu:
        session = GeminiRealtime(**emu.session_options(), tools=[slow_tool])
        async with session:
            stream = session.events()
            await session.simple_response("use the tool")
            await stream.wait_for(RealtimeToolCallStartedEvent)
            await send_audio(session, utterance(400, 700))
            finished = await stream.wait_for(RealtimeToolCallFinishedEvent)
            assert finished.cancelled
            await stream.wait_for(RealtimeAudioOutputDoneEvent)  # the echo of the new speech
            assert started.is_set()
        assert not emu.messages("toolResponse")
        assert any(isinstance(m, dict) and "toolCallCancellation" in m for m in emu.sent_messages())


async def test_manual_activity_maps_to_begin_and_end_user_turn(recorder: RecorderFactory) -> None:
    async with GeminiEmulator() as emu:
        session = GeminiRealtime(**emu.session_options(), manual_activity=True)
        caps = session.capabilities
        assert caps.manual_turns and not caps.server_vad
        async with session:
            rec = await recorder(session)
            with pytest.raises(ConfigurationError):
                await session.end_user_turn()  # no turn open
            await session.begin_user_turn()
            with pytest.raises(ConfigurationError):
                await session.end_user_turn()  # no audio yet: the server would end the session
            await send_audio(session, speech(600))
            await session.end_user_turn()
            events = await rec.collect_until(RealtimeAudioOutputDoneEvent)
            assert [e.type for e in events if e.type.startswith("realtime.user_speech_")][:2] == [
                "realtime.user_speech_started",
                "realtime.user_speech_stopped",
            ]
            assert emu.setups[1]["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": True}}
            assert [m.kind for m in emu.received if "activity" in m.kind] == [
                "realtimeInput.activityStart",
                "realtimeInput.activityEnd",
            ]
            assert not emu.messages("realtimeInput.audioStreamEnd")  # only with automatic detection


async def test_begin_user_turn_during_a_reply_interrupts_it() -> None:
    emulator = GeminiEmulator(scenario=slow_then_echo())
    async with emulator as emu, GeminiRealtime(**emu.session_options(), manual_activity=True) as session:
        stream = session.events()
        await session.simple_response("talk")
        await stream.wait_for(RealtimeAudioOutputEvent)
        await session.begin_user_turn()
        interrupted = await stream.wait_for(RealtimeInterruptedEvent)
        assert interrupted.source == "server"


async def test_no_interruption_declares_and_refuses_interrupt() -> None:
    async with GeminiEmulator() as emu:
        session = GeminiRealtime(**emu.session_options(), activity_handling="no_interruption")
        assert not session.capabilities.interruption
        async with session:
            with pytest.raises(UnsupportedCapability):
                await session.interrupt()
        assert emu.setups[1]["realtimeInputConfig"]["activityHandling"] == "NO_INTERRUPTION"
