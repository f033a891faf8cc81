"""Metrics and what they agree with: token usage by type and modality, interruptions, time to first audio.

Against the reference provider and a real plugin's emulator (OpenAI), over real sockets."""

from __future__ import annotations

from typing import Any

from realtime_conformance.reference import ReferenceEmulator
from realtime_core import (
    PcmData,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeInterruptedEvent,
    RealtimeMetricsEvent,
    RealtimeUsageEvent,
)
from realtime_core.testing import speak, speech_tone, stream_audio
from realtime_openai import OpenAIEmulator
from realtime_otel import semconv as sc

from .conftest import Telemetry
from .helpers import long_turn, parent_of, scenario, span_id, turn


async def test_token_usage_by_type(telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any) -> None:
    emu = await emulators(ReferenceEmulator, scenario(turn(), turn("Again.")))
    s = sessions(emu)
    rec = await recorder(s)
    await s.connect()
    for n in (1, 2):
        await speak(s)
        await rec.wait_for(RealtimeUsageEvent, count=n)
    usage = rec.of(RealtimeUsageEvent)
    inputs = sum(u.input_tokens or 0 for u in usage)
    outputs = sum(u.output_tokens or 0 for u in usage)
    assert inputs and outputs
    base = {sc.PROVIDER_NAME: "reference", sc.OPERATION_NAME: "realtime_inference"}
    assert telemetry.value(sc.METRIC_TOKEN_USAGE, **base, **{sc.TOKEN_TYPE: "input"}) == inputs
    assert telemetry.value(sc.METRIC_TOKEN_USAGE, **base, **{sc.TOKEN_TYPE: "output"}) == outputs
    assert telemetry.count(sc.METRIC_TOKEN_USAGE, **{sc.TOKEN_TYPE: "input"}) == 2
    # the reference provider reports no modality split: all of it is "unknown"
    assert telemetry.value(sc.METRIC_INPUT_TOKENS, **{sc.TOKEN_MODALITY: "unknown"}) == inputs
    assert telemetry.value(sc.METRIC_OUTPUT_TOKENS, **{sc.TOKEN_MODALITY: "unknown"}) == outputs


async def test_openai_session_model_ttfa_and_tokens_by_modality(
    telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any
) -> None:
    emu = await emulators(OpenAIEmulator, scenario(turn("Sunny all day.", audio_ms=800)))
    s = sessions(emu)
    rec = await recorder(s)
    await s.connect()
    await speak(s, rate=24000)
    # (the input transcription's own usage, response_id None, may come first)
    usage = await rec.wait_for(RealtimeUsageEvent, lambda u: u.response_id is not None)
    metrics = rec.of(RealtimeMetricsEvent)
    await s.close()

    session = telemetry.span(sc.SPAN_SESSION)
    assert session.name == "realtime_session gpt-realtime-2.1" and session.attributes
    assert session.attributes[sc.REQUEST_MODEL] == "gpt-realtime-2.1" and session.attributes[sc.PROVIDER_NAME] == "openai"
    assert session.attributes[sc.SYSTEM] == "openai"
    response = telemetry.span(sc.OPERATION_REALTIME_INFERENCE)
    a = response.attributes or {}
    assert response.name == "realtime_inference gpt-realtime-2.1" and parent_of(response) == span_id(session)
    assert a[sc.RESPONSE_ID] == usage.response_id
    assert len(metrics) == 1 and metrics[0].time_to_first_audio_ms is not None
    assert a[sc.RESPONSE_TIME_TO_FIRST_CHUNK] == metrics[0].time_to_first_audio_ms / 1000.0
    assert a[sc.RESPONSE_AUDIO_OUTPUT_MS] == metrics[0].audio_output_ms
    assert a[sc.USAGE_BY_MODALITY["output", "audio"]] == usage.output_audio_tokens
    assert a[sc.USAGE_CACHE_READ_INPUT_TOKENS] == usage.cached_input_tokens

    model = {sc.REQUEST_MODEL: "gpt-realtime-2.1", sc.PROVIDER_NAME: "openai"}
    assert telemetry.count(sc.METRIC_TIME_TO_FIRST_CHUNK, **model) == 1
    every = rec.of(RealtimeUsageEvent)  # the reply's and the input transcription's: both are billed

    def tokens(field: str) -> int:
        return sum(getattr(u, field) or 0 for u in every)

    for counter, total, parts in (
        (sc.METRIC_INPUT_TOKENS, tokens("input_tokens"),
         {"text": tokens("input_text_tokens"), "audio": tokens("input_audio_tokens"), "image": tokens("input_image_tokens")}),
        (sc.METRIC_OUTPUT_TOKENS, tokens("output_tokens"),
         {"text": tokens("output_text_tokens"), "audio": tokens("output_audio_tokens")}),
    ):
        assert total
        for modality, n in parts.items():
            if n:
                assert telemetry.value(counter, **model, **{sc.TOKEN_MODALITY: modality}) == n, (counter, modality)
        assert telemetry.value(counter, **model) == total, "the modalities add up to the total"
    assert usage.output_audio_tokens, "the emulator reports audio output tokens: the split is exercised"


async def test_local_interruption(telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any) -> None:
    emu = await emulators(ReferenceEmulator, scenario(long_turn()))
    s = sessions(emu)
    rec = await recorder(s)
    await s.connect()
    await speak(s)
    started = await rec.wait_for(RealtimeAgentSpeechStartedEvent)
    await s.interrupt()
    cut = await rec.wait_for(RealtimeInterruptedEvent)
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert done.interrupted and done.response_id == started.response_id == cut.response_id
    await s.close()
    assert telemetry.value(sc.METRIC_INTERRUPTIONS, **{sc.INTERRUPTION_SOURCE: "local"}) == 1
    assert telemetry.value(sc.METRIC_INTERRUPTIONS, **{sc.INTERRUPTION_SOURCE: "server"}) == 0
    response = telemetry.span(sc.OPERATION_REALTIME_INFERENCE)
    a = response.attributes or {}
    assert a[sc.RESPONSE_INTERRUPTED] is True and a[sc.INTERRUPTION_SOURCE] == "local"
    assert [e.name for e in response.events] == [sc.EVENT_INTERRUPTED]
    session = telemetry.span(sc.SPAN_SESSION)
    assert session.attributes and session.attributes[sc.SESSION_INTERRUPTIONS] == 1


async def test_barge_in_on_openai(telemetry: Telemetry, emulators: Any, sessions: Any, recorder: Any) -> None:
    emu = await emulators(OpenAIEmulator, scenario(long_turn(), turn("After the barge-in.")))
    s = sessions(emu)
    rec = await recorder(s)
    await s.connect()
    await speak(s, rate=24000)
    await rec.wait_for(RealtimeAgentSpeechStartedEvent)
    await stream_audio(s, speech_tone(600, 24000))  # the user talks over the agent
    cut = await rec.wait_for(RealtimeInterruptedEvent)
    assert cut.source == "server"
    await stream_audio(s, PcmData.silence(1000, 24000))
    await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted)
    await s.close()
    assert telemetry.value(sc.METRIC_INTERRUPTIONS, **{sc.INTERRUPTION_SOURCE: "server", sc.PROVIDER_NAME: "openai"}) == 1
    responses = telemetry.spans(sc.OPERATION_REALTIME_INFERENCE)
    assert [bool((r.attributes or {})[sc.RESPONSE_INTERRUPTED]) for r in responses] == [True, False]
