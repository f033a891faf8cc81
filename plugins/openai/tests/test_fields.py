"""Fields real OpenAI traffic carries that older emulators never sent (issue 12): the emulator sends each
(a switch per field, default: what the service does), the plugin tolerates it and uses what is useful."""

from __future__ import annotations

import pytest

from realtime_core import (
    PcmData,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeErrorEvent,
    RealtimeResponseEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechTranscriptionEvent,
)
from realtime_openai import ServerVad
from realtime_openai_protocol import TRANSCRIPTION_SOURCE

from .helpers import USER_TEXT, EmulatorFactory, RecorderFactory, SessionFactory, scenario, send, speak, turn
from .test_sdk_fidelity import validate_server_events


async def test_obfuscation_on_every_text_delta_is_ignored(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("Spoken answer."), turn("Written answer.")))
    s = session(emu)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    final = await rec.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
    deltas = [e.text for e in rec.of(RealtimeUserSpeechTranscriptionEvent) if e.mode == "delta"]
    assert "".join(deltas) == final.text == USER_TEXT
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    for kind in ("conversation.item.input_audio_transcription.delta", "response.output_audio_transcript.delta"):
        sent = emu.server_events_of(kind=kind)
        assert sent and all(isinstance(e.get("obfuscation"), str) for e in sent), kind
    validate_server_events(emu)


async def test_obfuscation_on_text_reply_deltas(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("Written answer, in a few words.")))
    s = session(emu, modality="text")
    await s.connect()
    rec = await recorder(s)
    await s.simple_response("hi")
    complete = await rec.wait_for(RealtimeResponseEvent, lambda e: e.is_complete)
    deltas = [e.text for e in rec.of(RealtimeResponseEvent) if not e.is_complete]
    assert "".join(deltas) == complete.text == "Written answer, in a few words."
    assert all("obfuscation" in e for e in emu.server_events_of(kind="response.output_text.delta"))


@pytest.mark.parametrize("shape", ["tokens", "duration"])
async def test_transcription_usage_becomes_its_own_usage_event(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory, shape: str
) -> None:
    emu = await emulator(scenario(turn("Sure.")), transcription_usage=shape)
    s = session(emu)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    reply = await rec.wait_for(RealtimeUsageEvent, lambda u: u.response_id is not None)
    transcriber = [u for u in rec.of(RealtimeUsageEvent) if u.response_id is None]
    assert len(transcriber) == 1, "one usage event for the utterance's transcription, apart from the reply's"
    usage = transcriber[0]
    assert usage.raw["source"] == TRANSCRIPTION_SOURCE and usage.raw["type"] == shape and usage.raw["item_id"]
    if shape == "tokens":
        assert usage.input_audio_tokens and usage.output_tokens and usage.total_tokens
    else:
        assert usage.raw["seconds"] > 0 and usage.total_tokens is None
    assert reply.output_audio_tokens  # the reply's own usage is untouched
    validate_server_events(emu)


async def test_idle_timeout_triggers_a_reply(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("First.")))
    s = session(emu, turn_detection=ServerVad(idle_timeout_ms=500))
    await s.connect()
    rec = await recorder(s)
    await s.simple_response("hi")
    first = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    await send(s, PcmData.silence(1200, 24000))  # the user says nothing for longer than idle_timeout_ms
    prompt = await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final", after=first)
    assert prompt.text == "Are you still there?"
    triggered = emu.server_events_of(kind="input_audio_buffer.timeout_triggered")
    assert len(triggered) == 1 and triggered[0]["audio_end_ms"] >= triggered[0]["audio_start_ms"]
    assert not rec.of(RealtimeErrorEvent)
    validate_server_events(emu)


async def test_object_on_items_is_tolerated(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("With objects.")), item_object=True)
    s = session(emu)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    final = await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert final.text == "With objects." and not rec.of(RealtimeErrorEvent)
    items = [e["item"] for e in emu.server_events_of(kind="conversation.item.added")]
    assert items and all(i["object"] == "realtime.item" for i in items)
    validate_server_events(emu)
