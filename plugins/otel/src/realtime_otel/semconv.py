"""The names realtime-otel records under: OpenTelemetry GenAI conventions where they apply, ``realtime.*`` otherwise.

Three kinds of names, kept apart so it is clear where each comes from:

* imported from ``opentelemetry-semantic-conventions`` (the GenAI names live in its ``_incubating`` modules);
* defined by the GenAI conventions (their realtime spans and token metrics, development status) but not
  shipped by that package yet: spelled out here, exactly as the conventions spell them;
* our own, for what no convention covers: all under ``realtime.``.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes as _error

# ---------------------------------------------------------------- from the semantic-conventions package
OPERATION_NAME: Final = _gen_ai.GEN_AI_OPERATION_NAME
PROVIDER_NAME: Final = _gen_ai.GEN_AI_PROVIDER_NAME
SYSTEM: Final = _gen_ai.GEN_AI_SYSTEM  # deprecated for gen_ai.provider.name; still read by many backends
REQUEST_MODEL: Final = _gen_ai.GEN_AI_REQUEST_MODEL
RESPONSE_ID: Final = _gen_ai.GEN_AI_RESPONSE_ID
RESPONSE_TIME_TO_FIRST_CHUNK: Final = _gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK  # seconds
TOKEN_TYPE: Final = _gen_ai.GEN_AI_TOKEN_TYPE
USAGE_INPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_INPUT_TOKENS
USAGE_OUTPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS
USAGE_CACHE_READ_INPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
TOOL_NAME: Final = _gen_ai.GEN_AI_TOOL_NAME
TOOL_CALL_ID: Final = _gen_ai.GEN_AI_TOOL_CALL_ID
TOOL_TYPE: Final = _gen_ai.GEN_AI_TOOL_TYPE
ERROR_TYPE: Final = _error.ERROR_TYPE

TOKEN_TYPE_INPUT: Final = _gen_ai.GenAiTokenTypeValues.INPUT.value
TOKEN_TYPE_OUTPUT: Final = _gen_ai.GenAiTokenTypeValues.OUTPUT.value
OPERATION_EXECUTE_TOOL: Final = _gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value
ERROR_TYPE_OTHER: Final = _error.ErrorTypeValues.OTHER.value

METRIC_TOKEN_USAGE: Final = _gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE
METRIC_OPERATION_DURATION: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION
METRIC_TIME_TO_FIRST_CHUNK: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK

# ---------------------------------------------------------------- GenAI conventions, not in the package yet
# From the GenAI realtime spans ("realtime_inference", "user_speech") and inference token metrics.
OPERATION_REALTIME_INFERENCE: Final = "realtime_inference"
OPERATION_USER_SPEECH: Final = "user_speech"
REALTIME_SESSION_ID: Final = "gen_ai.realtime_session.id"
TOKEN_MODALITY: Final = "gen_ai.token.modality"  # noqa: S105 (an attribute name)
MODALITY_UNKNOWN: Final = "unknown"
USAGE_BY_MODALITY: Final[dict[tuple[str, str], str]] = {
    ("input", "text"): "gen_ai.usage.text.input_tokens",
    ("input", "audio"): "gen_ai.usage.audio.input_tokens",
    ("input", "image"): "gen_ai.usage.image.input_tokens",
    ("output", "text"): "gen_ai.usage.text.output_tokens",
    ("output", "audio"): "gen_ai.usage.audio.output_tokens",
}
METRIC_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.input_tokens"
METRIC_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.output_tokens"
METRIC_CACHE_READ_TOKENS: Final = "gen_ai.client.inference.usage.cache_read.input_tokens"

# ---------------------------------------------------------------- our own
PROVIDER: Final = "realtime.provider"  # the realtime provider as loaded ("gemini"), beside gen_ai.provider.name
RESPONSE_INTERRUPTED: Final = "realtime.response.interrupted"
RESPONSE_AUDIO_OUTPUT_MS: Final = "realtime.response.audio_output_ms"
INTERRUPTION_SOURCE: Final = "realtime.interruption.source"
INTERRUPTION_HEARD_MS: Final = "realtime.interruption.heard_ms"
RECONNECT_PLANNED: Final = "realtime.reconnect.planned"
RECONNECT_STATE_RESTORED: Final = "realtime.reconnect.state_restored"
RECONNECT_ATTEMPTS: Final = "realtime.reconnect.attempts"
RECONNECT_REPLAYED_AUDIO_MS: Final = "realtime.reconnect.replayed_audio_ms"
RECONNECT_LOST_AUDIO_MS: Final = "realtime.reconnect.lost_audio_ms"
DISCONNECT_REASON: Final = "realtime.disconnect.reason"
DISCONNECT_WILL_RECONNECT: Final = "realtime.disconnect.will_reconnect"
ERROR_CONTEXT: Final = "realtime.error.context"
ERROR_RECOVERABLE: Final = "realtime.error.recoverable"
SESSION_RESPONSES: Final = "realtime.session.responses"
SESSION_INTERRUPTIONS: Final = "realtime.session.interruptions"
SESSION_RECONNECTIONS: Final = "realtime.session.reconnections"

EVENT_CONNECTED: Final = "realtime.connected"
EVENT_DISCONNECTED: Final = "realtime.disconnected"
EVENT_RECONNECTED: Final = "realtime.reconnected"
EVENT_INTERRUPTED: Final = "realtime.interrupted"

SPAN_SESSION: Final = "realtime_session"

METRIC_INTERRUPTIONS: Final = "realtime.client.interruptions"
METRIC_RECONNECTIONS: Final = "realtime.client.reconnections"
METRIC_ERRORS: Final = "realtime.client.errors"
METRIC_SESSION_DURATION: Final = "realtime.client.session.duration"

# The GenAI conventions' well-known gen_ai.provider.name values for the bundled providers (they MUST be used
# where they apply); any other provider is named as it is registered.
_GEN_AI_PROVIDERS: Final[dict[str, str]] = {
    "openai": _gen_ai.GenAiProviderNameValues.OPENAI.value,
    "gemini": _gen_ai.GenAiProviderNameValues.GCP_GEMINI.value,
    "nova": _gen_ai.GenAiProviderNameValues.AWS_BEDROCK.value,
}


def gen_ai_provider(provider: str) -> str:
    """``gen_ai.provider.name`` for a realtime provider name (``"gemini"`` -> ``"gcp.gemini"``)."""
    return _GEN_AI_PROVIDERS.get(provider, provider)
