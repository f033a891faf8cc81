"""Gemini reports every fatal problem as a WebSocket close frame; this turns one into a typed error
(docs/contract.md, promise 8.2).

The reason text says more than the code (1007 covers a bad key and a bad payload alike), so it is matched
first (lower-cased substrings) and the code breaks ties. ``recoverable`` decides whether core reconnects:
credentials, configuration and payload errors would fail again; server failures and the GoAway deadline
would not.
"""

from __future__ import annotations

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

__all__ = ["classify_close", "is_session_not_found"]

_P = "gemini"


def is_session_not_found(error: RealtimeError) -> bool:
    """Whether ``error`` is the server refusing a resumption handle (unknown or expired)."""
    return error.code == "1008" and "session not found" in error.message.lower()


def classify_close(code: int | None, reason: str) -> RealtimeError:
    """The error for a server close with ``code`` and ``reason`` (the reason is already redacted by core)."""
    text = (reason or "").strip()
    low = text.lower()
    shown = f"code {code}" + (f": {text}" if text else "")
    c = None if code is None else str(code)

    if "api key not valid" in low or "api_key_invalid" in low or "permission denied" in low or "unauthenticated" in low:
        return AuthenticationError(
            f"Gemini refused the credentials ({shown}); check the API key or token", code=c, provider=_P
        )
    if "unregistered callers" in low or "established identity" in low:
        return AuthenticationError(
            f"Gemini received no credentials ({shown}); pass api_key=... or a token", code=c, provider=_P
        )
    if "session not found" in low:
        return SessionExpiredError(
            f"Gemini does not know the resumption handle ({shown}); it expired or belongs to another key",
            code=c,
            provider=_P,
            recoverable=False,
        )
    if "goaway" in low or "go away" in low or "session duration" in low:
        # The connection hit its lifetime: a new connection (resumed with the latest handle) will work.
        return SessionExpiredError(f"Gemini ended the connection at its time limit ({shown})", code=c, provider=_P)
    if "not found for api version" in low or "not supported for bidigeneratecontent" in low or "publisher model" in low:
        return ConfigurationError(f"Gemini does not offer this model for the Live API ({shown})", code=c, provider=_P)
    # RESOURCE_EXHAUSTED ("Resource has been exhausted (e.g. check quota).") is Google's per-minute limit;
    # an exceeded quota or billing problem does not clear by waiting.
    if (
        "resource has been exhausted" in low
        or "resource_exhausted" in low
        or "rate limit" in low
        or "too many requests" in low
    ):
        return RateLimitedError(f"Gemini is rate limiting this key ({shown})", code=c, provider=_P)
    if "quota" in low and ("exceed" in low or "billing" in low):
        return QuotaExceededError(f"Gemini quota exhausted ({shown})", code=c, provider=_P)
    if "context" in low and ("exhaust" in low or "too long" in low or "exceed" in low):
        return ProviderError(
            f"the conversation no longer fits the context window ({shown}); enable context_window_compression",
            code=c,
            provider=_P,
            recoverable=False,
        )

    if code in (1007, 1002, 1003, 1009, 1010):
        return ProtocolError(f"Gemini rejected a message ({shown})", code=c, provider=_P, recoverable=False)
    if code == 1008:
        return ProviderError(f"Gemini refused the session by policy ({shown})", code=c, provider=_P, recoverable=False)
    if code in (1011, 1012, 1013, 1014):
        return ProviderError(f"Gemini server error ({shown})", code=c, provider=_P, recoverable=True)
    if code == 1000:
        return ConnectionFailedError(f"Gemini closed the connection ({shown})", code=c, provider=_P)
    if code in (1001, 1006, None):
        return ConnectionFailedError(f"the connection to Gemini was lost ({shown})", code=c, provider=_P)
    return ConnectionFailedError(f"Gemini closed the connection ({shown})", code=c, provider=_P)
