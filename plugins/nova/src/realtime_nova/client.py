"""The wire client: Bedrock's ``InvokeModelWithBidirectionalStream`` through AWS's smithy-based SDK.

Everything SDK-specific lives here (no :class:`~realtime_core.Realtime` logic):

* the SDK is imported lazily, in a worker thread, the first time a session connects (it is large);
* the transport is the awscrt HTTP/2 client with HTTP/2 forced (the SDK's default aiohttp transport
  cannot stream both ways, and HTTP/1.1 would buffer the whole request body);
* a private CA (``ca_file``) is trusted by giving that client a TLS context whose trust store is the CA
  file; verification is never turned off;
* credentials come from explicit options (kept as ``SecretStr``) or the SDK's standard chain;
* SDK and CRT exceptions become :mod:`realtime_core.errors` types.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from realtime_core.credentials import SecretStr
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

if TYPE_CHECKING:
    from smithy_http.aio.crt import AWSCRTHTTPClient

__all__ = ["Credentials", "NovaClient", "NovaStream", "StreamFault", "UnknownOutput", "map_error"]

log = logging.getLogger("realtime_nova.client")
PROVIDER = "nova"

# Messages of ValidationExceptions that mean "start a new stream", not "your request is wrong".
_TRANSIENT_VALIDATION = (
    "timed out waiting for input events",
    "internalerrorcode=531",
    "system instability detected",
    "please retry your request",
)
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
    "ExpiredTokenException": AuthenticationError,
    "ServiceQuotaExceededException": QuotaExceededError,
    "ResourceNotFoundException": ProviderError,
}


def map_error(exc: BaseException, *, during: str = "stream") -> RealtimeError:
    """Translate an SDK, smithy or awscrt exception into a :class:`RealtimeError` (``code`` keeps the
    AWS error name)."""
    if isinstance(exc, RealtimeError):
        return exc
    if type(exc).__name__ == "SmithyError" and exc.__cause__ is not None:
        return map_error(exc.__cause__, during=during)  # the SDK wraps transport errors
    name = type(exc).__name__
    message = str(getattr(exc, "message", "") or exc) or name
    code = name
    if name == "UnmodeledEventError":
        code = str(getattr(exc, "code", "") or "UnmodeledEventError")
        name = code
    if name == "ValidationException":
        transient = any(marker in message.lower() for marker in _TRANSIENT_VALIDATION)
        return ProviderError(
            f"Nova rejected the request: {message}", code=code, provider=PROVIDER, recoverable=transient
        )
    if name in _RECOVERABLE_ERRORS:
        return _RECOVERABLE_ERRORS[name](f"{name}: {message}", code=code, provider=PROVIDER)
    if name in _FATAL_ERRORS:
        return _FATAL_ERRORS[name](f"{name}: {message}", code=code, provider=PROVIDER, recoverable=False)
    if name == "AwsCrtError":
        crt_name = str(getattr(exc, "name", "") or "")
        hint = ""
        if "TLS" in crt_name:
            hint = " (TLS handshake failed: if the endpoint uses a private CA, pass ca_file=...)"
        return ConnectionFailedError(
            f"{during}: {crt_name or 'network error'}: {getattr(exc, 'message', '')}{hint}",
            code=crt_name or None,
            provider=PROVIDER,
        )
    if name == "SmithyHTTPError":
        return ConnectionFailedError(f"{during}: {message}", provider=PROVIDER)
    if name == "CallError" or name.endswith("Exception"):
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
            return AuthenticationError(f"{label}: {message}", code=str(status), provider=PROVIDER)
        if status == 429:
            return RateLimitedError(f"{label}: {message}", code=str(status), provider=PROVIDER)
        recoverable = status is None or status >= 500
        return ProviderError(
            f"{label}: {message}", code=str(status) if status else name, provider=PROVIDER, recoverable=recoverable
        )
    if name in ("EventError", "ChecksumMismatch", "InvalidEventBytes", "InvalidHeadersLength", "InvalidPayloadLength",
                "DuplicateHeader", "InvalidHeaderValue", "InvalidHeaderValueLength", "InvalidIntegerValue"):  # fmt: skip
        return ProtocolError(f"{during}: malformed event stream: {message}", provider=PROVIDER)
    if name == "EndpointResolutionError":
        return ConfigurationError(f"{message}: pass region=... or endpoint_uri=...", provider=PROVIDER)
    if isinstance(exc, OSError):
        cause = exc.__cause__
        if cause is not None and cause is not exc:
            return map_error(cause, during=during)
        return ConnectionFailedError(f"{during}: {message}", provider=PROVIDER)
    return ProviderError(f"{during}: {name}: {message}", provider=PROVIDER)


class StreamFault(Exception):
    """The model sent an exception event (``validationException``...) or an unmodeled error event on a
    stream that is otherwise intact: report it and keep reading (the service ends the stream itself if
    it has to)."""

    def __init__(self, error: RealtimeError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, slots=True)
class UnknownOutput:
    """An output union member this SDK version does not know (``tag`` is its name)."""

    tag: str


# ------------------------------------------------------------------------------------------ SDK loading
class _Sdk:
    """The SDK classes this plugin uses, imported once."""

    def __init__(self) -> None:
        client = importlib.import_module("aws_sdk_bedrock_runtime.client")
        config = importlib.import_module("aws_sdk_bedrock_runtime.config")
        models = importlib.import_module("aws_sdk_bedrock_runtime.models")
        crt = importlib.import_module("smithy_http.aio.crt")
        crt_io = importlib.import_module("awscrt.io")
        identity = importlib.import_module("smithy_aws_core.identity")
        smithy_errors = importlib.import_module("smithy_core.exceptions")
        stream_errors = importlib.import_module("smithy_aws_event_stream.exceptions")
        self.in_stream_errors: tuple[type[BaseException], ...] = (
            smithy_errors.CallError,
            stream_errors.UnmodeledEventError,
        )
        self.Client = client.AsyncBedrockRuntimeClient
        self.Config = config.AsyncBedrockRuntimeConfig
        self.OperationInput = models.InvokeModelWithBidirectionalStreamOperationInput
        self.InputChunk = models.InvokeModelWithBidirectionalStreamInputChunk
        self.InputPart = models.BidirectionalInputPayloadPart
        self.OutputChunk = models.InvokeModelWithBidirectionalStreamOutputChunk
        self.OutputUnknown = models.InvokeModelWithBidirectionalStreamOutputUnknown
        self.Identity = identity.AWSCredentialsIdentity
        self.crt = crt
        self.crt_io = crt_io
        self.transport_class: Any = _make_transport_class(crt.AWSCRTHTTPClient)
        self.eventloop = crt._AWSCRTEventLoop()  # one CRT I/O thread shared by every session
        self._tls: dict[str | None, Any] = {}
        self._tls_lock = threading.Lock()
        _install_scrubber()

    def tls_context(self, ca_file: str | None) -> Any:
        """A client TLS context; with ``ca_file`` its trust store is that CA (cached per file)."""
        with self._tls_lock:
            ctx = self._tls.get(ca_file)
            if ctx is None:
                options = self.crt_io.TlsContextOptions()
                if ca_file is not None:
                    options.override_default_trust_store_from_path(None, ca_file)
                ctx = self._tls[ca_file] = self.crt_io.ClientTlsContext(options)
            return ctx


def _retrieve_writer_error(task: asyncio.Task[Any]) -> None:
    # awscrt's request-body writer task fails with AWS_ERROR_HTTP_STREAM_HAS_COMPLETED when the server ends
    # the stream first; that is expected at the end of every stream, so read it here instead of letting
    # asyncio report "Task exception was never retrieved".
    if not task.cancelled() and task.exception() is not None:
        log.debug("awscrt request body writer ended: %r", task.exception())


def _make_transport_class(base: type[AWSCRTHTTPClient]) -> Any:
    class NovaCrtTransport(base):  # type: ignore[valid-type,misc]
        """awscrt HTTP/2 with a chosen TLS context (a private CA for emulators)."""

        def __init__(self, *, eventloop: Any, client_config: Any, tls_ctx: Any) -> None:
            super().__init__(eventloop=eventloop, client_config=client_config)
            self._tls_ctx = tls_ctx  # the base builds a default-trust context; use the configured one

        async def _await_response(self, stream: Any) -> Any:
            writer = getattr(stream, "_writer", None)
            if isinstance(writer, asyncio.Task):
                writer.add_done_callback(_retrieve_writer_error)
            return await super()._await_response(stream)

        def __deepcopy__(self, memo: Any) -> Any:
            return self  # the SDK copies its config per call: share the pool and the TLS context

    return NovaCrtTransport


_sdk: _Sdk | None = None
_sdk_lock = threading.Lock()


def _load_sdk_sync() -> _Sdk:
    global _sdk
    with _sdk_lock:
        if _sdk is None:
            _sdk = _Sdk()
        return _sdk


async def load_sdk() -> _Sdk:
    """The SDK, imported in a worker thread the first time (about half a second of imports)."""
    if _sdk is not None:
        return _sdk
    return await asyncio.to_thread(_load_sdk_sync)


# ------------------------------------------------------------------------------------------ credentials
@dataclass(frozen=True, repr=False)
class Credentials:
    """Explicit AWS credentials; the secret parts stay ``SecretStr`` until a request is signed."""

    access_key_id: str
    secret_access_key: SecretStr
    session_token: SecretStr | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key='**********')"

    def secrets(self) -> tuple[str, ...]:
        values = [self.secret_access_key.get_secret_value()]
        if self.session_token is not None:
            values.append(self.session_token.get_secret_value())
        return tuple(v for v in values if v)


class _StaticResolver:
    """A smithy identity resolver over :class:`Credentials` whose repr shows no secret."""

    def __init__(self, sdk: _Sdk, credentials: Credentials) -> None:
        self._credentials = credentials
        token = credentials.session_token.get_secret_value() if credentials.session_token else None
        # Built once: the SDK asks for the identity on every signed event (50 times a second).
        self._identity = sdk.Identity(
            access_key_id=credentials.access_key_id,
            secret_access_key=credentials.secret_access_key.get_secret_value(),
            session_token=token,
        )

    async def get_identity(self, *, properties: Any) -> Any:
        return self._identity

    def __repr__(self) -> str:
        return f"<NovaCredentialsResolver {self._credentials.access_key_id}>"


class _ScrubSecrets(logging.Filter):
    """Removes credential values from SDK debug logs (the SDK logs requests, including the session
    token header, at DEBUG)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, int] = {}
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            text = record.getMessage()
        except Exception:
            return True
        scrubbed = text
        for secret in list(self.secrets):
            if secret in scrubbed:
                scrubbed = scrubbed.replace(secret, "**********")
        if scrubbed is not text:
            record.msg, record.args = scrubbed, ()
        return True


_scrubber = _ScrubSecrets()
_SDK_LOGGERS = ("smithy_core", "smithy_http", "smithy_aws_core", "smithy_aws_event_stream", "aws_sdk_signers",
                "aws_sdk_bedrock_runtime", "awscrt")  # fmt: skip


def _install_scrubber() -> None:
    # Logger filters do not apply to child loggers, so attach it to every SDK logger (they exist once the
    # SDK modules are imported).
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in _SDK_LOGGERS]
    for name in {*names, *_SDK_LOGGERS}:
        logger = logging.getLogger(name)
        if _scrubber not in logger.filters:
            logger.addFilter(_scrubber)


def _register_secrets(values: tuple[str, ...]) -> None:
    with _scrubber.lock:
        for value in values:
            _scrubber.secrets[value] = _scrubber.secrets.get(value, 0) + 1


def _release_secrets(values: tuple[str, ...]) -> None:
    with _scrubber.lock:
        for value in values:
            left = _scrubber.secrets.get(value, 0) - 1
            if left <= 0:
                _scrubber.secrets.pop(value, None)
            else:
                _scrubber.secrets[value] = left


# ------------------------------------------------------------------------------------------ client
class NovaClient:
    """One SDK client (and one awscrt HTTP/2 connection pool) per session; every stream of the session,
    including the next one opened during a renewal, multiplexes on it."""

    def __init__(
        self,
        *,
        region: str | None,
        endpoint_uri: str | None,
        credentials: Credentials | None,
        profile: str | None,
        ca_file: str | None,
    ) -> None:
        self._region = region
        self._endpoint_uri = endpoint_uri
        self._credentials = credentials
        self._profile = profile
        self._ca_file = ca_file
        self._client: Any = None
        self._sdk: _Sdk | None = None
        self._secrets: tuple[str, ...] = credentials.secrets() if credentials else ()
        self._closed = False

    async def _ensure(self) -> tuple[_Sdk, Any]:
        if self._client is not None and self._sdk is not None:
            return self._sdk, self._client
        sdk = await load_sdk()
        tls_ctx = await asyncio.to_thread(sdk.tls_context, self._ca_file)
        transport = sdk.transport_class(
            eventloop=sdk.eventloop,
            client_config=sdk.crt.AWSCRTHTTPClientConfig(force_http_2=True),
            tls_ctx=tls_ctx,
        )
        overrides: dict[str, Any] = {"transport": transport}
        if self._region:
            overrides["region"] = self._region
        if self._endpoint_uri:
            overrides["endpoint_uri"] = self._endpoint_uri
        if self._credentials is not None:
            overrides["aws_credentials_identity_resolver"] = _StaticResolver(sdk, self._credentials)
        try:
            config = await sdk.Config.resolve(profile=self._profile, **overrides)
        except Exception as exc:
            await transport.close()
            raise ConfigurationError(f"invalid AWS configuration: {exc}", provider=PROVIDER) from None
        if config.region is None and not self._endpoint_uri:
            config.region = "us-east-1"
        _register_secrets(self._secrets)
        self._sdk, self._client = sdk, sdk.Client(config=config)
        return sdk, self._client

    async def open_stream(self, model_id: str) -> NovaStream:
        """Start one bidirectional stream (the request is on its way when this returns)."""
        if self._closed:
            raise ConnectionFailedError("the Nova client is closed", provider=PROVIDER, recoverable=False)
        sdk, client = await self._ensure()
        try:
            duplex = await client.invoke_model_with_bidirectional_stream(sdk.OperationInput(model_id=model_id))
        except Exception as exc:
            raise map_error(exc, during="open stream") from None
        return NovaStream(sdk, duplex)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            _release_secrets(self._secrets)
            try:
                await client.close()
            except Exception as exc:
                log.debug("closing the Bedrock client: %r", exc)


class NovaStream:
    """One ``InvokeModelWithBidirectionalStream`` call: send Nova event bytes, receive Nova event bytes."""

    def __init__(self, sdk: _Sdk, duplex: Any) -> None:
        self._sdk = sdk
        self._duplex = duplex
        self._publisher = duplex.input_stream
        self._receiver: Any = None
        self._pending_receive: asyncio.Future[Any] | None = None
        self.input_closed = False

    async def send(self, payload: bytes) -> None:
        """Send one Nova event (callers serialise sends: the signature chain needs the order kept)."""
        sdk = self._sdk
        try:
            await self._publisher.send(sdk.InputChunk(value=sdk.InputPart(bytes_=payload)))
        except Exception as exc:
            self.input_closed = True
            raise ConnectionFailedError(
                f"could not send to Nova: {map_error(exc).message}", provider=PROVIDER
            ) from None

    async def await_output(self) -> None:
        """Wait for the response headers (pre-stream HTTP errors are raised here)."""
        try:
            _, self._receiver = await self._duplex.await_output()
        except Exception as exc:
            raise map_error(exc, during="connect") from None

    async def receive(self) -> bytes | UnknownOutput | None:
        """The next Nova event's JSON bytes; None at the end of the stream.

        :raises RealtimeError: the model's in-stream exception, or a broken stream.
        """
        receiver = self._receiver
        if receiver is None:
            await self.await_output()
            receiver = self._receiver
        pending = self._pending_receive
        if pending is None:
            # awscrt completes the chunk futures from its native thread and raises (unraisably) if they
            # were cancelled, so never cancel a receive in flight: shield it; it ends with the stream
            pending = self._pending_receive = asyncio.ensure_future(receiver.receive())
            pending.add_done_callback(_consume)
        try:
            event = await asyncio.shield(pending)
        except asyncio.CancelledError:
            raise
        except self._sdk.in_stream_errors as exc:
            raise StreamFault(map_error(exc)) from None
        except Exception as exc:
            raise map_error(exc) from None
        finally:
            if pending.done():
                self._pending_receive = None
        if event is None:
            return None
        if isinstance(event, self._sdk.OutputChunk):
            return event.value.bytes_ or b""
        return UnknownOutput(str(getattr(event, "tag", type(event).__name__)))

    async def close_input(self, *, timeout: float = 2.0) -> None:
        """Send the signed end frame and half-close the request (tolerates a dead stream)."""
        if self.input_closed:
            return
        self.input_closed = True
        try:
            async with asyncio.timeout(timeout):
                await self._publisher.close()
        except Exception as exc:  # a dead stream stops draining the SDK's buffer: do not wait on it
            log.debug("closing the Nova input stream: %r", exc)
            await self._drop_body()

    async def abort(self) -> None:
        """Stop reading and writing; unsent input is dropped (the transport closes the HTTP/2 stream with
        the client)."""
        self.input_closed = True
        await self._drop_body()
        receiver = self._receiver
        if receiver is not None:
            try:
                await receiver.close()
            except Exception as exc:
                log.debug("closing the Nova output stream: %r", exc)

    async def _drop_body(self) -> None:
        # The SDK's publisher closes its body buffer only after flushing it, which never happens once the
        # HTTP/2 stream is gone; close the buffer without flushing so awscrt's body writer ends.
        body = getattr(self._publisher, "_writer", None)
        close = getattr(body, "close", None)
        if close is None:
            return
        try:
            result = close(flush=False)
            if asyncio.iscoroutine(result):
                await result
        except Exception as exc:
            log.debug("dropping the Nova request body: %r", exc)


def _consume(future: asyncio.Future[Any]) -> None:
    # a receive nobody waits for any more (the session moved on) must not log "exception never retrieved"
    if not future.cancelled():
        future.exception()
