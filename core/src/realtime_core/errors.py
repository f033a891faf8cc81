"""One exception hierarchy for every provider.

Every error carries ``recoverable``: ``True`` means a retry or reconnect may succeed (a dropped socket, a
server hiccup), ``False`` means retrying would loop forever (a bad key, an exhausted quota, an unsupported
operation). Core's reconnection and the apps built on top read that flag instead of parsing messages.

Messages never contain API keys: exceptions are built from provider codes and our own words, and
:func:`redact` scrubs anything that looks like a secret from text that came from elsewhere.
"""

from __future__ import annotations

import re

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionFailedError",
    "InvalidAudioError",
    "MissingAPIKeyError",
    "ProtocolError",
    "ProviderError",
    "ProviderNotFoundError",
    "QuotaExceededError",
    "RateLimitedError",
    "RealtimeError",
    "SessionClosedError",
    "SessionExpiredError",
    "ToolExecutionError",
    "ToolTimeoutError",
    "UnsupportedCapability",
    "as_error",
    "redact",
]


class RealtimeError(Exception):
    """Base class of every error raised or reported by realtime-core and its provider plugins.

    :param message: what went wrong and, where possible, what to do about it.
    :param code: the provider's own error code (``"invalid_api_key"``, ``"1008"``...), if any.
    :param provider: the provider name, if known.
    :param recoverable: whether retrying or reconnecting may help; subclasses set a sensible default.
    """

    default_recoverable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        provider: str | None = None,
        recoverable: bool | None = None,
    ) -> None:
        super().__init__(redact(message))
        self.message = redact(message)
        self.code = code
        self.provider = provider
        self.recoverable = self.default_recoverable if recoverable is None else recoverable

    def __str__(self) -> str:
        prefix = f"[{self.provider}] " if self.provider else ""
        suffix = f" (code: {self.code})" if self.code else ""
        return f"{prefix}{self.message}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
            f"provider={self.provider!r}, recoverable={self.recoverable})"
        )

    def __reduce__(self) -> tuple[object, ...]:  # keeps keyword-only fields through pickling
        return (_rebuild, (type(self), self.message, self.code, self.provider, self.recoverable))


def _rebuild(
    cls: type[RealtimeError], message: str, code: str | None, provider: str | None, recoverable: bool
) -> RealtimeError:
    err = cls.__new__(cls)
    RealtimeError.__init__(err, message, code=code, provider=provider, recoverable=recoverable)
    return err


class ConfigurationError(RealtimeError, ValueError):
    """The session was configured in a way that cannot work (bad option, unknown model or voice)."""


class MissingAPIKeyError(ConfigurationError):
    """No API key was passed and the provider's environment variable is not set."""


class ProviderNotFoundError(ConfigurationError, LookupError):
    """No installed provider plugin has that name; the message lists the installed ones."""


class ConnectionFailedError(RealtimeError, ConnectionError):
    """The transport could not be opened or was lost (refused, timed out, TLS failure, dropped)."""

    default_recoverable = True


class AuthenticationError(RealtimeError):
    """The provider refused the credentials. Retrying with the same key will not help."""


class ProtocolError(RealtimeError):
    """The peer sent something that does not follow the protocol (malformed JSON, unknown framing)."""

    default_recoverable = True


class ProviderError(RealtimeError):
    """The provider reported an error (an ``error`` event, an exception frame, a close code)."""

    default_recoverable = True


class RateLimitedError(ProviderError):
    """The provider throttled the request; backing off and retrying may succeed."""

    default_recoverable = True


class QuotaExceededError(ProviderError):
    """The account is out of quota or billing is blocked; retrying will not help."""

    default_recoverable = False


class SessionExpiredError(ProviderError):
    """The provider ended the session at its maximum duration; a new connection is needed."""

    default_recoverable = True


class UnsupportedCapability(RealtimeError, NotImplementedError):
    """The operation is not supported by this provider *with this configuration*.

    Raised before anything is sent, so the session is unaffected. ``capability`` names the flag of
    :class:`realtime_core.Capabilities` that is ``False``.
    """

    def __init__(self, capability: str, message: str, *, provider: str | None = None) -> None:
        super().__init__(message, provider=provider, recoverable=False, code="unsupported_capability")
        self.capability = capability

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.capability, self.message), {"provider": self.provider})


class SessionClosedError(RealtimeError):
    """The session is closed (or was never connected); create or connect a session first."""


class ToolExecutionError(RealtimeError):
    """A tool raised; the message carries the tool name and the exception text sent to the model."""

    default_recoverable = True


class ToolTimeoutError(ToolExecutionError):
    """A tool did not finish within its timeout; the model was told so."""


class InvalidAudioError(RealtimeError, ValueError):
    """Audio that cannot be used: bad sample rate, dtype, shape, odd byte count, NaN or infinite samples."""


def as_error(exc: BaseException | str | None, provider: str, default: type[RealtimeError]) -> RealtimeError:
    """``exc`` as a :class:`RealtimeError`: realtime errors as they are (with ``provider`` filled in), text
    and other exceptions wrapped in ``default`` (the original kept as ``__cause__``)."""
    if isinstance(exc, RealtimeError):
        if exc.provider is None:
            exc.provider = provider
        return exc
    if exc is None:
        return default("connection lost", provider=provider)
    if isinstance(exc, str):
        return default(exc, provider=provider)
    err = default(f"{type(exc).__name__}: {exc}", provider=provider)
    err.__cause__ = exc
    return err


# Things that look like credentials: bearer tokens, OpenAI/Google/DashScope/ephemeral keys, AWS secrets.
_SECRET_PATTERNS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(sk|ek|rk)[-_][A-Za-z0-9_-]{8,}"
    r"|\bAIza[0-9A-Za-z_-]{20,}"
    r"|((?:api[_-]?key|access[_-]?token|secret|signature|x-goog-api-key|key)\s*[=:]\s*)[^\s&\"',;]{6,}"
)


def redact(text: str) -> str:
    """Return ``text`` with anything that looks like an API key or bearer token replaced by ``***``."""

    def _sub(match: re.Match[str]) -> str:
        keep = match.group(1) or match.group(3) or ""
        if match.group(2):
            return f"{match.group(2)}-***"
        return f"{keep}***"

    return _SECRET_PATTERNS.sub(_sub, text)
