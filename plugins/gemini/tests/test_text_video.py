"""Text in, text out, and video frames."""

from __future__ import annotations

import pytest

from realtime_conformance import PatternTrack
from realtime_core import (
    ConfigurationError,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeResponseEvent,
)
from realtime_core.emulator import Reply, Scenario, Turn
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator

from .conftest import RecorderFactory, of


async def test_text_goes_as_realtime_input_text_and_is_answered(
    emulator: GeminiEmulator, recorder: RecorderFactory
) -> None:
    async with GeminiRealtime(**emulator.session_options()) as session:
        rec = await recorder(session)
        await session.simple_response("Hello there")
        events = await rec.collect_until(RealtimeAudioOutputDoneEvent)
        assert of(events, RealtimeAudioOutputEvent)
    (sent,) = emulator.messages("realtimeInput.text")
    assert sent.payload == {"realtimeInput": {"text": "Hello there"}}
    assert emulator.facts_named("text_in")[0].data["text"] == "Hello there"


@pytest.mark.parametrize("model", ["gemini-2.5-flash-native-audio-preview-12-2025", "gemini-3.8-live"])
async def test_text_as_client_content_where_the_model_takes_it(model: str) -> None:
    async with GeminiEmulator() as emu:
        async with GeminiRealtime(**emu.session_options(), model=model, text_input="client_content") as session:
            stream = session.events()
            await session.simple_response("Hello there")
            await stream.wait_for(RealtimeAudioOutputDoneEvent)
        (sent,) = emu.messages("clientContent")
        assert sent.payload == {
            "clientContent": {"turns": [{"role": "user", "parts": [{"text": "Hello there"}]}], "turnComplete": True}
        }
    with pytest.raises(ConfigurationError, match="seed"):  # 3.1 closes the socket on it
        GeminiRealtime(api_key="k", model="gemini-3.1-flash-live-preview", text_input="client_content")


async def test_text_modality_streams_response_text(recorder: RecorderFactory) -> None:
    scenario = Scenario(turns=[Turn(reply=Reply(text="Paris is the capital of France."))])
    async with GeminiEmulator(scenario=scenario) as emu:
        session = GeminiRealtime(
            **emu.session_options(), model="gemini-3.1-flash-live-preview", response_modality="text"
        )
        caps = session.capabilities
        assert caps.text_output and not caps.audio_output and caps.agent_transcript == "none"
        async with session:
            rec = await recorder(session)
            await session.simple_response("capital of France?")
            events = await rec.collect_until(RealtimeResponseEvent, lambda e: e.is_complete)
            assert not of(events, RealtimeAudioOutputEvent)
            texts = of(events, RealtimeResponseEvent)
            assert (
                "".join(t.text for t in texts if not t.is_complete)
                == texts[-1].text
                == "Paris is the capital of France."
            )
            assert len({t.response_id for t in texts}) == 1
        setup = emu.setups[1]
        assert setup["generationConfig"]["responseModalities"] == ["TEXT"]
        assert "outputAudioTranscription" not in setup


async def test_video_frames_are_jpeg_within_768_at_most_1_fps(emulator: GeminiEmulator) -> None:
    session = GeminiRealtime(**emulator.session_options(), fps=5)
    caps = session.capabilities
    assert caps.video_input and caps.video_max_fps == 1.0 and caps.video_max_width == 768
    track = PatternTrack()
    async with session:
        await session.watch_video_track(track)
        fact = await emulator.wait_fact("video_frame")
        await session.stop_watching_video_track()
    track.stop()
    assert fact.data["jpeg"] and fact.data["mime_type"] == "image/jpeg"
    assert (fact.data["width"], fact.data["height"]) == (768, 432)
    (message,) = emulator.messages("realtimeInput.video")[:1]
    assert set(message.payload["realtimeInput"]["video"]) == {"mimeType", "data"}
