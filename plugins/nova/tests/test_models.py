"""One test per model profile: the id (and its inference-profile and ARN forms) resolves to its profile, the
emulator accepts it, and a session on it takes a spoken turn with what the profile allows."""

from __future__ import annotations

import logging

import pytest

from realtime_core import (
    ConfigurationError,
    RealtimeAudioOutputDoneEvent,
    RealtimeUserSpeechTranscriptionEvent,
    UnsupportedCapability,
)
from realtime_nova import DEFAULT_MODEL, MODELS, NOVA_2_5_SONIC, NOVA_2_SONIC, NOVA_SONIC, model_info

from .conftest import EmulatorFactory, SessionFactory, scenario, speak, turn


def test_the_family_is_matched_whole() -> None:
    # the old substring test knew neither "nova-2-sonic" nor "nova-sonic" in amazon.nova-2-5-sonic: refused
    assert model_info(NOVA_2_5_SONIC).family == "nova-2-5-sonic"
    assert model_info("us.amazon.nova-2-5-sonic").family == "nova-2-5-sonic"
    assert model_info("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-5-sonic").family == "nova-2-5-sonic"
    assert model_info("eu.amazon.nova-2-sonic-v1:0").family == "nova-2-sonic"
    assert model_info("us.amazon.nova-sonic-v1:0").family == "nova-sonic"
    for bad in ("amazon.titan", "amazon.nova-3-sonic", "amazon.nova-sonic-2-5", "nova-2-sonic"):
        with pytest.raises(ConfigurationError):
            model_info(bad)


def test_default_is_the_documented_active_model() -> None:
    assert DEFAULT_MODEL == NOVA_2_SONIC and MODELS[DEFAULT_MODEL].lifecycle == "active"
    assert list(MODELS) == [NOVA_2_SONIC, NOVA_2_5_SONIC, NOVA_SONIC]


@pytest.mark.parametrize(
    ("model", "text_input", "voice", "sensitivity"),
    [
        (NOVA_2_5_SONIC, True, "tina", "HIGH"),
        (NOVA_2_SONIC, True, "carolina", "LOW"),
        ("us.amazon.nova-2-5-sonic", True, "olivia", None),
    ],
)
async def test_nova2_profiles_take_a_turn(
    nova_emulator: EmulatorFactory,
    nova_session: SessionFactory,
    model: str,
    text_input: bool,
    voice: str,
    sensitivity: str | None,
) -> None:
    emulator = await nova_emulator(scenario(turn("Hi.", heard="Hello?"), turn("From text.")))
    session, rec = await nova_session(emulator, model=model, voice=voice, endpointing_sensitivity=sensitivity)
    assert session.model == model and session.capabilities.text_input is text_input
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    await session.simple_response("and now typed")
    await rec.wait_for(RealtimeAudioOutputDoneEvent, count=2)
    assert emulator.models[1] == model and not emulator.violations
    configured = emulator.facts_named("session_configured")[-1].data
    assert configured["model"] == model and configured["voice"] == voice


async def test_nova_sonic_1_is_legacy_but_works(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    info = model_info(NOVA_SONIC)
    assert info.lifecycle == "legacy" and info.end_of_life == "2026-09-14"
    emulator = await nova_emulator(scenario(turn("Hi.", heard="Hello?")))
    with caplog.at_level(logging.WARNING, logger="realtime_nova.session"):
        session, rec = await nova_session(emulator, model=NOVA_SONIC, voice="greta")
    assert any("legacy" in r.getMessage() and "2026-09-14" in r.getMessage() for r in caplog.records)
    assert not session.capabilities.text_input
    with pytest.raises(UnsupportedCapability):
        await session.simple_response("typed text makes Nova Sonic 1 say nothing")
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert [u.text for u in rec.of(RealtimeUserSpeechTranscriptionEvent)] == ["Hello?"]
    with pytest.raises(ConfigurationError, match="endpointing_sensitivity"):
        await nova_session(emulator, model=NOVA_SONIC, endpointing_sensitivity="HIGH", connect=False)
    with pytest.raises(ConfigurationError, match="voice: 'tina' is not a nova-sonic voice"):
        await nova_session(emulator, model=NOVA_SONIC, voice="tina", connect=False)
