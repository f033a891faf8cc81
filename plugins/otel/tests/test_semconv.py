"""The names on the wire: a rename in opentelemetry-semantic-conventions must show up here, not in dashboards."""

from __future__ import annotations

from realtime_otel import semconv as sc


def test_names_from_the_semantic_conventions_package() -> None:
    assert (sc.OPERATION_NAME, sc.PROVIDER_NAME, sc.SYSTEM, sc.REQUEST_MODEL) == (
        "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model"
    )
    assert (sc.RESPONSE_ID, sc.RESPONSE_TIME_TO_FIRST_CHUNK) == ("gen_ai.response.id", "gen_ai.response.time_to_first_chunk")
    assert (sc.USAGE_INPUT_TOKENS, sc.USAGE_OUTPUT_TOKENS, sc.USAGE_CACHE_READ_INPUT_TOKENS) == (
        "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens"
    )
    assert (sc.TOOL_NAME, sc.TOOL_CALL_ID, sc.TOOL_TYPE, sc.ERROR_TYPE) == (
        "gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.type", "error.type"
    )
    assert (sc.TOKEN_TYPE, sc.TOKEN_TYPE_INPUT, sc.TOKEN_TYPE_OUTPUT) == ("gen_ai.token.type", "input", "output")
    assert (sc.OPERATION_EXECUTE_TOOL, sc.ERROR_TYPE_OTHER) == ("execute_tool", "_OTHER")
    assert (sc.METRIC_TOKEN_USAGE, sc.METRIC_OPERATION_DURATION, sc.METRIC_TIME_TO_FIRST_CHUNK) == (
        "gen_ai.client.token.usage", "gen_ai.client.operation.duration", "gen_ai.client.operation.time_to_first_chunk"
    )


def test_well_known_provider_names() -> None:
    assert [sc.gen_ai_provider(p) for p in ("openai", "gemini", "nova", "qwen", "acme")] == [
        "openai", "gcp.gemini", "aws.bedrock", "qwen", "acme"
    ]


def test_own_names_are_under_realtime() -> None:
    own = [v for k, v in vars(sc).items() if k.isupper() and isinstance(v, str) and v.startswith("realtime")]
    assert own and all(v.startswith(("realtime.", "realtime_")) for v in own)
    assert not [v for v in own if v.startswith("gen_ai")]
