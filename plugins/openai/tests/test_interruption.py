"""Interruption: local interrupt (cancel + truncate), server barge-in (truncate), truncation bounds."""

from __future__ import annotations

from realtime_core import (
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeErrorEvent,
    RealtimeInterruptedEvent,
)
from realtime_openai import ServerVad

from .helpers import (
    EmulatorFactory,
    RecorderFactory,
    SessionFactory,
    client_events,
    long_turn,
    scenario,
    send,
    speak,
    speech,
    turn,
)


async def test_local_interrupt_mid_reply_cancels_then_truncates(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator(scenario(long_turn()))
    s = session(emu)
    await s.connect()
    events = s.events()
    await s.simple_response("tell me everything")
    first = await events.wait_for(RealtimeAudioOutputEvent)
    await events.wait_for(RealtimeAudioOutputEvent)
    await s.interrupt()
    interrupted = await events.wait_for(RealtimeInterruptedEvent)
    assert interrupted.source == "local" and interrupted.response_id == first.response_id
    truncate = await emu.wait_fact("truncate")
    cancel = emu.facts_named("cancel")[0]
    assert cancel.data["response_id"] == first.response_id and cancel.at <= truncate.at
    assert 0 <= truncate.data["audio_end_ms"] <= truncate.data["sent_ms"]
    done = emu.server_events_of(kind="response.done")[0]["response"]
    assert done["status"] == "cancelled" and done["status_details"]["reason"] == "client_cancelled"
    sent = client_events(emu, "conversation.item.truncate")[0]
    assert sent["item_id"] == first_item_id(emu) and isinstance(sent["audio_end_ms"], int)
    await emu.wait_for(lambda m: m.kind == "conversation.item.truncate", timeout=30)
    assert emu.server_events_of(kind="conversation.item.truncated")
    done_events = await events.wait_for(RealtimeAudioOutputDoneEvent)
    assert done_events.interrupted


def first_item_id(emu: object) -> str:
    return emu.server_events_of(kind="response.output_audio.delta")[0]["item_id"]  # type: ignore[attr-defined]


async def test_speech_over_a_reply_is_a_server_barge_in(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(long_turn(), turn("Yes?")))
    s = session(emu)
    await s.connect()
    events = s.events()
    await s.simple_response("go on")
    chunk = await events.wait_for(RealtimeAudioOutputEvent)
    await send(s, speech(500))
    interrupted = await events.wait_for(RealtimeInterruptedEvent)
    assert interrupted.source == "server" and interrupted.response_id == chunk.response_id
    truncate = await emu.wait_fact("truncate")
    assert truncate.data["audio_end_ms"] <= truncate.data["sent_ms"]
    assert emu.facts_named("barge_in")
    assert not emu.facts_named("cancel")  # the server cancelled by itself (interrupt_response)
    done = emu.server_events_of(kind="response.done")[0]["response"]
    assert done["status_details"]["reason"] == "turn_detected"


async def test_truncation_uses_reported_playback_even_after_the_response_finished(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    """Audio arrives faster than real time: the reply is complete while the user still hears it."""
    emu = await emulator(scenario(turn("A complete answer.", audio_ms=3000), turn("Go ahead.")))
    s = session(emu)
    await s.connect()
    events = s.events()
    await s.simple_response("hi")
    done = await events.wait_for(RealtimeAudioOutputDoneEvent)
    s.report_playback(done.response_id, 1234.5)  # the app's player is 1.2 s in
    await speak(s, 400, silence_ms=0)
    interrupted = await events.wait_for(RealtimeInterruptedEvent)
    assert interrupted.source == "server"
    truncate = await emu.wait_fact("truncate")
    assert truncate.data["audio_end_ms"] == 1234 and truncate.data["sent_ms"] == 3000
    assert not client_events(emu, "response.cancel")  # nothing was generating any more


async def test_a_reply_reported_as_fully_played_is_not_cut_by_speech(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn(audio_ms=300), turn("Next.")))
    s = session(emu)
    await s.connect()
    rec = await recorder(s)
    await s.simple_response("hi")
    first = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    s.report_playback(first.response_id, 300)  # the app played all of it: nothing is audible any more
    await speak(s)
    seen = await rec.collect_until(RealtimeAudioOutputDoneEvent, after=first)
    assert not [e for e in seen if isinstance(e, RealtimeInterruptedEvent)]
    assert not client_events(emu, "conversation.item.truncate")


async def test_interrupt_response_off_means_no_barge_in(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(long_turn(1.5), turn("Later.")))
    s = session(emu, turn_detection=ServerVad(interrupt_response=False))
    await s.connect()
    events = s.events()
    await s.simple_response("talk")
    await events.wait_for(RealtimeAudioOutputEvent)
    await send(s, speech(400))
    done = await events.wait_for(RealtimeAudioOutputDoneEvent)
    assert done.interrupted is False
    assert not emu.facts_named("barge_in") and not client_events(emu, "conversation.item.truncate")


async def test_interrupt_when_idle_sends_nothing(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator()
    s = session(emu)
    await s.connect()
    rec = await recorder(s)
    await s.interrupt()
    cut = await rec.wait_for(RealtimeInterruptedEvent)
    await s.simple_response("still there?")
    seen = await rec.collect_until(RealtimeAudioOutputDoneEvent, after=cut)
    assert not [e for e in seen if isinstance(e, RealtimeErrorEvent)]
    kinds = [m["type"] for m in client_events(emu)]
    assert kinds == ["session.update", "conversation.item.create", "response.create"]


async def test_a_response_the_server_cancelled_ends_interrupted(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator()
    s = session(emu)
    await s.connect()
    events = s.events()
    await emu.inject(
        {
            "type": "response.created",
            "response": {"object": "realtime.response", "id": "resp_c", "status": "in_progress", "output": []},
        }
    )
    cancelled = {"type": "cancelled", "reason": "turn_detected"}
    response = {
        "object": "realtime.response",
        "id": "resp_c",
        "status": "cancelled",
        "status_details": cancelled,
        "output": [],
    }
    await emu.inject({"type": "response.done", "response": response})
    done = await events.wait_for(RealtimeAudioOutputDoneEvent)
    assert done.response_id == "resp_c" and done.interrupted is True
