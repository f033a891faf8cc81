"""Fields and events real DashScope traffic carries that the plugin must tolerate and use (issue 12 §2), each an
emulator switch, each tested under both latency profiles: ``language``/``emotion``/``obfuscation`` on
transcription events, a transcription's ``.failed`` with its ``error``, ``usage.plugins``,
``input_audio_buffer.cleared``."""

from __future__ import annotations

import pytest

from realtime_core import (
    ProviderError,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechTranscriptionEvent,
)

from .helpers import (
    LATENCIES,
    PLUS,
    TURBO,
    USER_TEXT,
    EmulatorFactory,
    RecorderFactory,
    SessionFactory,
    barrier,
    scenario,
    send,
    speak,
    speech,
    turn,
)


@pytest.mark.parametrize("latency", LATENCIES)
async def test_language_emotion_and_obfuscation_on_transcripts(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory, latency: str
) -> None:
    emu = await emulator(scenario(turn("Noted.")), latency=latency, transcription_extras=True, obfuscation=True)
    s = session(emu, model=PLUS)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    final = await rec.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
    deltas = [e for e in rec.of(RealtimeUserSpeechTranscriptionEvent) if e.mode == "delta"]
    assert final.text == USER_TEXT and "".join(d.text for d in deltas) == USER_TEXT  # the extras change nothing
    assert final.original["language"] == "en" and final.original["emotion"] == "neutral"  # and stay available
    assert all("obfuscation" in d.original for d in deltas)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert len([e for e in rec.of(RealtimeUserSpeechTranscriptionEvent) if e.mode == "final"]) == 1
    assert not rec.of(RealtimeErrorEvent)


@pytest.mark.parametrize("latency", LATENCIES)
async def test_a_failed_transcription_is_a_typed_error_and_releases_the_reply_text(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory, latency: str
) -> None:
    emu = await emulator(scenario(turn("Still answered.")), latency=latency, transcription_failure=True)
    s = session(emu, model=TURBO, transcript_hold_s=30)  # a hold that never ended would time the test out
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    error = await rec.wait_for(RealtimeErrorEvent)
    assert isinstance(error.error, ProviderError) and error.error.code == "InternalError.Algo" and error.error.provider == "qwen"
    assert error.context == "transcription"
    final = await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert final.text == "Still answered."
    assert not [e for e in rec.of(RealtimeUserSpeechTranscriptionEvent) if e.mode == "final"]
    assert s.connected


@pytest.mark.parametrize("latency", LATENCIES)
async def test_search_usage_plugins_reach_the_usage_event(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory, latency: str
) -> None:
    emu = await emulator(scenario(turn("It is sunny.")), latency=latency)  # usage.plugins: when search is on
    s = session(emu, model=PLUS, enable_search=True, search_sources=True)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    usage = await rec.wait_for(RealtimeUsageEvent, lambda e: e.response_id is not None)
    assert usage.raw is not None and usage.raw["plugins"] == {"search": {"count": 1, "strategy": "standard"}}
    assert usage.input_tokens and usage.output_tokens and usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert len(rec.of(RealtimeUsageEvent)) == 1  # per reply, once


@pytest.mark.parametrize("latency", LATENCIES)
async def test_a_cleared_buffer_is_not_replayed_after_a_drop(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory, latency: str
) -> None:
    """``input_audio_buffer.cleared`` shows the server dropped the audio sent so far at our request: after a
    drop, core replays only what came after it (nothing here), never the discarded turn."""
    emu = await emulator(scenario(turn()), latency=latency)
    s = session(emu, model=TURBO, turn_detection=None, min_append_ms=0)
    await s.connect()
    rec = await recorder(s)
    await send(s, speech(500))
    await emu.wait_audio(500)
    await s.begin_user_turn()  # input_audio_buffer.clear -> input_audio_buffer.cleared
    await emu.wait_for("input_audio_buffer.clear")
    await barrier(emu, rec)  # the session has seen the cleared event
    await emu.connection().close(1011, "dropped")
    back = await rec.wait_for(RealtimeReconnectedEvent)
    assert back.replayed_audio_ms == 0 and back.lost_audio_ms == 0
    assert emu.audio_received_ms == 500
