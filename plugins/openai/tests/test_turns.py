"""Turns: spoken (server VAD), manual, text and say; what the app sees and what the server receives."""

from __future__ import annotations

import base64

import pytest

from realtime_core import (
    InvalidAudioError,
    PcmData,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeErrorEvent,
    RealtimeRateLimitsEvent,
    RealtimeResponseEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechStoppedEvent,
    RealtimeUserSpeechTranscriptionEvent,
    UnsupportedCapability,
)
from realtime_core.emulator import Reply, Scenario, Turn

from .helpers import (
    USER_TEXT,
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


async def test_spoken_turn_end_to_end(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("Sunny all day.", audio_ms=800)))
    s = session(emu)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    seen = await rec.collect_until(RealtimeUsageEvent, lambda u: u.response_id is not None)  # the reply's usage
    started = [e for e in seen if isinstance(e, RealtimeUserSpeechStartedEvent)]
    stopped = [e for e in seen if isinstance(e, RealtimeUserSpeechStoppedEvent)]
    assert len(started) == 1 and len(stopped) == 1 and started[0].item_id == stopped[0].item_id
    start_ms, end_ms = started[0].audio_start_ms, stopped[0].audio_end_ms
    assert start_ms is not None and end_ms is not None and end_ms > start_ms
    chunks = [e for e in seen if isinstance(e, RealtimeAudioOutputEvent)]
    assert chunks and {c.response_id for c in chunks} == {chunks[0].response_id}
    assert all(c.audio_data.sample_rate == 24000 and c.audio_data.channels == 1 for c in chunks)
    assert abs(sum(c.audio_data.duration_ms for c in chunks) - 800) < 1
    dones = [i for i, e in enumerate(seen) if isinstance(e, RealtimeAudioOutputDoneEvent)]
    assert len(dones) == 1 and dones[0] > seen.index(chunks[-1])
    agent = [e for e in seen if isinstance(e, RealtimeAgentSpeechTranscriptionEvent)]
    final = [e for e in agent if e.mode == "final"]
    assert len(final) == 1 and final[0].text == "Sunny all day."
    assert "".join(e.text for e in agent if e.mode == "delta") == final[0].text
    user = [e for e in seen if isinstance(e, RealtimeUserSpeechTranscriptionEvent)]
    user_final = [e for e in user if e.mode == "final"]
    assert user_final and user_final[0].text == USER_TEXT and user_final[0].item_id == started[0].item_id
    assert "".join(e.text for e in user if e.mode == "delta") == USER_TEXT
    usage = seen[-1]
    assert isinstance(usage, RealtimeUsageEvent)
    assert usage.response_id == chunks[0].response_id and usage.output_audio_tokens == 16 and usage.total_tokens
    limits = await rec.wait_for(RealtimeRateLimitsEvent, after=usage)
    assert {lim.name for lim in limits.limits} == {"requests", "tokens"}
    assert [h.role for h in s.history] == ["user", "assistant"]


async def test_any_input_format_is_resampled_to_24k_mono(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn()))
    s = session(emu)
    await s.connect()
    events = s.events()
    stereo48 = PcmData.concat([speech(600, 48000), PcmData.silence(900, 48000)]).to_stereo()
    await send(s, stereo48)
    await events.wait_for(RealtimeAudioOutputDoneEvent)
    await emu.wait_audio(1480, timeout=30)  # the resampler keeps a few ms inside its filter
    assert emu.audio_received_ms <= 1500


async def test_small_chunks_are_coalesced_and_the_tail_is_flushed(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator()
    s = session(emu)
    await s.connect()
    await send(s, PcmData.silence(130, 24000), chunk_ms=10)  # 13 chunks of 10 ms
    await emu.wait_audio(130, timeout=30)  # the 30 ms tail goes out on the timer
    sizes = [len(base64.b64decode(m["audio"])) / 48 for m in client_events(emu, "input_audio_buffer.append")]
    assert sizes == [50, 50, 30]


async def test_long_chunks_are_split_and_short_ones_sent_as_is(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator()
    s = session(emu, min_append_ms=0)
    await s.connect()
    await s.simple_audio_response(PcmData.silence(2500, 24000))
    await s.simple_audio_response(PcmData.silence(20, 24000))
    await emu.wait_audio(2520, timeout=30)
    sizes = [len(base64.b64decode(m["audio"])) / 48 for m in client_events(emu, "input_audio_buffer.append")]
    assert sizes == [1000, 1000, 500, 20]


async def test_manual_turns_commit_then_ask_for_a_response(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn("Manual reply.")))
    s = session(emu, turn_detection=None)
    caps = s.capabilities
    assert caps.manual_turns and not caps.server_vad and not caps.user_speech_events
    await s.connect()
    events = s.events()
    await s.begin_user_turn()
    await send(s, speech(400))
    await s.end_user_turn()
    final = await events.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert final.text == "Manual reply."
    kinds = [m["type"] for m in client_events(emu) if m["type"] != "input_audio_buffer.append"]
    assert kinds == ["session.update", "input_audio_buffer.clear", "input_audio_buffer.commit", "response.create"]
    assert not emu.server_events_of(kind="input_audio_buffer.speech_started")


async def test_end_user_turn_without_enough_audio_is_refused_and_sends_nothing(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator()
    s = session(emu, turn_detection=None)
    await s.connect()
    await s.begin_user_turn()
    await s.simple_audio_response(speech(40))
    with pytest.raises(InvalidAudioError, match="100 ms"):
        await s.end_user_turn()
    assert not client_events(emu, "input_audio_buffer.commit") and not client_events(emu, "response.create")
    await s.simple_audio_response(speech(100))
    await s.end_user_turn()  # the 40 ms were kept: 140 ms now
    await emu.wait_for("response.create", timeout=30)


async def test_server_vad_refuses_manual_turns(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu)
    await s.connect()
    with pytest.raises(UnsupportedCapability):
        await s.end_user_turn()


async def test_text_input_is_a_user_item_and_a_response(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu)
    await s.connect()
    events = s.events()
    await s.simple_response("Hello there")
    final = await events.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert final.text == "You said: Hello there"  # the echo scenario
    assert (await emu.wait_fact("text_in")).data["text"] == "Hello there"
    item = client_events(emu, "conversation.item.create")[0]["item"]
    assert item == {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello there"}]}


async def test_text_modality_gives_response_events(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn("Plain text answer.")))
    s = session(emu, modality="text")
    await s.connect()
    events = s.events()
    await s.simple_response("hi")
    complete = await events.wait_for(RealtimeResponseEvent, lambda e: e.is_complete)
    assert complete.text == "Plain text answer."
    assert not emu.server_events_of(kind="response.output_audio.delta")


async def test_say_is_unsupported_by_default(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu)
    await s.connect()
    with pytest.raises(UnsupportedCapability):
        await s.say("Hello")
    assert not client_events(emu, "response.create")


async def test_say_with_instructions_mode_reads_the_text(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, say_mode="instructions")
    assert s.capabilities.say
    await s.connect()
    events = s.events()
    await s.say("Welcome aboard.")
    final = await events.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert final.text == "Welcome aboard."
    create = client_events(emu, "response.create")[0]["response"]
    assert "Welcome aboard." in create["instructions"] and create["tool_choice"] == "none"


async def test_requests_during_a_response_wait_for_it_to_finish(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    """A response.create while the server generates one would be refused: it is sent after response.done."""
    emu = await emulator(Scenario(turns=[long_turn(1.0), Turn(reply=Reply(text="Second.", audio_ms=200))]))
    s = session(emu)
    await s.connect()
    events = s.events()
    await s.simple_response("first")
    await events.wait_for(RealtimeAudioOutputEvent)
    await s.simple_response("second")
    final = await events.wait_for(
        RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final" and e.text == "Second."
    )
    assert final
    assert not emu.server_events_of(kind="error")  # no conversation_already_has_active_response
    assert len(client_events(emu, "response.create")) == 2


async def test_a_refused_response_create_is_resent_after_the_active_response(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    """If the server refuses response.create because one is active (a VAD turn raced us), it is sent again
    once that response is done, and the app sees no error."""
    emu = await emulator(Scenario(turns=[long_turn(0.8), Turn(reply=Reply(text="Retried.", audio_ms=200))]))
    s = session(emu)
    await s.connect()
    events = s.events()
    await s.simple_response("first")
    await events.wait_for(RealtimeAudioOutputEvent)
    event_id = client_events(emu, "response.create")[0]["event_id"]
    message = "Conversation already has an active response in progress: resp_x."
    refusal = {
        "type": "invalid_request_error",
        "code": "conversation_already_has_active_response",
        "message": message,
        "param": None,
        "event_id": event_id,
    }
    await emu.inject({"type": "error", "error": refusal})
    final = await events.wait_for(
        RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final" and e.text == "Retried."
    )
    assert final
    creates = client_events(emu, "response.create")
    assert [c["event_id"] for c in creates] == [event_id, event_id]
    assert not [e for e in [events.get_nowait() for _ in range(len(events))] if isinstance(e, RealtimeErrorEvent)]
