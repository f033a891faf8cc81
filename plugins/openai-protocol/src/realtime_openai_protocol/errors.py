"""The protocol's ``error`` payloads and close codes as realtime-core's typed errors (docs/contract.md §8.2).

An ``error`` event carries ``{type, code, message, param, event_id}``. The codes here are OpenAI's (the
reference of the protocol); a dialect with other codes overrides :meth:`Dialect.error_from_payload
<realtime_openai_protocol.Dialect.error_from_payload>`. Close codes: OpenAI's live server closes with **3000**
after a bad key and **4000** after a request it cannot serve at all (the ``OpenAI-Beta`` header, an unknown or
missing model); anything else goes through core's default mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ProtocolError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RealtimeError,
    SessionExpiredError,
)
from realtime_core.transport import classify_close

__all__ = [
    "AUTH_CODES",
    "CLOSE_BAD_KEY",
    "CLOSE_BAD_REQUEST",
    "CONFIGURATION_CODES",
    "FATAL_CODES",
    "PROTOCOL_CODES",
    "QUOTA_CODES",
    "close_error",
    "error_from_payload",
    "setup_error",
]

AUTH_CODES = frozenset({"invalid_api_key", "account_deactivated", "unauthorized", "invalid_client_secret"})
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
CONFIGURATION_CODES = frozenset(
    {"invalid_model", "missing_model", "model_not_found", "beta_api_shape_disabled", "unsupported_protocol"}
)
"""The service cannot serve the session as asked (unknown model, the beta protocol): reconnecting cannot help."""
PROTOCOL_CODES = frozenset({"invalid_event", "invalid_json"})
"""The client sent something that is not an event of the protocol."""
FATAL_CODES = AUTH_CODES | QUOTA_CODES | CONFIGURATION_CODES
"""Codes after which reconnecting cannot help."""
CLOSE_BAD_KEY = 3000
CLOSE_BAD_REQUEST = 4000


def error_from_payload(
    error: Mapping[str, Any] | None, *, provider: str = "openai", context: str = ""
) -> RealtimeError:
    """The typed error for an ``error`` event's ``error`` object (or a failed response's
    ``status_details.error``)."""
    data: Mapping[str, Any] = error or {}
    code = data.get("code")
    code = str(code) if code not in (None, "") else None
    kind = str(data.get("type") or "")
    message = str(data.get("message") or "the server reported an error")
    param = data.get("param")
    text = message + (f" (param: {param})" if param else "") + (f" [{context}]" if context else "")
    if code in AUTH_CODES:
        return AuthenticationError(text, code=code, provider=provider)
    if code in QUOTA_CODES:
        return QuotaExceededError(text, code=code, provider=provider)
    if code == "rate_limit_exceeded" or kind == "rate_limit_error":
        return RateLimitedError(text, code=code or kind, provider=provider)
    if code == "session_expired":
        return SessionExpiredError(text, code=code, provider=provider)
    if code in CONFIGURATION_CODES:
        return ConfigurationError(text, code=code, provider=provider)
    if code in PROTOCOL_CODES:
        return ProtocolError(text, code=code, provider=provider, recoverable=False)
    return ProviderError(text, code=code or kind or None, provider=provider)


def setup_error(error: RealtimeError, payload: Mapping[str, Any]) -> RealtimeError:
    """``error`` as the answer to the session's configuration: a request the server refused
    (``invalid_request_error``) is a :class:`ConfigurationError`; a server failure stays a recoverable
    :class:`ProviderError` (contract 2.2: a transient error during setup is never a configuration error)."""
    if type(error) is ProviderError and str(payload.get("type") or "") == "invalid_request_error":
        return ConfigurationError(
            f"the server rejected the session configuration: {error.message}", code=error.code, provider=error.provider
        )
    return error


def close_error(code: int | None, reason: str, *, provider: str = "openai") -> RealtimeError:
    """Why the server closed the socket, and whether reconnecting can help."""
    text = f"connection closed by the server (code {code}{': ' + reason if reason else ''})"
    if code == CLOSE_BAD_KEY:
        return AuthenticationError(text + "; check the API key", code=str(code), provider=provider)
    if code == CLOSE_BAD_REQUEST:
        return ConfigurationError(text + "; check the model and the protocol version", code=str(code), provider=provider)
    return classify_close(code, reason, provider=provider)
