"""Registration through the entry point, and capabilities derived from the configuration."""

from __future__ import annotations

from realtime_core import get_provider
from realtime_core.emulator import Scenario
from realtime_openai import InputTranscription, OpenAIRealtime, SemanticVad, ServerVad, build_capabilities
from realtime_openai.config import SessionConfig
from realtime_openai.emulator import OpenAIEmulator


def test_the_entry_point_registers_the_provider() -> None:
    spec = get_provider("openai")
    assert spec.resolve_session_class() is OpenAIRealtime and spec.api_key_env == ("OPENAI_API_KEY",)
    assert spec.default_model == "gpt-realtime-2.1" and spec.resolve_capabilities().input_sample_rate == 24000
    factory = spec.resolve_emulator()
    emu = factory(scenario=Scenario(), tls=True) if factory else None
    assert isinstance(emu, OpenAIEmulator) and emu.tls
    assert OpenAIEmulator.interrupt_facts == ("cancel", "truncate")


async def test_emulator_session_options_are_complete() -> None:
    spec = get_provider("openai")
    factory = spec.resolve_emulator()
    assert factory is not None
    async with factory(scenario=Scenario(), tls=True) as emu:
        options = emu.session_options()
        assert set(options) == {"base_url", "api_key", "ca_file"} and options["ca_file"]
        async with spec.create(**options) as session:
            assert session.connected


def test_capabilities_follow_the_configuration() -> None:
    default = build_capabilities(SessionConfig())
    assert default.audio_output and default.truncation and default.server_vad and default.user_speech_events
    assert not default.manual_turns and not default.say and default.user_transcript == "delta"
    assert (
        default.agent_transcript == "delta" and default.tools and default.usage and default.max_session_seconds == 3600
    )
    manual = build_capabilities(SessionConfig(turn_detection=None, input_transcription=None))
    assert (
        manual.manual_turns
        and not manual.server_vad
        and not manual.user_speech_events
        and manual.user_transcript == "none"
    )
    no_auto = build_capabilities(SessionConfig(turn_detection=ServerVad(create_response=False)))
    assert no_auto.manual_turns and no_auto.server_vad
    text = build_capabilities(SessionConfig(modality="text", turn_detection=SemanticVad()))
    assert text.text_output and not text.audio_output and not text.truncation and text.agent_transcript == "none"
    assert build_capabilities(SessionConfig(), say=True).say
    assert not build_capabilities(SessionConfig(), video_max_fps=0).video_input
    session = OpenAIRealtime(api_key="sk-test", input_transcription=InputTranscription("whisper-1"), video_max_fps=0.5)
    assert session.capabilities.video_max_fps == 0.5 and session.capabilities.user_transcript == "delta"
