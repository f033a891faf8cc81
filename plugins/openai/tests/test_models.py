"""The model catalogue: a test per model profile against the emulator, the default, and refusals."""

from __future__ import annotations

import logging

import pytest

from realtime_core import ConfigurationError
from realtime_openai import DEFAULT_MODEL, MODEL_PROFILES, MODELS, OpenAIRealtime, profile_of

from .helpers import EmulatorFactory, SessionFactory, client_events
from .test_sdk_fidelity import validate_client_events, validate_server_events


def test_the_default_is_current_and_the_peers_choice() -> None:
    assert DEFAULT_MODEL == "gpt-realtime-2.1" and not profile_of(DEFAULT_MODEL).deprecated
    assert OpenAIRealtime(api_key="sk-test").model == DEFAULT_MODEL
    deprecated = {m for m, p in MODEL_PROFILES.items() if p.deprecated}
    assert deprecated == {"gpt-realtime", "gpt-realtime-2025-08-28", "gpt-realtime-mini", "gpt-realtime-mini-2025-12-15"}
    assert {MODEL_PROFILES[m].shutdown for m in deprecated} == {"2027-01-20"}


@pytest.mark.parametrize("model", MODELS)
async def test_each_model_profile_against_the_emulator(
    emulator: EmulatorFactory, session: SessionFactory, model: str, caplog: pytest.LogCaptureFixture
) -> None:
    profile = profile_of(model)
    emu = await emulator()
    options = {"reasoning_effort": "low", "parallel_tool_calls": True} if profile.reasoning else {}
    with caplog.at_level(logging.WARNING, logger="realtime_openai"):
        s = session(emu, model=model, **options)
    assert s.model == model and (f"shuts it down on {profile.shutdown}" in caplog.text) == profile.deprecated
    await s.connect()
    update = client_events(emu, "session.update")[-1]["session"]
    echoed = emu.server_events_of(kind="session.updated")[-1]["session"]
    assert update["model"] == echoed["model"] == model
    if profile.reasoning:
        assert update["reasoning"] == echoed["reasoning"] == {"effort": "low"}
        assert update["parallel_tool_calls"] is echoed["parallel_tool_calls"] is True
    else:
        assert "reasoning" not in update and "parallel_tool_calls" not in update
        with pytest.raises(ConfigurationError, match="reasoning model"):
            OpenAIRealtime(api_key="sk-test", model=model, reasoning_effort="low")
        with pytest.raises(ConfigurationError, match="parallel_tool_calls"):
            OpenAIRealtime(api_key="sk-test", model=model, parallel_tool_calls=False)
    validate_client_events(emu)
    validate_server_events(emu)


async def test_the_emulator_refuses_reasoning_on_other_models(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, model="gpt-realtime-1.5", session_extra={"reasoning": {"effort": "low"}})
    with pytest.raises(ConfigurationError) as info:
        await s.connect()
    assert "session.reasoning" in str(info.value)


def test_unknown_models_are_refused_and_snapshots_accepted() -> None:
    with pytest.raises(ConfigurationError) as info:
        OpenAIRealtime(api_key="sk-test", model="gpt-realtime-9")
    assert "gpt-realtime-2.1" in str(info.value) and "model" in str(info.value)
    snapshot = OpenAIRealtime(api_key="sk-test", model="gpt-realtime-2.1-2026-09-01", reasoning_effort="high")
    assert snapshot.model == "gpt-realtime-2.1-2026-09-01"
    with pytest.raises(ConfigurationError, match="input_transcription"):
        OpenAIRealtime(api_key="sk-test", input_transcription="gpt-nope-transcribe")
    for name in ("gpt-transcribe", "gpt-realtime-whisper", "gpt-4o-mini-transcribe"):
        OpenAIRealtime(api_key="sk-test", input_transcription=name)


async def test_a_model_the_service_does_not_serve_fails_connect_as_configuration(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator(models=["gpt-realtime-2"])  # a service (or account) without 2.1
    s = session(emu, model="gpt-realtime-2.1")
    with pytest.raises(ConfigurationError) as info:
        await s.connect()  # the live server's answer: invalid_model, then close 4000
    assert info.value.recoverable is False and "gpt-realtime-2.1" in str(info.value)
    assert not s.connected
