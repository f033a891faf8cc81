"""Pure pieces: event builders, output helpers, history limits, models, error mapping."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    HistoryItem,
    ProtocolError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    SessionExpiredError,
)
from realtime_nova import MODELS, NOVA_2_5_SONIC, NOVA_2_SONIC, NOVA_SONIC, model_info
from realtime_nova.errors import map_error
from realtime_nova.history import replayable_history
from realtime_nova.protocol import (
    AudioEventEncoder,
    is_interrupted_marker,
    parse_generation_stage,
    parse_tool_arguments,
    prompt_start,
    session_start,
    text_block,
)


def test_audio_event_matches_a_json_dump() -> None:
    samples = (np.arange(320) * 97 % 65536 - 32768).astype(np.int16)
    encoded = AudioEventEncoder("prompt-1", "audio-1").encode(samples)
    doc = json.loads(encoded)
    body = doc["event"]["audioInput"]
    assert body["promptName"] == "prompt-1" and body["contentName"] == "audio-1"
    import base64

    assert np.array_equal(np.frombuffer(base64.b64decode(body["content"]), "<i2"), samples)


def test_setup_events() -> None:
    start = json.loads(session_start(max_tokens=10, top_p=0.5, temperature=0.1, endpointing_sensitivity="HIGH"))
    assert start["event"]["sessionStart"]["turnDetectionConfiguration"] == {"endpointingSensitivity": "HIGH"}
    prompt = json.loads(prompt_start(prompt_name="p", voice="amy", output_sample_rate=24000))["event"]["promptStart"]
    assert "toolConfiguration" not in prompt and "toolUseOutputConfiguration" not in prompt  # no tools: omitted
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    prompt = json.loads(
        prompt_start(
            prompt_name="p", voice="amy", output_sample_rate=24000, tools=[("t", "d", schema)], tool_choice={"auto": {}}
        )
    )["event"]["promptStart"]
    spec = prompt["toolConfiguration"]["tools"][0]["toolSpec"]
    assert json.loads(spec["inputSchema"]["json"]) == schema  # the schema travels as a JSON string
    assert prompt["toolConfiguration"]["toolChoice"] == {"auto": {}}
    names = [next(iter(json.loads(e)["event"])) for e in text_block("p", "c", "USER", "hi", interactive=True)]
    assert names == ["contentStart", "textInput", "contentEnd"]


def test_output_helpers() -> None:
    assert is_interrupted_marker('{ "interrupted" : true }')
    assert is_interrupted_marker('{"interrupted":true}')
    assert not is_interrupted_marker("I was interrupted yesterday")
    assert not is_interrupted_marker('{"interrupted": false}')
    assert parse_generation_stage('{"generationStage":"SPECULATIVE"}') == "SPECULATIVE"
    assert parse_generation_stage({"generationStage": "FINAL"}) == "FINAL"
    assert parse_generation_stage("not json") is None
    assert parse_tool_arguments('{"city": "Paris"}') == {"city": "Paris"}
    assert parse_tool_arguments(json.dumps('{"city": "Paris"}')) == {"city": "Paris"}  # encoded twice
    assert parse_tool_arguments("") == {}
    assert parse_tool_arguments("[1, 2]") == "[1, 2]"  # not an object: core reports it


def _item(role: str, text: str) -> HistoryItem:
    return HistoryItem(role, text)  # type: ignore[arg-type]


def test_history_within_nova1_limits() -> None:
    items = [_item("assistant", "hello first")]  # a leading assistant message is dropped
    for i in range(30):
        items += [_item("user", f"question {i} " + "x" * 2000), _item("assistant", f"answer {i}")]
    items.append(HistoryItem("tool", kind="tool_call", tool_name="t", call_id="c"))
    out, complete = replayable_history(items, model_info(NOVA_SONIC))
    assert not complete  # capped, clipped, a tool call left out: state_restored must say False
    assert len(out) <= 40 and out[0][0] == "USER"
    assert all(len(text.encode()) <= 1000 for _, text in out)
    assert out[-1] == ("ASSISTANT", "answer 29")
    assert all(a[0] != b[0] for a, b in itertools.pairwise(out))  # roles alternate


def test_history_within_nova2_limits_and_merging() -> None:
    items = [_item("user", "a"), _item("user", "b"), _item("assistant", "c")]
    assert replayable_history(items, model_info(NOVA_2_SONIC)) == ([("USER", "a\nb"), ("ASSISTANT", "c")], True)
    big = [_item("user" if i % 2 == 0 else "assistant", "é" * 30_000) for i in range(20)]
    out, complete = replayable_history(big, model_info(NOVA_2_SONIC))
    assert not complete
    assert sum(len(t.encode()) for _, t in out) <= 200_000 and out[0][0] == "USER"
    assert all(len(t.encode()) <= 50_000 for _, t in out)


def test_models_and_voices() -> None:
    assert set(MODELS) == {NOVA_SONIC, NOVA_2_SONIC, NOVA_2_5_SONIC}
    assert model_info("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-sonic-v1:0").text_input
    assert not model_info("us.amazon.nova-sonic-v1:0").text_input
    assert "greta" in model_info(NOVA_SONIC).voices and "greta" not in model_info(NOVA_2_SONIC).voices
    with pytest.raises(ConfigurationError):
        model_info("amazon.titan")


class _Modeled(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _named(name: str, message: str) -> Exception:
    return type(name, (_Modeled,), {})(message)


@pytest.mark.parametrize(
    ("name", "message", "kind", "recoverable"),
    [
        ("ThrottlingException", "slow down", RateLimitedError, True),
        ("ModelTimeoutException", "Model has timed out", SessionExpiredError, True),
        ("ValidationException", "Timed out waiting for input events", ProviderError, True),
        ("ValidationException", "InternalErrorCode=531::RST_STREAM closed stream", ProviderError, True),
        ("ValidationException", "Invalid input request", ProtocolError, False),
        ("ValidationException", "Received invalid voiceId: 'x'", ConfigurationError, False),
        ("ValidationException", "The provided model identifier is invalid.", ConfigurationError, False),
        ("AccessDeniedException", "no access", AuthenticationError, False),
        ("ServiceQuotaExceededException", "quota", QuotaExceededError, False),
        ("InternalServerException", "oops", ProviderError, True),
    ],
)
def test_error_mapping(name: str, message: str, kind: type[Exception], recoverable: bool) -> None:
    err = map_error(_named(name, message))
    assert type(err) is kind and err.recoverable is recoverable and err.code == name and message in err.message
