"""A Nova session's options, checked once: every bad value is a ConfigurationError naming the option and
what it accepts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from realtime_core.credentials import SecretStr
from realtime_core.errors import ConfigurationError

from .client import Credentials
from .models import MODELS, ModelInfo, model_info

__all__ = ["OUTPUT_RATES", "SENSITIVITIES", "NovaConfig", "make_config"]

SENSITIVITIES = ("HIGH", "MEDIUM", "LOW")
OUTPUT_RATES = (8000, 16000, 24000)


@dataclass(frozen=True)
class NovaConfig:
    """The validated options of :class:`~realtime_nova.NovaRealtime` (secrets only in ``credentials``)."""

    model: str
    info: ModelInfo
    voice: str
    region: str | None
    endpoint_uri: str | None
    credentials: Credentials | None
    profile: str | None
    ca_file: str | None
    max_tokens: int
    temperature: float
    top_p: float
    endpointing_sensitivity: str | None
    tool_choice: dict[str, Any] | None
    output_sample_rate: int
    stream_limit_s: float
    renew_after_s: float
    renew_deadline_s: float
    replay_history: bool
    resend_audio_ms: float
    silence_fill_ms: float
    audio_batch_ms: float
    liveness_probe: bool


def _fail(option: str, message: str) -> ConfigurationError:
    return ConfigurationError(f"{option}: {message}", provider="nova")


def _number(option: str, value: object, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise _fail(option, f"must be a number {bound}, got {value!r}")
    return float(value)


def _secret(value: str | SecretStr | None) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(str(value or ""))


def _credentials(
    access_key_id: str | None, secret: str | SecretStr | None, token: str | SecretStr | None
) -> Credentials | None:
    if access_key_id or secret:
        if not (access_key_id and secret):
            raise _fail(
                "aws_access_key_id",
                "pass aws_access_key_id and aws_secret_access_key together (or neither, to use the AWS chain)",
            )
        # without a session token: long-term IAM keys, which Bedrock accepts as well as temporary ones
        return Credentials(str(access_key_id), _secret(secret), _secret(token) if token else None)
    if token:
        raise _fail("aws_session_token", "needs aws_access_key_id and aws_secret_access_key")
    return None


def make_config(**options: Any) -> NovaConfig:
    """Check the options of :class:`~realtime_nova.NovaRealtime` (same names) and return them resolved."""
    model = options["model"]
    try:
        info = model_info(model)
    except ConfigurationError:
        raise _fail("model", f"{model!r} is not a Nova Sonic model; use one of {', '.join(MODELS)}") from None
    voice = options["voice"]
    voice_id = voice.lower() if isinstance(voice, str) else voice
    if voice_id not in info.voices:
        raise _fail("voice", f"{voice!r} is not a {info.family} voice; use one of {', '.join(info.voices)}")
    sensitivity = options["endpointing_sensitivity"]
    if sensitivity is not None:
        sensitivity = str(sensitivity).upper()
        if sensitivity not in SENSITIVITIES:
            raise _fail("endpointing_sensitivity", f"must be one of {', '.join(SENSITIVITIES)}")
        if not info.turn_detection:
            raise _fail("endpointing_sensitivity", f"is a Nova 2 setting; {model} does not take it")
    max_tokens = options["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 10_000:
        raise _fail("max_tokens", f"must be an integer between 1 and 10000, got {max_tokens!r}")
    rate = options["output_sample_rate"]
    if rate not in OUTPUT_RATES:
        raise _fail("output_sample_rate", f"must be one of {', '.join(map(str, OUTPUT_RATES))}, got {rate!r}")
    endpoint = options["endpoint_uri"]
    if endpoint is not None and not str(endpoint).startswith("https://"):
        raise _fail(
            "endpoint_uri",
            "must be https://: Bedrock's bidirectional stream needs HTTP/2, which AWS's client only negotiates "
            "over TLS (use ca_file= to trust a private CA)",
        )
    ca_file = options["ca_file"]
    if ca_file is not None and not os.path.isfile(ca_file):
        raise _fail("ca_file", f"{ca_file!r} does not exist")
    tool_choice = options["tool_choice"]
    if tool_choice is not None and not (
        isinstance(tool_choice, dict) and len(tool_choice) == 1 and next(iter(tool_choice)) in ("auto", "any", "tool")
    ):
        raise _fail("tool_choice", 'must be {"auto": {}}, {"any": {}} or {"tool": {"name": ...}}')
    limit = _number("stream_limit_s", options["stream_limit_s"], 1.0)
    after = options["renew_after_s"]
    deadline = options["renew_deadline_s"]
    after = 0.75 * limit if after is None else _number("renew_after_s", after, 0.0)
    deadline = 0.9 * limit if deadline is None else _number("renew_deadline_s", deadline, 0.0)
    if not 0 < after <= deadline < limit:
        raise _fail("renew_after_s", "need 0 < renew_after_s <= renew_deadline_s < stream_limit_s")
    return NovaConfig(
        model=model,
        info=info,
        voice=str(voice_id),
        region=options["region"],
        endpoint_uri=endpoint,
        credentials=_credentials(
            options["aws_access_key_id"], options["aws_secret_access_key"], options["aws_session_token"]
        ),
        profile=options["profile"],
        ca_file=ca_file,
        max_tokens=max_tokens,
        temperature=_number("temperature", options["temperature"], 0.0, 1.0),
        top_p=_number("top_p", options["top_p"], 0.0, 1.0),
        endpointing_sensitivity=sensitivity,
        tool_choice=tool_choice,
        output_sample_rate=rate,
        stream_limit_s=limit,
        renew_after_s=after,
        renew_deadline_s=deadline,
        replay_history=bool(options["replay_history"]),
        resend_audio_ms=_number("resend_audio_ms", options["resend_audio_ms"], 0.0),
        silence_fill_ms=_number("silence_fill_ms", options["silence_fill_ms"], 1.0),
        audio_batch_ms=_number("audio_batch_ms", options["audio_batch_ms"], 0.0, 1000.0),
        liveness_probe=bool(options["liveness_probe"]),
    )
