"""OpenAI error payloads → realtime-core's typed errors, with ``recoverable`` set from the code.

Fatal codes (a bad key, no quota, a deactivated account) come back ``recoverable=False``, so core's
reconnection stops instead of looping forever; throttling and server failures stay recoverable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RealtimeError,
    SessionExpiredError,
)

__all__ = ["AUTH_CODES", "FATAL_CODES", "QUOTA_CODES", "error_from_http", "error_from_payload"]

PROVIDER = "openai"
AUTH_CODES = frozenset({"invalid_api_key", "account_deactivated", "unauthorized", "invalid_client_secret"})
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
FATAL_CODES = AUTH_CODES | QUOTA_CODES
"""Codes after which reconnecting cannot help."""


def error_from_payload(error: Mapping[str, Any] | None, *, context: str = "") -> RealtimeError:
    """The typed error for an ``error`` event's ``error`` object (or a failed response's ``status_details.error``)."""
    data: Mapping[str, Any] = error or {}
    code = data.get("code")
    code = str(code) if code is not None else None
    kind = str(data.get("type") or "")
    message = str(data.get("message") or "the server reported an error")
    param = data.get("param")
    text = message + (f" (param: {param})" if param else "") + (f" [{context}]" if context else "")
    if code in AUTH_CODES:
        return AuthenticationError(text, code=code, provider=PROVIDER)
    if code in QUOTA_CODES:
        return QuotaExceededError(text, code=code, provider=PROVIDER)
    if code == "rate_limit_exceeded" or kind == "rate_limit_error":
        return RateLimitedError(text, code=code or kind, provider=PROVIDER)
    if code == "session_expired":
        return SessionExpiredError(text, code=code, provider=PROVIDER)
    return ProviderError(text, code=code or kind or None, provider=PROVIDER)


def error_from_http(status: int, body: Any, *, what: str) -> RealtimeError:
    """The typed error for a failed HTTP call (``body`` is the decoded JSON, if any)."""
    detail: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        inner = body.get("error")  # pyright: ignore[reportUnknownMemberType]
        if isinstance(inner, Mapping):
            detail = inner  # pyright: ignore[reportUnknownVariableType]
    message = f"{what} failed with HTTP {status}" + (f": {detail.get('message')}" if detail.get("message") else "")
    code = detail.get("code")
    code = str(code) if code is not None else str(status)
    if status in (401, 403) or code in AUTH_CODES:
        return AuthenticationError(message + "; check the API key", code=code, provider=PROVIDER)
    if code in QUOTA_CODES:
        return QuotaExceededError(message, code=code, provider=PROVIDER)
    if status == 429:
        return RateLimitedError(message, code=code, provider=PROVIDER)
    if 400 <= status < 500:
        return ConfigurationError(message, code=code, provider=PROVIDER)
    return ConnectionFailedError(message, code=code, provider=PROVIDER, recoverable=status >= 500)
