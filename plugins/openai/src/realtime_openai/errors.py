"""OpenAI's errors as realtime-core's typed errors (docs/contract.md §8.2).

``error`` events and close codes follow the protocol's mapping (:mod:`realtime_openai_protocol.errors`:
3000 after a bad key, 4000 after an unknown model or the beta header); what is OpenAI's own is the REST side
(client secrets, WebRTC calls): :func:`error_from_http`. Fatal codes (a bad key, no quota, a deactivated
account) come back ``recoverable=False``, so core's reconnection stops instead of looping forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    QuotaExceededError,
    RateLimitedError,
    RealtimeError,
)
from realtime_openai_protocol.errors import AUTH_CODES, FATAL_CODES, QUOTA_CODES, close_error, error_from_payload

__all__ = ["AUTH_CODES", "FATAL_CODES", "QUOTA_CODES", "close_error", "error_from_http", "error_from_payload"]

PROVIDER = "openai"


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
