"""The session against the emulator: configuration on the wire, turns, barge-in and cancel, transcript order,
usage and errors, manual turns, tools with sparse ids, close."""

from __future__ import annotations

import pytest

from realtime_core import (
    ConfigurationError,
    InvalidAudioError,
    ProtocolError,
    RateLimitedError,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeErrorEvent,
    RealtimeInterruptedEvent,
    RealtimeResponseEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechTranscriptionEvent,
)
from realtime_core.emulator import Fault, Reply, Turn
from realtime_qwen import ServerVad

from .helpers import (
    FLASH3,
    PLUS,
    TURBO,
    USER_TEXT,
    EmulatorFactory,
    RecorderFactory,
    SessionFactory,
    client_events,
    long_turn,
    scenario,
    speak,
    turn,
)


def _is_done(event: object) -> bool:
    return isinstance(event, RealtimeAudioOutputDoneEvent) and not event.interrupted


async def test_the_configuration_goes_out_and_comes_back(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, model=FLASH3, voice="Ethan", instructions="Be brief.", smooth_output=False, temperature=0.4)
    await s.connect()
    [update] = client_events(emu, "session.update")
    assert update["session"] == s.build_session()
    assert update["session"]["voice"] == "Ethan" and update["session"]["smooth_output"] is False
    server = s.server_session
    assert server["voice"] == "Ethan" and server["instructions"] == "Be brief." and server["temperature"] == 0.4
    assert server["output_audio_format"] == "pcm24" and server["input_audio_format"] == "pcm16"


async def test_an_unknown_qwen35_voice_is_refused_by_the_server(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, model=PLUS, voice="Nobody")  # qwen3.5 voices are open (cloned voices): the server decides
    with pytest.raises(ConfigurationError, match="Voice 'Nobody' is not supported"):
        await s.connect()
    assert not s.connected


async def test_a_spoken_turn(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("Sunny and warm.", audio_ms=500)))
    s = session(emu, model=TURBO)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    seen = await rec.collect_until(RealtimeUsageEvent)
    chunks = [e for e in seen if isinstance(e, RealtimeAudioOutputEvent)]
    assert chunks and all(c.audio_data.sample_rate == 24000 for c in chunks)
    assert sum(c.audio_data.duration_ms for c in chunks) == pytest.approx(500, abs=1)
    assert len({c.response_id for c in chunks}) == 1
    usage = seen[-1]
    assert isinstance(usage, RealtimeUsageEvent) and usage.response_id == chunks[0].response_id
    assert usage.input_audio_tokens and usage.output_audio_tokens and usage.input_text_tokens is not None
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens  # type: ignore[operator]
    [final] = [e for e in seen if isinstance(e, RealtimeAgentSpeechTranscriptionEvent) and e.mode == "final"]
    assert final.text == "Sunny and warm."
    assert [e for e in seen if _is_done(e)]
    appends = client_events(emu, "input_audio_buffer.append")
    assert appends and all(set(a) == {"type", "audio"} for a in appends)
    await emu.wait_audio(1800, timeout=5)  # the coalesced tail follows within min_append_ms: nothing lost
    assert emu.audio_received_ms == pytest.approx(1800, abs=1)


async def test_user_transcript_comes_before_the_reply_text(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    """DashScope transcribes beside the model: the transcript lands mid-reply. The reply's audio is not held,
    its transcript is, so the user's words come first (and history is in order)."""
    reply = turn("Here is my answer to you.", audio_ms=1200, chunk_ms=100, chunk_interval_ms=30)
    # the transcript comes 400 ms after response.created: later than the first audio under either latency profile
    emu = await emulator(scenario(reply), transcription_delay_ms=400, transcription_previews=False)
    s = session(emu, model=FLASH3)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    seen = await rec.collect_until(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    user = next(i for i, e in enumerate(seen) if isinstance(e, RealtimeUserSpeechTranscriptionEvent) and e.mode == "final")
    first_audio = next(i for i, e in enumerate(seen) if isinstance(e, RealtimeAudioOutputEvent))
    agent = [i for i, e in enumerate(seen) if isinstance(e, RealtimeAgentSpeechTranscriptionEvent)]
    assert first_audio < user < agent[0], "audio flows at once; the agent's words wait for the user's"
    deltas = [e.text for e in seen if isinstance(e, RealtimeAgentSpeechTranscriptionEvent) and e.mode == "delta"]
    assert "".join(deltas) == "Here is my answer to you."
    assert [(h.role, h.text) for h in s.history] == [("user", USER_TEXT), ("assistant", "Here is my answer to you.")]


async def test_the_hold_gives_up_when_no_transcript_comes(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn("Still answered.")), transcribe_manual_turns=False)
    s = session(emu, model=FLASH3, turn_detection=None, transcript_hold_s=0.2)
    await s.connect()
    events = s.events()
    await s.begin_user_turn()
    await speak(s, 500, 0)
    await s.end_user_turn()
    final = await events.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final", timeout=5)
    assert final.text == "Still answered."


async def test_qwen35_previews_become_deltas(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn()))
    s = session(emu, model=PLUS)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    seen = await rec.collect_until(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
    deltas = [e for e in seen if isinstance(e, RealtimeUserSpeechTranscriptionEvent) and e.mode == "delta"]
    assert len(deltas) >= 3 and "".join(d.text for d in deltas) == USER_TEXT == seen[-1].text  # type: ignore[attr-defined]
    assert deltas[0].original["stash"]  # the raw preview stays available


async def test_server_barge_in_flushes_locally_and_cancels(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    """What Vision-Agents forgot for Qwen: the local flush and the done event. Plus response.cancel."""
    emu = await emulator(scenario(long_turn(), turn("Yes?")))
    s = session(emu, model=PLUS)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    first = await rec.wait_for(RealtimeAudioOutputEvent, timeout=5)
    cut = first.response_id
    await speak(s, 500, 800)
    seen = await rec.collect_until(RealtimeAudioOutputDoneEvent, lambda e: _is_done(e) and e.response_id != cut, after=first)
    marker = next(i for i, e in enumerate(seen) if isinstance(e, RealtimeInterruptedEvent))
    assert seen[marker].source == "server" and seen[marker].response_id == cut  # type: ignore[attr-defined]
    done = [e for e in seen if isinstance(e, RealtimeAudioOutputDoneEvent) and e.response_id == cut]
    stopped = [e for e in seen if isinstance(e, RealtimeAgentSpeechStoppedEvent) and e.response_id == cut]
    assert len(done) == 1 and done[0].interrupted and len(stopped) == 1 and stopped[0].interrupted
    assert not [e for e in seen[marker:] if isinstance(e, RealtimeAudioOutputEvent) and e.response_id == cut]
    await emu.wait_for("response.cancel")
    assert emu.facts_named("barge_in")
    assert not [e for e in seen if isinstance(e, RealtimeErrorEvent)], "the cancel racing the server's own stop is not an error"


@pytest.mark.parametrize(("model", "done_after_cancel"), [(PLUS, False), (TURBO, True)])
async def test_local_interrupt_with_or_without_response_done(
    emulator: EmulatorFactory, session: SessionFactory, model: str, done_after_cancel: bool
) -> None:
    emu = await emulator(scenario(long_turn(), turn("Next answer.")), cancel_response_done=done_after_cancel)
    s = session(emu, model=model, turn_detection=None, cancel_grace_s=0.3)
    await s.connect()
    events = s.events()
    errors = s.events(types=[RealtimeErrorEvent])
    await s.begin_user_turn()
    await speak(s, 500, 0)
    await s.end_user_turn()
    chunk = await events.wait_for(RealtimeAudioOutputEvent, timeout=5)
    await s.interrupt()
    done = await events.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == chunk.response_id, timeout=5)
    assert done.interrupted
    await emu.wait_fact("cancel")
    # the next turn starts before the server said anything more: its response.create waits for the end of
    # the cancelled response (response.done, or the grace period when none comes)
    await s.begin_user_turn()
    await speak(s, 500, 0)
    await s.end_user_turn()
    nxt = await events.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, timeout=5)
    assert nxt.response_id != chunk.response_id
    kinds = [m.kind for m in emu.received if m.kind in ("fact:cancel", "response.create")]
    assert kinds == ["response.create", "fact:cancel", "response.create"]
    assert errors.get_nowait() is None
    assert len(emu.server_events_of(kind="response.done")) == (2 if done_after_cancel else 1)


async def test_manual_turns(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn("Manual.")))
    s = session(emu, model=TURBO, turn_detection=None)
    await s.connect()
    events = s.events()
    await s.begin_user_turn()
    with pytest.raises(InvalidAudioError):
        await s.end_user_turn()  # no audio yet: refused, nothing sent
    assert not client_events(emu, "input_audio_buffer.commit")
    await speak(s, 500, 0)
    await s.end_user_turn()
    await events.wait_for(RealtimeAudioOutputDoneEvent, timeout=5)
    kinds = [m.kind for m in emu.received if m.kind in ("input_audio_buffer.clear", "input_audio_buffer.commit", "response.create")]
    assert kinds == ["input_audio_buffer.clear", "input_audio_buffer.commit", "response.create"]
    assert emu.server_events_of(kind="input_audio_buffer.committed")


async def test_vad_without_auto_response(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn("On request.")))
    s = session(emu, model=PLUS, turn_detection=ServerVad(create_response=False))
    await s.connect()
    events = s.events()
    await speak(s)
    await events.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final", timeout=5)
    assert not emu.server_events_of(kind="response.created")
    await s.end_user_turn()
    await events.wait_for(RealtimeAudioOutputDoneEvent, timeout=5)
    assert not client_events(emu, "input_audio_buffer.commit")  # the server committed already


async def test_text_replies(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(Turn(on="text", reply=Reply(text="A text answer."))))
    s = session(emu, model=PLUS, modality="text")
    await s.connect()
    events = s.events()
    await s.simple_response("Answer in text")
    complete = await events.wait_for(RealtimeResponseEvent, lambda e: e.is_complete, timeout=5)
    assert complete.text == "A text answer."
    [item] = client_events(emu, "conversation.item.create")
    assert item["item"] == {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Answer in text"}]}


async def test_server_errors_are_typed(emulator: EmulatorFactory, session: SessionFactory) -> None:
    faults = [Fault(kind="error", after_messages=2, code="Throttling.RateQuota", message="Requests rate limit exceeded")]
    emu = await emulator(scenario(turn(), faults=faults))
    s = session(emu, model=PLUS)
    await s.connect()
    events = s.events()
    await speak(s, 200, 0)
    error = await events.wait_for(RealtimeErrorEvent, timeout=5)
    assert isinstance(error.error, RateLimitedError) and error.error.code == "Throttling.RateQuota"
    assert error.error.provider == "qwen" and s.connected


async def test_tool_calls_with_sparse_ids(emulator: EmulatorFactory, session: SessionFactory) -> None:
    """``response.function_call_arguments.done`` may come without ``response_id``/``item_id``."""

    def get_weather(city: str) -> dict[str, str]:
        """Weather for a city."""
        return {"city": city, "sky": "sunny"}

    emu = await emulator(scenario(turn("Done.")))
    s = session(emu, model=PLUS, tools=[get_weather])
    await s.connect()
    events = s.events()
    [update] = client_events(emu, "session.update")
    assert update["session"]["tools"][0]["function"]["name"] == "get_weather"
    rid = "resp_injected"
    await emu.inject({"type": "response.created", "response": {"id": rid, "object": "realtime.response", "status": "in_progress", "output": []}})
    await emu.inject({"type": "response.function_call_arguments.done", "call_id": "call_x", "name": "get_weather", "arguments": ' {"city": "Oslo"} '})
    await emu.inject({"type": "response.done", "response": {"id": rid, "object": "realtime.response", "status": "completed", "output": []}})
    finished = await events.wait_for(RealtimeToolCallFinishedEvent, timeout=5)
    assert finished.result == {"city": "Oslo", "sky": "sunny"}
    fact = await emu.wait_fact("tool_result")
    assert fact.data["call_id"] == "call_x" and "sunny" in fact.data["output"]
    await emu.wait_for("response.create")


async def test_close_finishes_the_session(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu)
    await s.connect()
    await s.close()
    assert emu.facts_named("session_finished")
    assert client_events(emu)[-1]["type"] == "session.finish"
    refused = await emulator(session_finish="reject")
    r = session(refused)
    events = r.events()
    await r.connect()
    await r.close()  # "invalid event type" ends the wait, not the app's day
    assert not [e async for e in events if isinstance(e, RealtimeErrorEvent)]
    quiet = session(emu, finish_on_close=False)
    await quiet.connect()
    await quiet.close()
    assert len(emu.facts_named("session_finished")) == 1


async def test_a_malformed_frame_is_an_error_event(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn("Still here.")))
    s = session(emu, model=TURBO)
    await s.connect()
    events = s.events()
    await emu.inject({"type": "response.audio.delta", "response_id": "resp_x", "item_id": "item_x", "delta": "!!not base64"})
    await emu.inject({"type": "error", "error": "not an object"})
    first = await events.wait_for(RealtimeErrorEvent, timeout=5)
    second = await events.wait_for(RealtimeErrorEvent, timeout=5)
    assert isinstance(first.error, ProtocolError) and isinstance(second.error, ProtocolError)
    await speak(s)
    done = await events.wait_for(RealtimeAudioOutputDoneEvent, timeout=5)
    assert not done.interrupted and s.connected


async def test_a_refused_commit_asks_for_no_reply(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn()))
    # the app thinks it has push-to-talk, but (through session_extra) the server runs VAD and refuses commits
    s = session(emu, model=PLUS, turn_detection=None, session_extra={"turn_detection": {"type": "server_vad"}})
    await s.connect()
    events = s.events()
    await s.begin_user_turn()
    await speak(s, 50, 0)  # too short to be a VAD turn
    await s.end_user_turn()  # returns once the server answered the commit
    error = await events.wait_for(RealtimeErrorEvent, timeout=5)
    assert "Internal service error" in str(error.error)
    assert client_events(emu, "input_audio_buffer.commit") and not client_events(emu, "response.create")
