"""Spoken turns: audio in at 16 kHz, audio out at 24 kHz, transcripts, done events, usage."""

from __future__ import annotations

import base64
import json

import pytest

from realtime_core import (
    PcmData,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeMetricsEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechStoppedEvent,
    RealtimeUserSpeechTranscriptionEvent,
)
from realtime_core.emulator import Reply, Scenario, Turn
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator

from .conftest import RecorderFactory, of, send_audio, speech, utterance


@pytest.mark.parametrize("profile", ["3.1", "2.5"])
async def test_spoken_turn_is_echoed_with_one_response_and_one_done(profile: str, recorder: RecorderFactory) -> None:
    async with GeminiEmulator(profile=profile) as emu, GeminiRealtime(**emu.session_options()) as session:
        rec = await recorder(session)
        await send_audio(session, utterance(800, 700))
        events = await rec.collect_until(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")

        audio = of(events, RealtimeAudioOutputEvent)
        assert audio, "no audio came back"
        assert {a.audio_data.sample_rate for a in audio} == {24000}
        assert {a.audio_data.channels for a in audio} == {1}
        rids = {a.response_id for a in audio}
        assert len(rids) == 1
        (rid,) = rids
        # the echo is the user's own speech at 24 kHz
        assert sum(a.audio_data.duration_ms for a in audio) == pytest.approx(800, abs=30)

        done = of(events, RealtimeAudioOutputDoneEvent)
        assert len(done) == 1 and done[0].response_id == rid and not done[0].interrupted
        assert events.index(done[0]) > events.index(audio[-1])
        assert len(of(events, RealtimeAgentSpeechStartedEvent)) == 1
        assert len(of(events, RealtimeAgentSpeechStoppedEvent)) == 1

        said = of(events, RealtimeAgentSpeechTranscriptionEvent)
        deltas = [e.text for e in said if e.mode == "delta"]
        finals = [e.text for e in said if e.mode == "final"]
        assert len(finals) == 1 and "".join(deltas) == finals[0] == "You spoke for 0.8 seconds."
        assert {e.response_id for e in said} == {rid}

        heard = of(events, RealtimeUserSpeechTranscriptionEvent)
        assert "".join(e.text for e in heard if e.mode == "delta") == heard[-1].text == "[0.8 seconds of speech]"

        assert len(of(events, RealtimeUserSpeechStartedEvent)) == 1
        stopped = of(events, RealtimeUserSpeechStoppedEvent)
        assert len(stopped) == 1 and events.index(stopped[0]) < events.index(audio[0])

        usage = of(events, RealtimeUsageEvent)
        assert usage and usage[0].input_tokens and usage[0].input_audio_tokens
        if profile == "2.5":  # full counts arrive with turnComplete
            assert usage[-1].output_audio_tokens and usage[-1].total_tokens
        metrics = of(events, RealtimeMetricsEvent)
        assert metrics and metrics[0].audio_output_ms == pytest.approx(800, abs=30)


async def test_input_is_resampled_to_16k_and_sent_as_camel_case_json() -> None:
    async with GeminiEmulator() as emu, GeminiRealtime(**emu.session_options()) as session:
        stream = session.events()
        stereo48 = PcmData.concat([speech(600, 48000), PcmData.silence(700, 48000)]).to_stereo()
        await send_audio(session, stereo48)
        await stream.wait_for(RealtimeAudioOutputDoneEvent)
        first = emu.messages("realtimeInput.audio")[0].payload
        assert set(first) == {"realtimeInput"}
        blob = first["realtimeInput"]["audio"]
        assert blob["mimeType"] == "audio/pcm;rate=16000"
        sent = sum(
            len(base64.b64decode(m.payload["realtimeInput"]["audio"]["data"]))
            for m in emu.messages("realtimeInput.audio")
        )
        assert sent / 2 / 16 == pytest.approx(1300, abs=30)  # mono int16 at 16 kHz
        assert emu.audio_received_ms == pytest.approx(1300, abs=30)


async def test_audio_stream_end_closes_the_turn_when_the_microphone_stops() -> None:
    async with GeminiEmulator() as emu:
        session = GeminiRealtime(**emu.session_options(), audio_stream_end_after=0.2)
        async with session:
            stream = session.events()
            await send_audio(session, speech(700))  # no trailing silence: the mic just stops
            done = await stream.wait_for(RealtimeAudioOutputDoneEvent)
            assert not done.interrupted
            assert len(emu.messages("realtimeInput.audioStreamEnd")) == 1
            # audio again reopens the stream; a new pause sends a new audioStreamEnd
            await send_audio(session, speech(300))
            await emu.wait_for("realtimeInput.audioStreamEnd", count=2)


async def test_each_model_turn_gets_its_own_response_id() -> None:
    async with GeminiEmulator() as emu, GeminiRealtime(**emu.session_options()) as session:
        stream = session.events()
        await send_audio(session, utterance())
        first = await stream.wait_for(RealtimeAudioOutputDoneEvent)
        await send_audio(session, utterance())
        second = await stream.wait_for(RealtimeAudioOutputDoneEvent)
        assert first.response_id != second.response_id


async def test_other_output_rates_are_resampled_to_the_declared_24k(recorder: RecorderFactory) -> None:
    """The server says 24 kHz; if a frame ever names another rate, the app still gets 24 kHz."""
    async with GeminiEmulator() as emu, GeminiRealtime(**emu.session_options()) as session:
        rec = await recorder(session)
        pcm = PcmData.tone(200, 16000)
        chunk = base64.b64encode(pcm.to_bytes()).decode()
        conn = emu.connection(1)
        await conn.send(
            {
                "serverContent": {
                    "modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=16000", "data": chunk}}]}
                }
            }
        )
        await conn.send({"serverContent": {"generationComplete": True}})
        events = await rec.collect_until(RealtimeAudioOutputDoneEvent)
        out = of(events, RealtimeAudioOutputEvent)
        assert {e.audio_data.sample_rate for e in out} == {24000}


async def test_empty_and_unknown_server_messages_are_ignored(recorder: RecorderFactory) -> None:
    scenario = Scenario(turns=[Turn(reply=Reply(text="ok"))])
    async with GeminiEmulator(scenario=scenario) as emu, GeminiRealtime(**emu.session_options()) as session:
        rec = await recorder(session)
        conn = emu.connection(1)
        for message in ({}, {"serverContent": {}}, {"somethingNew": {"x": 1}}):
            await conn.send_raw(json.dumps(message))
        await session.simple_response("hi")
        events = await rec.collect_until(RealtimeAudioOutputDoneEvent)
        assert not [e for e in events if e.type == "realtime.error"]
