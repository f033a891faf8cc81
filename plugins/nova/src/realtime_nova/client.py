"""The AWS SDK, configured: Bedrock's ``InvokeModelWithBidirectionalStream`` through the smithy-based
``aws_sdk_bedrock_runtime`` client on awscrt's HTTP/2.

Why a module of its own (beside :mod:`realtime_nova.transport`, which runs one live stream): everything
here is about *setting the SDK up*, once per session, and none of it is per stream:

* the SDK is imported lazily, in a worker thread, the first time a session connects (it is large);
* the transport is the awscrt HTTP/2 client with HTTP/2 forced (the SDK's default aiohttp transport
  cannot stream both ways, and HTTP/1.1 would buffer the whole request body), with a TLS context whose
  trust store is ``ca_file`` when one is given (verification is never turned off), a connect timeout
  and TCP keepalive;
* a TLS check with Python's ``ssl`` runs beside the first connection: awscrt's TLS stack (s2n) delays
  reporting a failed handshake by 10-30 s ("blinding"), which would read as a connect timeout;
* credentials come from explicit options (kept as ``SecretStr``) or the SDK's standard chain: long-term
  IAM keys (no session token) and temporary ones (with a session token) alike; SDK debug logs are
  scrubbed of them;
* :meth:`NovaClient.probe` sends a tiny request on the stream's HTTP/2 connection: awscrt exposes no
  HTTP/2 PING, and a response to any request proves the path is alive.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import ssl
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from realtime_core.credentials import SecretStr
from realtime_core.errors import ConfigurationError, ConnectionFailedError

from .errors import PROVIDER, map_error, tls_failure

if TYPE_CHECKING:
    from smithy_http.aio.crt import AWSCRTHTTPClient

__all__ = ["Credentials", "NovaClient", "load_sdk", "load_sdk_now", "preload_sdk"]

log = logging.getLogger("realtime_nova.client")


# ------------------------------------------------------------------------------------------ SDK loading
class Sdk:
    """The SDK classes this plugin uses, imported once."""

    def __init__(self) -> None:
        client = importlib.import_module("aws_sdk_bedrock_runtime.client")
        config = importlib.import_module("aws_sdk_bedrock_runtime.config")
        models = importlib.import_module("aws_sdk_bedrock_runtime.models")
        crt = importlib.import_module("smithy_http.aio.crt")
        http = importlib.import_module("smithy_http")
        http_aio = importlib.import_module("smithy_http.aio")
        core = importlib.import_module("smithy_core")
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
        self.Identity = identity.AWSCredentialsIdentity
        self.HTTPRequest = http_aio.HTTPRequest
        self.Fields = http.Fields
        self.URI = core.URI
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

    def socket_options(self, connect_timeout: float, keepalive: float) -> Any:
        options = self.crt_io.SocketOptions()
        options.connect_timeout_ms = max(1, int(connect_timeout * 1000))
        # TCP keepalive notices a peer that vanished while the connection is idle (the probe covers the rest)
        options.keep_alive = True
        options.keep_alive_interval_secs = max(1, int(keepalive))
        options.keep_alive_timeout_secs = max(1, int(keepalive))
        options.keep_alive_max_probes = 2
        return options


def _retrieve_writer_error(task: asyncio.Task[Any]) -> None:
    # awscrt's request-body writer task fails with AWS_ERROR_HTTP_STREAM_HAS_COMPLETED when the server ends
    # the stream first; that is expected at the end of every stream, so read it here instead of letting
    # asyncio report "Task exception was never retrieved".
    if not task.cancelled() and task.exception() is not None:
        log.debug("awscrt request body writer ended: %r", task.exception())


def _close_orphan(attempt: asyncio.Future[Any]) -> None:
    """A connection made for a caller that is gone: close it."""
    if not attempt.cancelled() and attempt.exception() is None:
        asyncio.ensure_future(attempt.result().close()).add_done_callback(_retrieve_writer_error)


def _make_transport_class(base: type[AWSCRTHTTPClient]) -> Any:
    class NovaCrtTransport(base):  # type: ignore[valid-type,misc]
        """awscrt HTTP/2 with a chosen TLS context (a private CA for emulators) and socket options."""

        def __init__(self, *, eventloop: Any, client_config: Any, tls_ctx: Any, socket_options: Any) -> None:
            super().__init__(eventloop=eventloop, client_config=client_config)
            # the base builds a default-trust context and default socket options: use the configured ones
            self._tls_ctx = tls_ctx
            self._socket_options = socket_options
            self.destination: Any = None
            self.connecting: set[asyncio.Task[Any]] = set()
            self.writers: set[asyncio.Task[Any]] = set()
            """awscrt's request-body writer tasks (one per stream): they end shortly after their stream."""

        async def send(self, request: Any, *, request_config: Any = None) -> Any:
            if self.destination is None:
                self.destination = request.destination  # where the stream went: the probe goes there too
            return await super().send(request, request_config=request_config)

        async def _create_connection(self, url: Any) -> Any:
            # awscrt completes the connection future from its native thread: a cancelled wait (close() during
            # connect()) must not cancel it, and the connection it still makes is closed, never left open.
            attempt = asyncio.ensure_future(super()._create_connection(url))
            self.connecting.add(attempt)
            attempt.add_done_callback(self.connecting.discard)
            try:
                return await asyncio.shield(attempt)
            except asyncio.CancelledError:
                attempt.add_done_callback(_close_orphan)
                raise

        async def _await_response(self, stream: Any) -> Any:
            writer = getattr(stream, "_writer", None)
            if isinstance(writer, asyncio.Task):
                self.writers.add(writer)
                writer.add_done_callback(self.writers.discard)
                writer.add_done_callback(_retrieve_writer_error)
            return await super()._await_response(stream)

        def __deepcopy__(self, memo: Any) -> Any:
            return self  # the SDK copies its config per call: share the pool and the TLS context

    return NovaCrtTransport


_sdk: Sdk | None = None
_sdk_lock = threading.Lock()
_preload: threading.Thread | None = None
_sdk_import_lock = threading.Lock()


def load_sdk_now() -> Sdk:
    """The SDK, imported here and now if it is not yet (blocking: not for the event loop)."""
    return _load_sdk_sync()


def _load_sdk_sync() -> Sdk:
    global _sdk
    with _sdk_import_lock:
        if _sdk is None:
            _sdk = Sdk()
        return _sdk


def preload_sdk() -> None:
    """Start importing the SDK in a background thread, so that the first ``connect()`` (whose time is bounded
    by ``connect_timeout``) finds it loaded or nearly so. The thread ends with the import."""
    global _preload
    with _sdk_lock:
        if _sdk is not None or _preload is not None:
            return
        _preload = threading.Thread(target=_load_sdk_sync, name="realtime-nova-sdk-import", daemon=True)
    _preload.start()


async def load_sdk() -> Sdk:
    """The SDK, imported in a worker thread the first time (about half a second of imports)."""
    if _sdk is not None:
        return _sdk
    return await asyncio.to_thread(_load_sdk_sync)


# ------------------------------------------------------------------------------------------ credentials
@dataclass(frozen=True, repr=False)
class Credentials:
    """Explicit AWS credentials; the secret parts stay ``SecretStr`` until a request is signed. Without a
    session token they are long-term IAM keys, which Bedrock accepts as well."""

    access_key_id: str
    secret_access_key: SecretStr
    session_token: SecretStr | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key_id='{_masked(self.access_key_id)}', secret_access_key='**********')"

    def secrets(self) -> tuple[str, ...]:
        # the access key id is no secret to AWS, but it names the key: kept out of logs like the rest
        values = [self.access_key_id, self.secret_access_key.get_secret_value()]
        if self.session_token is not None:
            values.append(self.session_token.get_secret_value())
        return tuple(v for v in values if v)


def _masked(key_id: str) -> str:
    return key_id[:4] + "****" if len(key_id) > 8 else "****"


class _StaticResolver:
    """A smithy identity resolver over :class:`Credentials` whose repr shows no secret."""

    def __init__(self, sdk: Sdk, credentials: Credentials) -> None:
        self._credentials = credentials
        token = credentials.session_token.get_secret_value() if credentials.session_token else None
        # Built once: the SDK asks for the identity on every signed event (50 times a second).
        self._identity = sdk.Identity(
            access_key_id=credentials.access_key_id,
            secret_access_key=credentials.secret_access_key.get_secret_value(),
            session_token=token or None,
        )

    async def get_identity(self, *, properties: Any) -> Any:
        return self._identity

    def __repr__(self) -> str:
        return f"<NovaCredentialsResolver {_masked(self._credentials.access_key_id)}>"


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


# ------------------------------------------------------------------------------------------ the client
@dataclass(frozen=True)
class ClientSettings:
    """Where and how to reach Bedrock (no secrets but in ``credentials``)."""

    region: str | None
    endpoint_uri: str | None
    credentials: Credentials | None
    profile: str | None
    ca_file: str | None
    connect_timeout: float
    keepalive: float


class NovaClient:
    """One SDK client (and one awscrt HTTP/2 connection) per session; every stream of the session,
    including the next one opened during a renewal, multiplexes on it."""

    def __init__(self, settings: ClientSettings, *, tls_checked: bool = False) -> None:
        self._settings = settings
        self._client: Any = None
        self._transport: Any = None
        self._sdk: Sdk | None = None
        self._secrets: tuple[str, ...] = settings.credentials.secrets() if settings.credentials else ()
        self._endpoint: tuple[str, int] | None = None
        self._checked_tls = tls_checked
        self._closed = False

    @property
    def sdk(self) -> Sdk:
        assert self._sdk is not None, "open a stream first"
        return self._sdk

    async def _ensure(self) -> tuple[Sdk, Any]:
        if self._client is not None and self._sdk is not None:
            return self._sdk, self._client
        settings = self._settings
        sdk = await load_sdk()
        tls_ctx = await asyncio.to_thread(sdk.tls_context, settings.ca_file)
        transport = sdk.transport_class(
            eventloop=sdk.eventloop,
            client_config=sdk.crt.AWSCRTHTTPClientConfig(force_http_2=True),
            tls_ctx=tls_ctx,
            socket_options=sdk.socket_options(settings.connect_timeout, settings.keepalive),
        )
        overrides: dict[str, Any] = {"transport": transport}
        if settings.region:
            overrides["region"] = settings.region
        if settings.endpoint_uri:
            overrides["endpoint_uri"] = settings.endpoint_uri
        if settings.credentials is not None:
            overrides["aws_credentials_identity_resolver"] = _StaticResolver(sdk, settings.credentials)
        try:
            config = await sdk.Config.resolve(profile=settings.profile, **overrides)
        except Exception as exc:
            await transport.close()
            raise ConfigurationError(f"invalid AWS configuration: {exc}", provider=PROVIDER) from None
        if config.region is None and not settings.endpoint_uri:
            config.region = "us-east-1"
        if settings.endpoint_uri:
            parts = urlsplit(settings.endpoint_uri)
            self._endpoint = (parts.hostname or "", parts.port or 443)
        else:
            self._endpoint = (f"bedrock-runtime.{config.region}.amazonaws.com", 443)
        _register_secrets(self._secrets)
        self._sdk, self._transport, self._client = sdk, transport, sdk.Client(config=config)
        return sdk, self._client

    async def open_stream(self, model_id: str) -> Any:
        """Start one bidirectional stream and return the SDK's duplex stream (the request is on its way)."""
        if self._closed:
            raise ConnectionFailedError("the Nova client is closed", provider=PROVIDER, recoverable=False)
        sdk, client = await self._ensure()
        try:
            return await client.invoke_model_with_bidirectional_stream(sdk.OperationInput(model_id=model_id))
        except Exception as exc:
            raise map_error(exc, during="open stream") from None

    async def prepare(self) -> None:
        """Load the SDK and build the client (before the first stream)."""
        await self._ensure()

    @property
    def tls_unchecked(self) -> bool:
        return not self._checked_tls and self._endpoint is not None

    async def check_tls(self, tcp_up: asyncio.Event) -> None:
        """Fail fast with a TLS error when the endpoint's certificate does not verify (once per client).

        ``tcp_up`` is set once the TCP connection is made (or could not be): the stream's own connection
        starts then, so a path that is dead for the first connection only (a proxy's fault) hits this
        check, never a connection awscrt could not abort. Returns quietly on anything that is not a verdict
        about the certificate (the stream's own connect reports those).
        """
        endpoint = self._endpoint
        if self._checked_tls or endpoint is None:
            tcp_up.set()
            return
        self._checked_tls = True
        host, port = endpoint
        loop = asyncio.get_running_loop()
        try:
            context = await asyncio.to_thread(_ssl_context, self._settings.ca_file)
            transport, protocol = await loop.create_connection(asyncio.Protocol, host, port)
        except OSError as exc:
            log.debug("nova: TLS pre-check could not connect: %r", exc)
            return
        finally:
            tcp_up.set()
        try:
            transport = await loop.start_tls(transport, protocol, context, server_hostname=host) or transport
        except ssl.SSLCertVerificationError as exc:
            raise tls_failure(exc.verify_message or str(exc), verification=True) from None
        except (OSError, ssl.SSLError) as exc:
            log.debug("nova: TLS pre-check did not decide: %r", exc)
        finally:
            transport.close()

    async def probe(self) -> None:
        """One small request on the stream's HTTP/2 connection; returns when any response arrived.

        :raises RealtimeError: the connection failed (the caller bounds the wait: a dead path never answers).
        """
        sdk, transport = self._sdk, self._transport
        destination = getattr(transport, "destination", None)
        if sdk is None or transport is None or destination is None:
            return
        uri = sdk.URI(host=destination.host, port=destination.port, scheme=destination.scheme, path="/ping")
        request = sdk.HTTPRequest(method="GET", destination=uri, fields=sdk.Fields(), body=b"")
        try:
            response = await transport.send(request)
            async for _ in response.chunks():
                pass
        except Exception as exc:
            raise map_error(exc, during="liveness probe") from None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        client, self._client = self._client, None
        transport, self._transport = self._transport, None
        if client is not None:
            _release_secrets(self._secrets)
            try:
                await client.close()
            except Exception as exc:
                log.debug("closing the Bedrock client: %r", exc)
        writers = [t for t in (transport.writers if transport is not None else ()) if not t.done()]
        if writers:  # awscrt's own tasks end once their streams are gone: leave none behind
            await asyncio.wait(writers, timeout=1.0)


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    # the same trust awscrt is given: the system store, or only ca_file
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    return context
