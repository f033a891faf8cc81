"""DashScope's error payloads and close codes as realtime-core's typed errors (docs/contract.md §8.2).

* ``error`` events carry ``{type, code, message, param}`` (``invalid_request_error`` / ``invalid_value`` for
  most); most do not close the session. Codes: ``InvalidApiKey``/``AccessDenied`` (bad key: fatal),
  ``Arrearage``/``AllocationQuota.*``/``FreeTierOnly`` (no quota: fatal), ``Throttling.*`` (rate limited),
  ``InvalidParameter`` or an ``invalid_value`` on a ``session.*`` parameter (the configuration: a voice the
  model lacks...), an ``invalid_value`` on ``type`` (an event the service does not know: the client broke
  the protocol), ``server_error`` (transient).
* The server closes idle sessions with code 1007 and a reason such as "Your session was closed because no
  response was generated for 180 seconds.": recoverable (core reconnects and the configuration is sent again;
  the conversation itself is gone, DashScope has no resumption). The 120-minute cap ends the socket too;
  also recoverable. Other 1007/1008 closes (quota, bad data) are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    ProtocolError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RealtimeError,
    SessionExpiredError,
)
from realtime_core.transport import classify_close as core_classify_close

__all__ = [
    "AUTH_CODES",
    "IMAGE_BEFORE_AUDIO",
    "QUOTA_CODES",
    "classify_close",
    "error_from_payload",
    "is_fatal",
    "is_idle_close",
    "is_commit_refusal",
    "is_no_active_response",
]

PROVIDER = "qwen"
AUTH_CODES = frozenset({"InvalidApiKey", "invalid_api_key", "AccessDenied", "Unauthorized", "unauthorized"})
QUOTA_CODES = frozenset({"Arrearage", "insufficient_quota", "FreeTierOnly", "AllocationQuota.FreeTierOnly"})
CONFIGURATION_CODES = frozenset({"InvalidParameter", "ModelNotFound", "model_not_found", "cannot_update_voice"})
IMAGE_BEFORE_AUDIO = "append image before append audio"
_IDLE_REASONS = ("no response was generated", "no user input was received")


def error_from_payload(error: Mapping[str, Any] | None, *, context: str = "") -> RealtimeError:
    """The typed error for an ``error`` event's ``error`` object (or a transcription's ``error``)."""
    data: Mapping[str, Any] = error if isinstance(error, Mapping) else {}  # pyright: ignore[reportUnnecessaryIsInstance]
    code = data.get("code")
    code = str(code) if code not in (None, "") else None
    kind = str(data.get("type") or "")
    message = str(data.get("message") or "the server reported an error")
    param = data.get("param")
    param = str(param) if param else ""
    text = message + (f" (param: {param})" if param else "") + (f" [{context}]" if context else "")
    if code in AUTH_CODES:
        return AuthenticationError(text, code=code, provider=PROVIDER)
    if code in QUOTA_CODES or (code or "").startswith("AllocationQuota"):
        return QuotaExceededError(text, code=code, provider=PROVIDER)
    if (code or "").startswith("Throttling") or kind == "rate_limit_error":
        return RateLimitedError(text, code=code or kind, provider=PROVIDER)
    if code == "session_expired":
        return SessionExpiredError(text, code=code, provider=PROVIDER)
    if kind == "invalid_request_error":
        if code in CONFIGURATION_CODES or param.startswith("session."):
            return ConfigurationError(text, code=code, provider=PROVIDER)
        if param == "type":
            return ProtocolError(text, code=code, provider=PROVIDER, recoverable=False)
    return ProviderError(text, code=code or kind or None, provider=PROVIDER)


def is_fatal(error: RealtimeError) -> bool:
    """Whether reconnecting cannot help after ``error`` (a bad key, no quota)."""
    return error.code in AUTH_CODES or error.code in QUOTA_CODES or isinstance(error, QuotaExceededError)


def is_no_active_response(payload: Mapping[str, Any]) -> bool:
    """The error a ``response.cancel`` gets when the response already ended (a harmless race)."""
    return "no active response" in str(payload.get("message") or "").lower()


def is_commit_refusal(message: str) -> bool:
    """Whether an error naming no event reads like the refusal of an ``input_audio_buffer.commit``: the
    observed "Internal service error: null" (a commit with VAD on) or a message about the buffer or commit."""
    text = message.lower()
    return "internal service error" in text or "commit" in text or "buffer" in text


def is_idle_close(code: int | None, reason: str) -> bool:
    text = reason.lower()
    return code == 1007 and any(r in text for r in _IDLE_REASONS)


def classify_close(code: int | None, reason: str) -> RealtimeError:
    """Why the server closed the socket, and whether reconnecting can help."""
    text = f"connection closed by the server (code {code}{': ' + reason if reason else ''})"
    lowered = reason.lower()
    if is_idle_close(code, reason):
        return ConnectionFailedError(
            text + "; the session was idle (reconnecting starts a new session with the same configuration)",
            code="idle_timeout",
            provider=PROVIDER,
        )
    if "maximum" in lowered and ("duration" in lowered or "minutes" in lowered):
        return SessionExpiredError(text, code="session_expired", provider=PROVIDER)
    if code == 1007 and ("quota" in lowered or "free tier" in lowered or "arrearage" in lowered):
        return QuotaExceededError(text, code=str(code), provider=PROVIDER)
    if code in (1000, 1001):  # the server ended the session on its own: a new one can be opened
        return ConnectionFailedError(text, code=str(code), provider=PROVIDER)
    return core_classify_close(code, reason, provider=PROVIDER)
