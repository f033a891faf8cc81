"""Fields and orderings real Gemini traffic has (issue 12): the emulator sends each by default and can leave
it out; the plugin gives the same events either way and uses what is useful (usage, voice activity)."""

from __future__ import annotations

import pytest

from realtime_core import (
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeErrorEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechStoppedEvent,
    RealtimeUserSpeechTranscriptionEvent,
)
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator, Traffic

from .conftest import RecorderFactory, of, send_audio, utterance

VARIANTS = {
    "real": Traffic(),
    "no modelTurn.role": Traffic(model_turn_role=False),
    "voiceActivityType key": Traffic(voice_activity_key="voiceActivityType"),
    "no voiceActivity": Traffic(voice_activity=False),
    "no empty messages": Traffic(empty_messages=False),
    "interimInputTranscription": Traffic(interim_transcription=True),
    "usage all at turnComplete": Traffic(usage="end"),
    "usage only at generation start": Traffic(usage="start"),
    "no usage": Traffic(usage="none"),
    "no thoughtsTokenCount": Traffic(thoughts_tokens=False),
}


def test_the_defaults_are_what_the_real_service_sends() -> None:
    real = Traffic()
    assert real.model_turn_role and real.empty_messages and real.thoughts_tokens
    assert real.voice_activity_key == "type"  # the wire key (the SDK's converter reads "type")


@pytest.mark.parametrize("name", list(VARIANTS))
async def test_a_spoken_turn_reads_the_same_whatever_the_traffic(name: str, recorder: RecorderFactory) -> None:
    traffic = VARIANTS[name]
    async with GeminiEmulator(traffic=traffic) as emu, GeminiRealtime(**emu.session_options()) as session:
        rec = await recorder(session)
        await send_audio(session, utterance(600, 700))
        # (turnComplete ends the reply: its usage, then the user's final transcript)
        events = await rec.collect_until(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
        await emu.wait_for(lambda m: m.kind == "fact:response_sent")

        audio = of(events, RealtimeAudioOutputEvent)
        (rid,) = {a.response_id for a in audio}
        done = of(events, RealtimeAudioOutputDoneEvent)
        assert [d.response_id for d in done] == [rid] and not done[0].interrupted
        said = of(events, RealtimeAgentSpeechTranscriptionEvent)
        finals = [e.text for e in said if e.mode == "final"]
        assert finals == ["You spoke for 0.6 seconds."] == ["".join(e.text for e in said if e.mode == "delta")]

        heard = of(events, RealtimeUserSpeechTranscriptionEvent)
        assert [e.text for e in heard if e.mode == "final"] == ["[0.6 seconds of speech]"]  # exactly one
        assert "".join(e.text for e in heard if e.mode == "delta") == "[0.6 seconds of speech]"

        started, stopped = of(events, RealtimeUserSpeechStartedEvent), of(events, RealtimeUserSpeechStoppedEvent)
        assert len(started) == len(stopped) == 1 and events.index(stopped[0]) < events.index(audio[0])
        server_vad = traffic.voice_activity is not False
        assert (started[0].audio_start_ms is not None) == server_vad  # the server's offsets are used

        usage = of(events, RealtimeUsageEvent)
        if traffic.usage == "none":
            assert not usage
        else:
            (one,) = usage  # usage per reply: the parts are merged
            assert one.response_id == rid and one.input_tokens and one.input_audio_tokens
            if traffic.usage != "start":
                assert one.output_tokens and one.output_audio_tokens and one.total_tokens
                thoughts = one.raw.get("thoughtsTokenCount", 0)
                assert bool(thoughts) == traffic.thoughts_tokens
                assert one.output_tokens == one.raw["responseTokenCount"] + thoughts  # thinking is output
        assert not of(events, RealtimeErrorEvent)

        sent = [m for m in emu.sent_messages(1) if isinstance(m, dict)]
        turns = [m["serverContent"]["modelTurn"] for m in sent if "modelTurn" in m.get("serverContent", {})]
        assert all(("role" in t) == traffic.model_turn_role for t in turns)
        assert ({} in sent) == traffic.empty_messages
