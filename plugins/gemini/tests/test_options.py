"""Options, setup building, capabilities, close-code mapping and other pure pieces."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from pydantic import SecretStr

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    PcmData,
    ProtocolError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    SessionExpiredError,
    get_provider,
    load,
)
from realtime_gemini import ActivityDetection, ContextWindowCompression, GeminiRealtime, VertexAI, build_capabilities
from realtime_gemini.endpoints import resolve_endpoint
from realtime_gemini.errors import classify_close, is_session_not_found
from realtime_gemini.options import GeminiOptions, build_options
from realtime_gemini.protocol import audio_frame, build_setup, parse_duration, parse_rate, usage_fields
from realtime_gemini.resumption import ResumptionState

LEGACY = "gemini-3.1-flash-live-preview"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"voice": "kore"}, "case-sensitive: use 'Kore'"),
        ({"response_modality": "video"}, "response_modality"),
        (
            {"model": LEGACY, "response_modality": "text", "output_transcription": True},
            "needs response_modality='audio'",
        ),
        ({"thinking_budget": 0, "thinking_level": "low"}, "not both"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"temperature": -1}, "temperature"),
        ({"model": " "}, "model"),
        ({"model": LEGACY, "text_input": "client_content"}, "seed the history"),
        ({"activity_detection": {"silence_duration_ms": -5}}, "silence_duration_ms"),
        ({"voice": "Nobody"}, "unknown voice 'Nobody'; choose one of Zephyr, Puck"),
        ({"model": "gemini-9-live"}, "unknown model 'gemini-9-live'; choose one of gemini-3.8-live"),
        ({"response_modality": "text"}, "response_modality 'text' is not offered by gemini-3.8-live; use 'audio'"),
        ({"thinking_level": "low"}, "gemini-3.8-live does not take a thinking_level"),
        ({"thinking_budget": 0}, "thinking_budget is for 2.5 models"),
        ({"affective_dialog": True}, "affective_dialog is a 2.5 native-audio feature"),
        ({"proactive_audio": False}, "proactive audio is always on for gemini-3.8-live"),
        ({"model": LEGACY, "proactive_audio": True}, "proactive_audio is not offered"),
        ({"model": "gemini-3.8-live-extended-thinking", "thinking_level": "minimal"}, "choose one of low, medium"),
        ({"model": "gemini-3.8-live-extended-thinking", "tool_behavior": "blocking"}, "it takes non_blocking"),
    ],
)
def test_bad_options_are_configuration_errors(options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        GeminiRealtime(api_key="k", **options)


def test_credential_combinations_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="Developer API feature"):
        GeminiRealtime(ephemeral_token="t", vertex=VertexAI(project="p", access_token="x"))
    with pytest.raises(ConfigurationError, match="v1alpha"):
        GeminiRealtime(ephemeral_token="t", api_version="v1beta")
    assert GeminiRealtime(ephemeral_token="t").options.api_version == "v1alpha"


def test_options_hold_keys_as_secrets() -> None:
    session = GeminiRealtime(api_key="AIzaSECRETSECRETSECRETSECRET", vertex=None)
    assert isinstance(session.options.api_key, SecretStr)
    assert "AIzaSECRET" not in repr(session.options) and "AIzaSECRET" not in repr(session)
    state = ResumptionState(1000)
    state.update("handle-secret")
    assert "handle-secret" not in repr(state)


def test_setup_carries_every_option_in_wire_casing() -> None:
    options = build_options(
        api_key=SecretStr("k"),
        model=LEGACY,
        voice="Kore",
        language_code="en-US",
        media_resolution="low",
        thinking_level="minimal",
        include_thoughts=False,
        activity_detection=ActivityDetection(
            start_sensitivity="low", end_sensitivity="high", prefix_padding_ms=20, silence_duration_ms=500
        ),
        activity_handling="interrupt",
        turn_coverage="only_activity",
        context_window_compression=ContextWindowCompression(trigger_tokens=25600, target_tokens=12800),
        extra_setup={"generationConfig": {"topP": 0.5}, "historyConfig": {"initialHistoryInClientContent": True}},
    )
    setup = build_setup(options, instructions="Be brief.", tools=[], handle="h1")["setup"]
    assert setup == {
        "model": "models/gemini-3.1-flash-live-preview",
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}, "languageCode": "en-US"},
            "mediaResolution": "MEDIA_RESOLUTION_LOW",
            "thinkingConfig": {"thinkingLevel": "MINIMAL", "includeThoughts": False},
            "topP": 0.5,
        },
        "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]},
        "realtimeInputConfig": {
            "automaticActivityDetection": {
                "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
                "endOfSpeechSensitivity": "END_SENSITIVITY_HIGH",
                "prefixPaddingMs": 20,
                "silenceDurationMs": 500,
            },
            "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
            "turnCoverage": "TURN_INCLUDES_ONLY_ACTIVITY",
        },
        "sessionResumption": {"handle": "h1"},
        "contextWindowCompression": {"slidingWindow": {"targetTokens": 12800}, "triggerTokens": 25600},
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
        "historyConfig": {"initialHistoryInClientContent": True},
    }


def test_2_5_features_pick_v1alpha_and_vertex_uses_the_resource_name() -> None:
    opts = build_options(
        api_key=SecretStr("k"),
        model="gemini-2.5-flash-native-audio-preview-12-2025",
        affective_dialog=True,
        proactive_audio=True,
    )
    endpoint = asyncio.run(resolve_endpoint(opts))
    assert ".v1alpha.GenerativeService.BidiGenerateContent" in endpoint.url
    setup = build_setup(opts, instructions=None, tools=[], handle=None)["setup"]
    assert setup["generationConfig"]["enableAffectiveDialog"] is True and setup["proactivity"] == {
        "proactiveAudio": True
    }

    vertex = build_options(
        model="gemini-live-2.5-flash-native-audio",
        vertex=VertexAI(project="p", location="global", token_provider=lambda: "tok"),
    )
    endpoint = asyncio.run(resolve_endpoint(vertex))
    assert (
        endpoint.url
        == "wss://aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
    )
    assert endpoint.headers == {"Authorization": "Bearer tok"}
    assert build_setup(vertex, instructions=None, tools=[], handle=None)["setup"]["model"] == (
        "projects/p/locations/global/publishers/google/models/gemini-live-2.5-flash-native-audio"
    )
    express = build_options(api_key=SecretStr("k"), vertex=VertexAI(project="p"))
    assert asyncio.run(resolve_endpoint(express)).headers == {"x-goog-api-key": "k"}
    assert "Endpoint(" in repr(endpoint) and "tok" not in repr(endpoint)


def test_capabilities_follow_the_configuration() -> None:
    default = build_capabilities(GeminiOptions())
    assert default.server_vad and not default.manual_turns and default.user_transcript == "delta"
    assert (
        default.agent_transcript == "delta"
        and default.session_resumption
        and not default.say
        and not default.truncation
    )
    assert default.video_input and default.video_max_fps == 1.0
    manual = build_capabilities(GeminiOptions(manual_activity=True, input_transcription=False))
    assert (
        manual.manual_turns and not manual.server_vad and manual.user_transcript == "none" and manual.user_speech_events
    )
    text = build_capabilities(GeminiOptions(model=LEGACY, response_modality="text"))
    assert text.text_output and not text.audio_output and text.agent_transcript == "none"
    assert not build_capabilities(GeminiOptions(session_resumption=False)).session_resumption


@pytest.mark.parametrize(
    ("code", "reason", "kind", "recoverable"),
    [
        (1007, "API key not valid. Please pass a valid API key.", AuthenticationError, False),
        (
            1008,
            "Method doesn't allow unregistered callers (callers without established identity).",
            AuthenticationError,
            False,
        ),
        (
            1008,
            "models/x is not found for API version v1beta, or is not supported for bidiGenerateContent.",
            ConfigurationError,
            False,
        ),
        (1008, "BidiGenerateContent session not found", SessionExpiredError, False),
        (
            1008,
            "Connection aborted because the client failed to close the connection after receiving a GoAway",
            SessionExpiredError,
            True,
        ),
        (1007, "Request contains an invalid argument.", ProtocolError, False),
        (1007, "Precondition check failed.", ProtocolError, False),
        (1011, "Internal error occurred.", ProviderError, True),
        (1011, "You exceeded your current quota, please check your plan", QuotaExceededError, False),
        (1011, "Resource has been exhausted (e.g. check quota).", RateLimitedError, True),
        (1008, "some policy", ProviderError, False),
        (1006, "", ConnectionFailedError, True),
        (None, "", ConnectionFailedError, True),
    ],
)
def test_close_codes_map_to_typed_errors(code: int | None, reason: str, kind: type, recoverable: bool) -> None:
    error = classify_close(code, reason)
    assert type(error) is kind and error.recoverable is recoverable
    assert error.provider == "gemini" and (code is None or error.code == str(code))
    assert is_session_not_found(error) == ("session not found" in reason)


def test_wire_helpers() -> None:
    assert parse_duration("50s") == 50.0 and parse_duration("1.500s") == 1.5 and parse_duration(3) == 3.0
    assert parse_duration("soon") is None and parse_duration(None) is None
    assert (
        parse_rate("audio/pcm;rate=24000") == 24000
        and parse_rate("audio/pcm") == 24000
        and parse_rate("audio/pcm; rate=16000") == 16000
    )
    for bad in ("rate=1", "rate=7999", "rate=48001", "rate=abc", "rate=-24000", "rate=1e9", "rate=" + "9" * 400):
        assert parse_rate("audio/pcm;" + bad) is None, bad  # bounded: never trusted into a huge resample
    assert parse_duration("inf") is None and parse_duration(float("nan")) is None
    usage = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 5,
        "thoughtsTokenCount": 2,
        "totalTokenCount": 17,
        "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 7}, {"modality": "TEXT", "tokenCount": 3}],
        "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 5}],
    }
    assert usage_fields(usage) == {
        "input_tokens": 10,
        "output_tokens": 7,  # thinking is billed as output
        "total_tokens": 17,
        "cached_input_tokens": None,
        "input_audio_tokens": 7,
        "input_text_tokens": 3,
        "output_audio_tokens": 5,
    }
    pcm = PcmData.tone(20, 16000)
    msg = audio_frame(pcm.to_bytes(), 16000)
    assert msg.startswith(b'{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=16000","data":"')
    assert base64.b64decode(json.loads(msg)["realtimeInput"]["audio"]["data"]) == pcm.to_bytes()


def test_resumption_buffer_is_bounded_and_cleared_by_handles() -> None:
    state = ResumptionState(replay_ms=100)
    state.add(PcmData.silence(20, 16000))
    assert state.pending_ms == 0  # no handle yet: nothing could be resumed, nothing is kept
    state.update("h")
    for _ in range(10):
        state.add(PcmData.silence(20, 16000))
    assert state.pending_ms == 100 and state.handle == "h"
    state.update("h2")
    assert state.pending_ms == 0 and state.handle == "h2"
    state.forget()
    assert state.handle is None


def test_resumption_replays_only_what_core_does_not() -> None:
    """Core replays audio sent since the last audio_confirmed() after a lost connection; the plugin
    replays the rest since the handle. After a planned switch core replays nothing: the plugin, all."""
    a, b, c = (PcmData.tone(20, 16000, frequency=f) for f in (200, 300, 400))
    state = ResumptionState(replay_ms=1000)
    state.update("h")
    state.add(a)
    state.confirmed()  # e.g. voiceActivity: core dropped a from its own replay buffer
    state.add(b)
    state.add(c)
    assert state.take(planned=False) == [a]  # b and c: core replays them
    state.add(a)
    state.confirmed()
    state.add(b)
    assert state.take(planned=True) == [a, b]
    state.give_back([c])
    assert state.take(planned=False) == [c]


def test_registered_through_the_entry_point() -> None:
    spec = get_provider("gemini")
    assert spec.resolve_session_class() is GeminiRealtime and spec.default_model == "gemini-3.8-live"
    assert "gemini-3.8-live-extended-thinking" in spec.models and "gemini-3.5-transcribe-live" in spec.models
    assert spec.emulator is not None and spec.api_key_env == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    session = load("gemini", api_key="k", voice="Puck")
    assert isinstance(session, GeminiRealtime) and session.options.voice == "Puck"
    emulator = spec.resolve_emulator()(scenario=None, tls=False)
    assert emulator.provider == "gemini" and emulator.interrupt_facts == ()
