"""Errors, bad server frames, dropped connections, session expiry and the history replay."""

from __future__ import annotations

import pytest

from realtime_core import (
    AuthenticationError,
    ProtocolError,
    ProviderError,
    QuotaExceededError,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
    SessionExpiredError,
)
from realtime_core.emulator import Fault
from realtime_core.testing import pending_tasks
from realtime_openai.errors import error_from_http, error_from_payload

from .helpers import (
    EmulatorFactory,
    RecorderFactory,
    SessionFactory,
    client_events,
    scenario,
    send,
    speak,
    speech,
    turn,
)


async def test_server_error_event_is_reported_and_the_session_lives(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    faults = [Fault(kind="error", at_turn=0, phase="before_reply", code="server_error", message="emulated failure")]
    emu = await emulator(scenario(turn(), turn("Again."), faults=faults))
    s = session(emu)
    await s.connect()
    events = s.events()
    await speak(s)
    error = await events.wait_for(RealtimeErrorEvent)
    assert isinstance(error.error, ProviderError) and error.error.recoverable
    assert "emulated failure" in str(error.error) and error.context
    await events.wait_for(RealtimeAudioOutputDoneEvent)
    await speak(s)
    final = await events.wait_for(
        RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final" and e.text == "Again."
    )
    assert final and s.connected


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "response.output_audio.delta", "delta": ',  # cut-off JSON
        "[1, 2, 3]",  # JSON, not an object
        '{"type": "response.output_audio.delta"}',  # missing fields
        '{"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": "%%%"}',  # bad base64
        '{"type": "response.created", "response": {}}',  # no id
    ],
)
async def test_malformed_frames_become_protocol_errors_not_a_dead_loop(
    emulator: EmulatorFactory, session: SessionFactory, frame: str
) -> None:
    emu = await emulator(scenario(turn("Still alive.")))
    s = session(emu)
    await s.connect()
    events = s.events()
    await emu.inject(frame)
    await emu.inject({"type": "some.future.event", "payload": 1})  # unknown types are ignored quietly
    error = await events.wait_for(RealtimeErrorEvent)
    assert isinstance(error.error, ProtocolError) and error.context == "receive"
    await s.simple_response("are you there?")
    final = await events.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert final.text == "Still alive." and s.connected


async def test_failed_response_with_a_fatal_code_is_reported_unrecoverable(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator()
    s = session(emu)
    await s.connect()
    events = s.events()
    failed = {
        "type": "response.done",
        "response": {
            "object": "realtime.response", "id": "resp_x", "status": "failed", "output": [],
            "status_details": {"type": "failed", "error": {"type": "insufficient_quota", "code": "insufficient_quota"}},
        },
    }  # fmt: skip
    await emu.inject(failed)
    error = await events.wait_for(RealtimeErrorEvent)
    assert isinstance(error.error, QuotaExceededError) and error.error.recoverable is False


async def test_dropped_connection_reconnects_and_replays_history(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    faults = [Fault(kind="close", at_turn=1, phase="mid_reply")]
    turns = [
        turn("First answer."),
        turn("Second answer.", audio_ms=2000, chunk_ms=40, chunk_interval_ms=20),
        turn("Third."),
    ]
    emu = await emulator(scenario(*turns, faults=faults))
    s = session(emu)
    await s.connect()
    events = s.events()
    await s.simple_response("question one")
    await events.wait_for(RealtimeAudioOutputDoneEvent)
    await s.simple_response("question two")
    dropped = await events.wait_for(RealtimeDisconnectedEvent)
    assert dropped.was_clean is False and dropped.will_reconnect is True
    back = await events.wait_for(RealtimeReconnectedEvent)
    assert back.state_restored is True and back.planned is False
    fact = await emu.wait_fact("state_restored")
    assert fact.connection == 2
    replayed = [m["item"] for m in client_events(emu, "conversation.item.create", connection=2)]
    texts = [(i["role"], i["content"][0]["text"]) for i in replayed]
    assert texts == [("user", "question one"), ("assistant", "First answer."), ("user", "question two")]
    assert replayed[1]["content"][0]["type"] == "output_text"
    assert client_events(emu, "session.update", connection=2)  # the configuration came back too
    assert not emu.facts_named("text_in")[2:]  # replayed text is not new input
    await s.simple_response("question three")
    final = await events.wait_for(
        RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final" and e.text == "Third."
    )
    assert final


async def test_reconnect_without_history_does_not_claim_restoration(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator()
    s = session(emu)
    await s.connect()
    events = s.events()
    await emu.connection().close()  # drop the TCP connection
    back = await events.wait_for(RealtimeReconnectedEvent)
    assert back.state_restored is False
    assert not emu.facts_named("state_restored")
    await s.simple_response("hello again")
    await events.wait_for(RealtimeAudioOutputDoneEvent)


async def test_session_expiry_renews_with_the_conversation(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("Before expiry."), turn("After expiry.")), max_session_seconds=1.5)
    s = session(emu)
    await s.connect()
    rec = await recorder(s)
    await s.simple_response("hello")
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    expired = await rec.wait_for(RealtimeErrorEvent, after=done)
    assert isinstance(expired.error, SessionExpiredError) and "maximum duration" in str(expired.error)
    seen = await rec.collect_until(RealtimeReconnectedEvent, after=expired)
    back = seen[-1]
    assert isinstance(back, RealtimeReconnectedEvent)
    assert back.planned is True and back.reason == "session_expired" and back.state_restored is True
    assert not [e for e in seen if isinstance(e, RealtimeDisconnectedEvent)]  # a planned renewal, not a drop
    assert (await emu.wait_fact("state_restored")).connection == 2
    await s.simple_response("still there?")
    await rec.wait_for(
        RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final" and e.text == "After expiry.", after=back
    )


async def test_fatal_error_then_close_stops_reconnecting(emulator: EmulatorFactory, session: SessionFactory) -> None:
    faults = [
        Fault(kind="error", after_messages=2, code="invalid_api_key", message="Incorrect API key provided."),
        Fault(kind="close", after_messages=2, code=1008),
    ]
    emu = await emulator(scenario(turn(), faults=faults))
    s = session(emu)
    await s.connect()
    events = s.events()
    await s.simple_response("hi")
    dropped = await events.wait_for(RealtimeDisconnectedEvent)
    assert dropped.will_reconnect is False and isinstance(dropped.error, AuthenticationError)
    remaining = [e async for e in events]
    assert not [e for e in remaining if isinstance(e, RealtimeReconnectedEvent)]
    assert emu.connections == 1


async def test_audio_sent_while_reconnecting_is_kept(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn()))
    s = session(emu, reconnect=ReconnectPolicy(max_attempts=3, initial_delay=0.3, jitter=0))
    await s.connect()
    events = s.events()
    await emu.connection().close()
    await events.wait_for(RealtimeDisconnectedEvent)
    await send(s, speech(200))
    back = await events.wait_for(RealtimeReconnectedEvent)
    assert back.replayed_audio_ms + back.lost_audio_ms >= 190
    await emu.wait_audio(190, timeout=30)


def test_error_mapping() -> None:
    assert isinstance(error_from_payload({"code": "invalid_api_key", "message": "x"}), AuthenticationError)
    quota = error_from_payload({"code": "insufficient_quota", "message": "x"})
    assert isinstance(quota, QuotaExceededError) and not quota.recoverable
    assert error_from_payload({"code": "rate_limit_exceeded"}).recoverable
    assert isinstance(error_from_payload({"code": "session_expired"}), SessionExpiredError)
    generic = error_from_payload({"type": "server_error", "code": None, "message": "oops", "param": "p"})
    assert type(generic) is ProviderError and generic.recoverable and "param: p" in str(generic)
    assert isinstance(error_from_http(401, {"error": {"message": "no"}}, what="x"), AuthenticationError)
    assert not error_from_http(400, {}, what="x").recoverable
    assert error_from_http(503, None, what="x").recoverable


async def test_owned_tasks_end_with_the_session(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn()))
    s = session(emu)
    await s.connect()
    await speak(s, silence_ms=30)  # leaves a coalescing timer armed
    await s.close()
    assert not pending_tasks(s)
