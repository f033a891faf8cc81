"""The reference service's error codes as typed errors (docs/contract.md, promise 8.2)."""

from __future__ import annotations

from typing import Any

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RealtimeError,
)

__all__ = ["error_from_message"]

_BY_CODE: dict[str, type[RealtimeError]] = {
    "invalid_api_key": AuthenticationError,
    "insufficient_quota": QuotaExceededError,
    "rate_limited": RateLimitedError,
    "invalid_config": ConfigurationError,
    "unknown_voice": ConfigurationError,
}


def error_from_message(msg: dict[str, Any]) -> RealtimeError:
    """An ``error`` message as the typed error it stands for; unknown codes are transient provider errors."""
    code = str(msg.get("code") or "error")
    text = str(msg.get("message") or "the service reported an error")
    cls = _BY_CODE.get(code, ProviderError)
    return cls(text, code=code, provider="reference")
