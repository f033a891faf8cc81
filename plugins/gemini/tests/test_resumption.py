"""Session limits: goAway, resumption handles, dropped connections; nothing the user said is lost."""

from __future__ import annotations

import asyncio
import re

import pytest

from realtime_core import (
    PcmData,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    RealtimeToolCallStartedEvent,
    RealtimeUserSpeechTranscriptionEvent,
    ReconnectPolicy,
)
from realtime_core.emulator import Fault, Reply, Scenario, Turn
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator

from .conftest import RecorderFactory, of, send_audio, silence, speech, utterance

FAST = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05)


def spoken_seconds(text: str) -> float:
    match = re.search(r"You spoke for ([0-9.]+) seconds", text)
    assert match, text
    return float(match.group(1))


def final_agent(events: list) -> list[str]:
    return [e.text for e in of(events, RealtimeAgentSpeechTranscriptionEvent) if e.mode == "final"]


async def test_go_away_mid_conversation_resumes_without_losing_audio_or_context(recorder: RecorderFactory) -> None:
    async with GeminiEmulator() as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST)
        async with session:
            rec = await recorder(session)
            # turn 1 on the first connection
            await send_audio(session, utterance(600, 700))
            first = await rec.collect_until(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
            assert final_agent(first) == ["You spoke for 0.6 seconds."]

            # turn 2 starts on the first connection...
            sent_before = emu.audio_received_ms
            await send_audio(session, speech(600))
            await emu.wait_audio(sent_before + 600)
            await emu.go_away_all(time_left=10.0)
            # ...and ends after the switch (sent while reconnecting or after)
            await send_audio(session, PcmData.concat([speech(600), silence(700)]))

            events = await rec.collect_until(
                RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final", after=first[-1]
            )
            reconnected = of(events, RealtimeReconnectedEvent)
            assert len(reconnected) == 1
            assert reconnected[0].planned and reconnected[0].reason == "go_away"
            assert reconnected[0].state_restored and reconnected[0].lost_audio_ms == 0
            assert not of(events, RealtimeDisconnectedEvent)  # a planned switch is not a disconnect
            # the whole utterance was heard on the new connection: 1.2 s of speech (+ VAD prefix padding)
            assert spoken_seconds(final_agent(events)[-1]) >= 1.2

        assert emu.connections == 2
        restored = emu.facts_named("state_restored")
        assert [f.connection for f in restored] == [2]
        conversation = emu.conversation(2)
        assert conversation.texts("user") == ["[0.6 seconds of speech]", conversation.texts("user")[1]]
        assert conversation.texts("model")[0] == "You spoke for 0.6 seconds."
        assert len(conversation.texts("model")) == 2
        # the client closed the old connection itself: the server never had to enforce the goAway
        assert not [c for c in emu.closes if c[0] == 1 and c[1] == 1008]
        setup2 = emu.messages("setup", connection=2)[0].payload["setup"]
        assert setup2["sessionResumption"]["handle"].startswith("emu-")


async def test_go_away_during_a_reply_waits_for_the_turn_to_finish(recorder: RecorderFactory) -> None:
    reply = Reply(text="A long answer.", audio="tone", audio_ms=1200, chunk_ms=100, chunk_interval_ms=40)
    async with GeminiEmulator(scenario=Scenario(turns=[Turn(reply=reply)])) as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST)
        async with session:
            rec = await recorder(session)
            await session.simple_response("tell me something long")
            events = await rec.collect_until(RealtimeAudioOutputEvent)  # the reply is streaming
            await emu.go_away_all(time_left=10.0)
            events += await rec.collect_until(RealtimeReconnectedEvent, after=events[-1])
            done = of(events, RealtimeAudioOutputDoneEvent)
            assert len(done) == 1 and not done[0].interrupted  # the reply played out before the switch
            assert events.index(done[0]) < events.index(of(events, RealtimeReconnectedEvent)[0])
            assert of(events, RealtimeReconnectedEvent)[0].state_restored
        # the switch used the handle issued after that reply, so the resumed conversation holds it
        assert emu.conversation(2).texts("model") == ["A long answer."]
        assert emu.conversation(2).texts("user") == ["tell me something long"]


async def test_go_away_deadline_forces_the_switch_even_mid_reply(recorder: RecorderFactory) -> None:
    reply = Reply(text="An endless answer.", audio="tone", audio_ms=20_000, chunk_ms=100, chunk_interval_ms=50)
    async with GeminiEmulator(scenario=Scenario(turns=[Turn(reply=reply)]), resumption_update_on_setup=True) as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST, go_away_margin=0.5)
        async with session:
            rec = await recorder(session)
            await session.simple_response("talk forever")
            first = await rec.wait_for(RealtimeAudioOutputEvent)
            await emu.go_away_all(time_left=1.0)
            events = await rec.collect_until(RealtimeReconnectedEvent, after=first)
            done = of(events, RealtimeAudioOutputDoneEvent)
            assert len(done) == 1 and done[0].interrupted  # the old connection took the rest of the reply away
            assert of(events, RealtimeReconnectedEvent)[0].state_restored
        assert not [c for c in emu.closes if c[0] == 1 and c[1] == 1008]


async def test_session_lifetime_option_sends_go_away_and_the_client_rotates(recorder: RecorderFactory) -> None:
    async with GeminiEmulator(session_lifetime_s=0.3, go_away_time_left_s=5.0, resumption_update_on_setup=True) as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST)
        async with session:
            rec = await recorder(session)
            events = await rec.collect_until(RealtimeReconnectedEvent)
            assert of(events, RealtimeReconnectedEvent)[0].planned
            assert of(events, RealtimeReconnectedEvent)[0].state_restored
            await send_audio(session, utterance())
            await rec.wait_for(RealtimeAudioOutputDoneEvent, after=events[-1])
        assert emu.facts_named("state_restored")


async def test_dropped_connection_resumes_and_replays_unconfirmed_audio(recorder: RecorderFactory) -> None:
    async with GeminiEmulator() as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST)
        async with session:
            rec = await recorder(session)
            await send_audio(session, utterance(500, 700))
            heard = await rec.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
            before = emu.audio_received_ms
            await send_audio(session, speech(600))
            await emu.wait_audio(before + 600)
            await emu.drop_all()  # no close frame: the client sees 1006
            await send_audio(session, PcmData.concat([speech(600), silence(700)]))
            events = await rec.collect_until(
                RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final", after=heard
            )
            disconnected = of(events, RealtimeDisconnectedEvent)
            assert len(disconnected) == 1 and not disconnected[0].was_clean and disconnected[0].will_reconnect
            reconnected = of(events, RealtimeReconnectedEvent)
            assert len(reconnected) == 1 and reconnected[0].state_restored and not reconnected[0].planned
            assert spoken_seconds(final_agent(events)[-1]) >= 1.2  # the speech sent before the drop was replayed
        assert [f.connection for f in emu.facts_named("state_restored")] == [2]


async def test_refused_handle_falls_back_to_a_fresh_session_and_says_so(recorder: RecorderFactory) -> None:
    async with GeminiEmulator() as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST)
        async with session:
            rec = await recorder(session)
            await send_audio(session, utterance())
            heard = await rec.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
            emu.handles.expire_all()
            await emu.drop_all()
            reconnected = await rec.wait_for(RealtimeReconnectedEvent, after=heard)
            assert not reconnected.state_restored  # the truth: the context is gone
            assert not session.resumption_handle_available
            await send_audio(session, utterance())
            await rec.wait_for(RealtimeAudioOutputDoneEvent, after=reconnected)
        assert not emu.facts_named("state_restored")
        # connection 2 was refused ("session not found"), connection 3 started afresh
        assert (2, 1008, "BidiGenerateContent session not found") in emu.closes
        assert "handle" not in emu.setups[3]["sessionResumption"]


async def test_resume_refused_while_old_connection_lives_falls_back_to_break_before_make(
    recorder: RecorderFactory,
) -> None:
    async with GeminiEmulator(concurrent_resume="reject") as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST)
        async with session:
            rec = await recorder(session)
            await send_audio(session, utterance())
            heard = await rec.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
            await emu.go_away_all(time_left=10.0)
            reconnected = await rec.wait_for(RealtimeReconnectedEvent, after=heard)
            assert reconnected.state_restored
        assert [f.connection for f in emu.facts_named("state_restored")] == [3]


async def test_without_resumption_reconnects_are_honestly_not_restored() -> None:
    async with GeminiEmulator() as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST, session_resumption=False)
        assert not session.capabilities.session_resumption
        async with session:
            stream = session.events()
            await send_audio(session, utterance())
            await stream.wait_for(RealtimeAudioOutputDoneEvent)
            await emu.drop_all()
            reconnected = await stream.wait_for(RealtimeReconnectedEvent)
            assert not reconnected.state_restored
        assert "sessionResumption" not in emu.setups[1]
        assert not any("sessionResumptionUpdate" in m for m in emu.sent_messages() if isinstance(m, dict))


async def test_server_errors_map_to_recoverable_or_fatal(recorder: RecorderFactory) -> None:
    faults = [Fault(kind="close", code=1011, at_turn=0, phase="before_reply")]
    async with GeminiEmulator(scenario=Scenario(faults=faults)) as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST)
        async with session:
            rec = await recorder(session)
            await session.simple_response("hi")
            events = await rec.collect_until(RealtimeReconnectedEvent)
            errors = of(events, RealtimeErrorEvent)
            assert errors and errors[0].error.code == "1011" and errors[0].error.recoverable
            assert "Internal error occurred." in str(errors[0].error)

    faults = [Fault(kind="close", code=1007, message="Request contains an invalid argument.", at_turn=0)]
    async with GeminiEmulator(scenario=Scenario(faults=faults)) as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST)
        stream = session.events()
        await session.connect()
        await session.simple_response("hi")
        events = [e async for e in stream]  # the stream ends: the session failed for good
        disconnected = of(events, RealtimeDisconnectedEvent)
        assert len(disconnected) == 1 and not disconnected[0].will_reconnect
        assert of(events, RealtimeErrorEvent)[-1].error.code == "1007"
        assert not of(events, RealtimeReconnectedEvent)
        assert emu.connections == 1
        await session.close()


async def test_tool_results_for_a_replaced_connection_are_not_sent() -> None:
    release = asyncio.Event()

    async def slow_lookup(city: str) -> str:
        await release.wait()
        return "sunny"

    turn = Turn(
        reply=Reply(tool_calls=[{"name": "slow_lookup", "arguments": {"city": "Paris"}}]),
        after_tools=Reply(text="Sunny."),
    )
    async with GeminiEmulator(scenario=Scenario(turns=[turn])) as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST, tools=[slow_lookup])
        async with session:
            stream = session.events()
            await session.simple_response("weather?")
            await stream.wait_for(RealtimeToolCallStartedEvent)
            await emu.drop_all()
            await stream.wait_for(RealtimeReconnectedEvent)
            release.set()
            error = await stream.wait_for(RealtimeErrorEvent, lambda e: e.context == "tool results")
            assert "slow_lookup" in str(error.error)
        assert not emu.messages("toolResponse")


@pytest.mark.parametrize("planned", [False, True])
async def test_a_question_the_old_connection_never_answered_is_asked_again(
    planned: bool, recorder: RecorderFactory
) -> None:
    # the connection ends after the question arrived and before any reply: dropped (1011), or a goAway with
    # no time left (the switch cannot wait for the reply)
    fault = Fault(kind="go_away", delay_ms=1, at_turn=0) if planned else Fault(kind="close", code=1011, at_turn=0)
    answer = Turn(on="text", reply=Reply(text="Here is the answer."))
    scenario = Scenario(turns=[answer], faults=[fault], when_exhausted="repeat_last")
    async with GeminiEmulator(scenario=scenario) as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST)
        async with session:
            rec = await recorder(session)
            await session.simple_response("what is the answer?")
            reconnected = await rec.wait_for(RealtimeReconnectedEvent)
            assert reconnected.planned is planned
            said = await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
            assert said.text == "Here is the answer."
        assert [m.connection for m in emu.messages("realtimeInput.text")] == [1, 2]
