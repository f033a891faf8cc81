"""Bedrock's errors (SDK, smithy and awscrt exceptions, HTTP statuses, in-stream exception events) as
:mod:`realtime_core.errors` types, per docs/contract.md promise 8.2.

``code`` keeps the AWS error name (``ThrottlingException``...) or the awscrt error name.
"""

from __future__ import annotations

from realtime_core.errors import (
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

__all__ = ["PROVIDER", "StreamFault", "map_error", "tls_failure"]

PROVIDER = "nova"

# Messages of ValidationExceptions that mean "start a new stream", not "your request is wrong".
_TRANSIENT_VALIDATION = (
    "timed out waiting for input events",
    "internalerrorcode=531",
    "system instability detected",
    "please retry your request",
)
_CONFIG_WORDS = ("model identifier", "voiceid", "voice", "sample rate", "samplerate", "configuration")
_RECOVERABLE_ERRORS: dict[str, type[RealtimeError]] = {
    "ThrottlingException": RateLimitedError,
    "ModelNotReadyException": RateLimitedError,
    "ModelTimeoutException": SessionExpiredError,
    "ModelStreamErrorException": ProviderError,
    "ModelErrorException": ProviderError,
    "InternalServerException": ProviderError,
    "ServiceUnavailableException": ProviderError,
}
_FATAL_ERRORS: dict[str, type[RealtimeError]] = {
    "AccessDeniedException": AuthenticationError,
    "UnrecognizedClientException": AuthenticationError,
    "InvalidSignatureException": AuthenticationError,
    "IncompleteSignatureException": AuthenticationError,
    "MissingAuthenticationTokenException": AuthenticationError,
    "ExpiredTokenException": AuthenticationError,
    "ServiceQuotaExceededException": QuotaExceededError,
    "ResourceNotFoundException": ConfigurationError,
}
_FRAMING_ERRORS = frozenset(
    {"EventError", "ChecksumMismatch", "InvalidEventBytes", "InvalidHeadersLength", "InvalidPayloadLength",
     "DuplicateHeader", "InvalidHeaderValue", "InvalidHeaderValueLength", "InvalidIntegerValue"}
)  # fmt: skip
# awscrt reports a certificate it cannot verify as a failed negotiation; other TLS errors are the network's.
_TLS_VERIFICATION = frozenset({"AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE", "AWS_IO_TLS_INVALID_CERTIFICATE_CHAIN"})


class StreamFault(Exception):
    """The model sent an exception event (``validationException``...) or an unmodeled error event on a
    stream that is otherwise intact: report it and keep reading (the service ends the stream itself if
    it has to)."""

    def __init__(self, error: RealtimeError) -> None:
        super().__init__(error.message)
        self.error = error


def tls_failure(detail: str, *, verification: bool) -> ConnectionFailedError:
    """A TLS handshake that failed; a certificate that does not verify is not worth retrying."""
    hint = " (if the endpoint uses a private CA, pass ca_file=...)" if verification else ""
    return ConnectionFailedError(
        f"TLS handshake with Bedrock failed: {detail}{hint}",
        code="tls_verification" if verification else "tls",
        provider=PROVIDER,
        recoverable=not verification,
    )


def map_error(exc: BaseException, *, during: str = "stream") -> RealtimeError:
    """Translate an SDK, smithy or awscrt exception into a :class:`RealtimeError`."""
    if isinstance(exc, RealtimeError):
        return exc
    name = type(exc).__name__
    if name == "SmithyError" and exc.__cause__ is not None:
        return map_error(exc.__cause__, during=during)  # the SDK wraps transport errors
    message = str(getattr(exc, "message", "") or exc) or name
    code = name
    if name == "UnmodeledEventError":
        code = name = str(getattr(exc, "code", "") or "UnmodeledEventError")
    if name == "ValidationException":
        lowered = message.lower()
        if any(marker in lowered for marker in _TRANSIENT_VALIDATION):
            return ProviderError(f"Nova asks for a new stream: {message}", code=code, provider=PROVIDER)
        # A refused setting (model, voice...) is the app's configuration; anything else is a protocol error.
        cls = ConfigurationError if any(word in lowered for word in _CONFIG_WORDS) else ProtocolError
        return cls(f"Nova rejected the request: {message}", code=code, provider=PROVIDER, recoverable=False)
    if name in _RECOVERABLE_ERRORS:
        return _RECOVERABLE_ERRORS[name](f"{name}: {message}", code=code, provider=PROVIDER)
    if name in _FATAL_ERRORS:
        return _FATAL_ERRORS[name](f"{name}: {message}", code=code, provider=PROVIDER, recoverable=False)
    if name == "AwsCrtError":
        return _crt_error(exc, during)
    if name in ("SmithyHTTPError", "_CRTTimeoutError"):
        return ConnectionFailedError(f"{during}: {message}", provider=PROVIDER)
    if name == "CallError" or name.endswith("Exception"):
        return _http_error(exc, name, message)
    if name in _FRAMING_ERRORS:
        return ProtocolError(f"{during}: malformed event stream: {message}", provider=PROVIDER)
    if name == "EndpointResolutionError":
        return ConfigurationError(f"{message}: pass region=... or endpoint_uri=...", provider=PROVIDER)
    if isinstance(exc, OSError):
        cause = exc.__cause__
        if cause is not None and cause is not exc:
            return map_error(cause, during=during)
        return ConnectionFailedError(f"{during}: {message}", provider=PROVIDER)
    return ProviderError(f"{during}: {name}: {message}", provider=PROVIDER)


def _crt_error(exc: BaseException, during: str) -> RealtimeError:
    crt_name = str(getattr(exc, "name", "") or "")
    detail = f"{crt_name or 'network error'}: {getattr(exc, 'message', '')}"
    if "TLS" in crt_name:
        return tls_failure(detail, verification=crt_name in _TLS_VERIFICATION)
    return ConnectionFailedError(f"{during}: {detail}", code=crt_name or None, provider=PROVIDER)


def _http_error(exc: BaseException, name: str, message: str) -> RealtimeError:
    status = getattr(getattr(exc, "response_metadata", None), "http_status_code", None)
    # An error the model does not name (e.g. a signature failure) keeps only its id: "...#Name".
    error_id = message.rsplit("#", 1)[-1] if name == "CallError" and "#" in message else None
    if error_id in _FATAL_ERRORS:
        return _FATAL_ERRORS[error_id](
            f"{error_id} (HTTP {status}): the request was refused; check the credentials and region",
            code=error_id,
            provider=PROVIDER,
            recoverable=False,
        )
    label = error_id or name
    if status in (401, 403):
        return AuthenticationError(f"{label}: {message}", code=str(status), provider=PROVIDER, recoverable=False)
    if status == 429:
        return RateLimitedError(f"{label}: {message}", code=str(status), provider=PROVIDER)
    recoverable = status is None or status >= 500
    return ProviderError(
        f"{label}: {message}", code=str(status) if status else name, provider=PROVIDER, recoverable=recoverable
    )
