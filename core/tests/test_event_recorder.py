"""realtime_core.testing.EventRecorder: recording a session's events and waiting on them without sleeps."""

from __future__ import annotations

import asyncio

import pytest

from realtime_core import (
    PcmData,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeConnectedEvent,
    RealtimeDisconnectedEvent,
    RealtimeEvent,
    RealtimeInterruptedEvent,
    RealtimeUsageEvent,
)
from realtime_core.emulator import Reply, Scenario, Turn
from realtime_core.testing import EventRecorder, FakeRealtime

CHUNK = PcmData.silence(20, 24000)


def slow_reply(text: str = "A long answer.") -> Scenario:
    """A reply streamed chunk by chunk, slowly enough to be interrupted half-way."""
    reply = Reply(text=text, audio_ms=3000, chunk_ms=40, chunk_interval_ms=20)
    return Scenario(turns=[Turn(on="text", reply=reply)])


def audio(session: FakeRealtime, rid: str) -> None:
    session._emit_audio_output_event(CHUNK, rid)  # pyright: ignore[reportPrivateUsage]


async def test_records_every_event_in_order_from_the_connected_one() -> None:
    session = FakeRealtime()
    rec = EventRecorder(session)
    async with session:
        await session.simple_response("Hello")
        usage = await rec.wait_for(RealtimeUsageEvent)
    events = await rec.wait_ended()
    assert events is rec.events and rec.ended.is_set()
    assert isinstance(events[0], RealtimeConnectedEvent) and isinstance(events[-1], RealtimeDisconnectedEvent)
    assert rec.index_of(usage) == events.index(usage)
    chunks = rec.of(RealtimeAudioOutputEvent)
    done = rec.of(RealtimeAudioOutputDoneEvent)
    assert chunks and len(done) == 1 and rec.index_of(chunks[-1]) < rec.index_of(done[0]) < rec.index_of(usage)
    final = rec.of(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert [e.text for e in final] == ["You said: Hello"]  # the echo scenario
    assert rec.dropped == 0
    await rec.aclose()


async def test_waits_see_events_recorded_before_the_wait_began() -> None:
    session = FakeRealtime()
    async with session, EventRecorder(session) as rec:
        audio(session, "r1")
        audio(session, "r1")
        second = await rec.wait_for(RealtimeAudioOutputEvent, count=2)
        assert await rec.wait_for(RealtimeAudioOutputEvent) is rec.of(RealtimeAudioOutputEvent)[0]
        assert second is rec.events[-1] and rec.mark() == len(rec.events)
        assert [e.type for e in rec.events] == [
            "realtime.connected",
            "realtime.agent_speech_started",  # core starts the response at its first chunk
            "realtime.audio_output",
            "realtime.audio_output",
        ]


async def test_after_a_mark_or_an_event_looks_only_at_later_events() -> None:
    session = FakeRealtime()
    async with session, EventRecorder(session) as rec:
        audio(session, "r1")
        first = await rec.wait_for(RealtimeAudioOutputEvent)
        mark = rec.mark()
        audio(session, "r2")
        audio(session, "r3")
        by_mark = await rec.wait_for(RealtimeAudioOutputEvent, after=mark)
        by_event = await rec.wait_for(RealtimeAudioOutputEvent, after=first)
        assert by_mark is by_event and by_mark.response_id == "r2"
        third = await rec.wait_for(RealtimeAudioOutputEvent, count=2, after=first)
        assert third.response_id == "r3"
        assert [e.response_id for e in rec.of(RealtimeAudioOutputEvent, after=by_mark)] == ["r3"]
        assert [e.response_id for e in rec.of(RealtimeAudioOutputEvent, lambda e: e.response_id != "r2")] == [
            "r1",
            "r3",
        ]
        assert rec.of(RealtimeAudioOutputEvent, after=rec.mark()) == []


async def test_a_wait_blocks_until_the_event_arrives_and_concurrent_waits_all_wake() -> None:
    session = FakeRealtime()
    async with session, EventRecorder(session) as rec:
        waits = [
            asyncio.create_task(rec.wait_for(RealtimeAudioOutputEvent)),
            asyncio.create_task(rec.wait_for(RealtimeAudioOutputEvent, lambda e: e.response_id == "r2")),
        ]
        either = asyncio.create_task(rec.wait_for((RealtimeAudioOutputDoneEvent, RealtimeInterruptedEvent)))
        await asyncio.sleep(0)  # one turn of the loop: each wait has looked and found nothing yet
        assert not any(w.done() for w in [*waits, either])
        audio(session, "r1")
        audio(session, "r2")
        first, second = await asyncio.gather(*waits)
        assert (first.response_id, second.response_id) == ("r1", "r2") and not either.done()
        await session.interrupt()
        cut = await either
        assert isinstance(cut, RealtimeInterruptedEvent) and cut.source == "local"


async def test_collect_until_returns_the_events_from_after_to_the_match() -> None:
    session = FakeRealtime()
    async with session, EventRecorder(session) as rec:
        await session.simple_response("Hello")
        first = await rec.collect_until(RealtimeAudioOutputDoneEvent)
        assert first == rec.events[: len(first)] and isinstance(first[0], RealtimeConnectedEvent)
        assert isinstance(first[-1], RealtimeAudioOutputDoneEvent)
        await session.simple_response("Again")
        second = await rec.collect_until(
            RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final", after=first[-1]
        )
        assert second[0] is rec.events[rec.index_of(first[-1]) + 1]
        final = second[-1]
        assert isinstance(final, RealtimeAgentSpeechTranscriptionEvent) and final.text == "You said: Again"


async def test_a_timeout_names_what_was_missing_and_the_last_events() -> None:
    session = FakeRealtime()
    async with session, EventRecorder(session, timeout=0.05) as rec:
        audio(session, "r1")
        await rec.wait_for(RealtimeAudioOutputEvent)

        def is_r9(event: RealtimeAudioOutputEvent) -> bool:
            return event.response_id == "r9"

        with pytest.raises(TimeoutError) as info:
            await rec.wait_for(RealtimeAudioOutputEvent, is_r9, count=2, after=1)
        message = str(info.value)
        assert "timed out after 0.05 s waiting for 2 x RealtimeAudioOutputEvent" in message
        assert "matching test_a_timeout_names_what_was_missing_and_the_last_events.<locals>.is_r9" in message
        assert "after event #1" in message
        last = "realtime.connected, realtime.agent_speech_started, realtime.audio_output"
        assert f"found 0 among 3 recorded events; the last: {last}" in message
        with pytest.raises(TimeoutError, match=r"1 x RealtimeAudioOutputDoneEvent \| RealtimeUsageEvent; found 0"):
            await rec.collect_until((RealtimeAudioOutputDoneEvent, RealtimeUsageEvent), timeout=0.01)


async def test_the_end_of_the_session_fails_a_wait_at_once() -> None:
    session = FakeRealtime()
    rec = EventRecorder(session, timeout=60)
    await session.connect()
    waiting = asyncio.create_task(rec.wait_for(RealtimeUsageEvent))
    await session.close()
    async with asyncio.timeout(5):  # far below the recorder's 60 s: the end, not the timeout, stops it
        with pytest.raises(TimeoutError, match="the session's events ended before 1 x RealtimeUsageEvent; found 0"):
            await waiting
        with pytest.raises(TimeoutError, match="ended before"):
            await rec.wait_for(RealtimeAudioOutputEvent)
    assert await rec.wait_for(RealtimeDisconnectedEvent) is rec.events[-1]
    await rec.aclose()


async def test_wait_ended_times_out_while_the_session_lives() -> None:
    session = FakeRealtime()
    async with session, EventRecorder(session) as rec:
        with pytest.raises(TimeoutError, match=r"did not end within 0.01 s; 1 recorded events; the last: realtime.connected$"):
            await rec.wait_ended(timeout=0.01)


async def test_aclose_keeps_what_was_recorded_and_stops_recording() -> None:
    session = FakeRealtime()
    async with session:
        rec = EventRecorder(session)
        audio(session, "r1")
        await rec.aclose()  # the queued chunk is still recorded
        assert [type(e) for e in rec.events] == [
            RealtimeConnectedEvent,
            RealtimeAgentSpeechStartedEvent,
            RealtimeAudioOutputEvent,
        ]
        assert rec.ended.is_set() and session._dispatcher.stream_count == 0  # pyright: ignore[reportPrivateUsage]
        audio(session, "r2")
        await rec.aclose()  # idempotent
        assert len(rec.events) == 3
        assert "ended events=3" in repr(rec)


async def test_types_limits_what_is_recorded() -> None:
    session = FakeRealtime()
    async with session, EventRecorder(session, types=[RealtimeAudioOutputDoneEvent]) as rec:
        await session.simple_response("Hello")
        done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
        assert rec.events == [done]


async def test_stale_output_after_an_interruption_is_never_recorded() -> None:
    session = FakeRealtime(scenario=slow_reply())
    async with session, EventRecorder(session) as rec:
        await session.simple_response("talk")
        first = await rec.wait_for(RealtimeAudioOutputEvent)
        mark = rec.mark()
        await session.interrupt()
        after = await rec.collect_until(RealtimeAudioOutputDoneEvent, after=mark)
        assert isinstance(after[0], RealtimeInterruptedEvent) and after[0].response_id == first.response_id
        done = after[-1]
        assert isinstance(done, RealtimeAudioOutputDoneEvent) and done.interrupted
        await session.simple_response("again")  # the echo scenario's next turn is not the slow one
        await rec.wait_for(RealtimeAudioOutputDoneEvent, count=2)
        cut = rec.index_of(after[0])
        assert not rec.of(RealtimeAudioOutputEvent, lambda e: e.response_id == first.response_id, after=cut)


async def test_bad_arguments_are_refused() -> None:
    session = FakeRealtime()
    async with session, EventRecorder(session) as rec:
        stranger: RealtimeEvent = RealtimeConnectedEvent.model_construct(type="realtime.connected")
        with pytest.raises(ValueError, match="not recorded"):
            rec.index_of(stranger)
        with pytest.raises(ValueError, match="not recorded"):
            rec.of(RealtimeEvent, after=stranger)
        with pytest.raises(ValueError, match="after must be"):
            rec.of(RealtimeEvent, after=-1)
        with pytest.raises(ValueError, match="count must be"):
            await rec.wait_for(RealtimeConnectedEvent, count=0)


def test_a_recorder_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        EventRecorder(FakeRealtime())


async def test_audio_helpers_speak_a_turn_the_vad_hears() -> None:
    from realtime_core import RealtimeAudioOutputDoneEvent
    from realtime_core.testing import EventRecorder, FakeRealtime, speak, speech_tone

    assert speech_tone(100, 16000).rms() > 0.2  # well above the emulators' VAD threshold
    session = FakeRealtime()
    await session.connect()
    rec = EventRecorder(session)
    await speak(session, 600, 800, rate=48000)
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert done.response_id and session.log.audio_ms > 1300
    await rec.aclose()
    await session.close()


async def test_client_messages_excludes_facts() -> None:
    from realtime_conformance.reference import ReferenceEmulator, ReferenceRealtime
    from realtime_core.testing import client_messages

    async with ReferenceEmulator() as emu:
        session = ReferenceRealtime(**emu.session_options())
        await session.connect()
        await session.simple_response("hello")
        await emu.wait_fact("text_in")
        await session.close()
        kinds = [m["type"] for m in client_messages(emu)]
        assert kinds[:2] == ["session.update", "text.send"] and not any(k.startswith("fact") for k in kinds)
        assert client_messages(emu, "text.send", connection=1)[0]["text"] == "hello"
