"""JSON over WebSocket, the way every WebSocket provider needs it.

:class:`WebSocketTransport` opens the socket (TLS verified, with an optional private CA for emulators),
maps handshake failures to typed errors (401/403 → :class:`AuthenticationError`, 429 →
:class:`RateLimitedError`, refused/timeout → :class:`ConnectionFailedError`), and runs a receive loop in a
task owned by the session in which:

* a frame that is not a JSON object (or nested too deeply to parse) becomes a :class:`ProtocolError`
  error event, and the loop goes on;
* an exception in the plugin's handler becomes an error event, and the loop goes on;
* an unexpected close goes to ``SessionCore.connection_lost`` with the error the plugin's ``classify``
  function derived from the close code, so core decides whether to reconnect; so does anything else
  that ends the loop, so a session never stays "connected" over a dead receive loop.

Liveness: the socket pings every ``0.4 * liveness_timeout`` seconds and gives up when no pong comes within
another ``0.4 * liveness_timeout``, closing without waiting more than ``0.2 * liveness_timeout`` for an
answer (so a black-holed path is detected within ``liveness_timeout``); a send that
cannot drain within ``liveness_timeout`` fails with :class:`ConnectionFailedError` and aborts the socket.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    ProtocolError,
    ProviderError,
    RateLimitedError,
    RealtimeError,
    redact,
)

if TYPE_CHECKING:
    from .provider import SessionCore

__all__ = ["CloseClassifier", "WebSocketTransport", "classify_close", "ssl_context", "tls_context_for"]

log = logging.getLogger("realtime_core.transport")

Handler = Callable[[dict[str, Any]], Awaitable[None] | None]
_T = TypeVar("_T")
CloseClassifier = Callable[[int | None, str], RealtimeError]

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-goog-api-key", "x-api-key", "api-key", "cookie"})


class _RedactHandshake(logging.Filter):
    """websockets logs each handshake header and the request path at DEBUG: keep credentials out of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            if len(args) == 2 and record.msg in ("> %s: %s", "< %s: %s") and str(args[0]).lower() in _SECRET_HEADERS:
                record.args = (args[0], "***")
            elif len(args) == 1 and record.msg == "> GET %s HTTP/1.1":
                record.args = (redact(str(args[0])),)
        return True


_ws_client_log = logging.getLogger("websockets.client")
if not any(isinstance(f, _RedactHandshake) for f in _ws_client_log.filters):
    _ws_client_log.addFilter(_RedactHandshake())


def ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client TLS context; ``ca_file`` adds a private CA (e.g. an emulator's) to trust."""
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


def tls_context_for(url: str, ca_file: str | None) -> ssl.SSLContext | None:
    """``None`` for plain ``ws://``/``http://`` URLs, a verifying context otherwise."""
    if url.startswith(("wss://", "https://")):
        return ssl_context(ca_file)
    return None


def classify_close(code: int | None, reason: str, *, provider: str | None = None) -> RealtimeError:
    """A default mapping from WebSocket close codes to errors.

    Going away, abnormal closure and server-side failures (1001, 1006, 1011-1014) are recoverable; policy
    and protocol violations (1002, 1003, 1007, 1008, 1009, 1010) are not: reconnecting would fail again.
    """
    text = f"connection closed by the server (code {code}{': ' + reason if reason else ''})"
    if code in (1002, 1003, 1007, 1009, 1010):
        return ProtocolError(text, code=str(code), provider=provider, recoverable=False)
    if code == 1008:
        return ProviderError(text, code=str(code), provider=provider, recoverable=False)
    return ConnectionFailedError(text, code=None if code is None else str(code), provider=provider)


class WebSocketTransport:
    """One WebSocket connection of a session.

    :param core: the owning session's :class:`~realtime_core.SessionCore` (``self._core`` in a provider):
        it receives error events and connection-loss notices, and owns the receive task.
    :param classify: turns a close code and reason into the error reported to core.
    """

    def __init__(
        self, core: SessionCore, *, classify: CloseClassifier | None = None, liveness_timeout: float | None = None
    ) -> None:
        self.core = core
        self.provider = core.provider_name
        self.liveness_timeout = liveness_timeout if liveness_timeout is not None else core.liveness_timeout
        self._classify: CloseClassifier = classify or self._default_classify
        self.ws: ClientConnection | None = None
        self.closing = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._receiver: asyncio.Task[None] | None = None

    def _default_classify(self, code: int | None, reason: str) -> RealtimeError:
        return classify_close(code, reason, provider=self.provider)

    async def open(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        ca_file: str | None = None,
        subprotocols: Sequence[str] | None = None,
        open_timeout: float = 10.0,
        max_size: int | None = None,
    ) -> ClientConnection:
        """Open the socket. Never logs ``headers`` (they hold the key).

        :raises AuthenticationError: the server answered 401 or 403.
        :raises RateLimitedError: the server answered 429.
        :raises ConnectionFailedError: refused, unreachable, timed out, TLS failure or other handshake error.
        """
        if not url.startswith(("ws://", "wss://")):
            raise ConfigurationError(f"WebSocket URL must start with ws:// or wss://, got {redact(url)!r}")
        try:
            ws = await websockets.connect(
                url,
                additional_headers=dict(headers or {}),
                ssl=tls_context_for(url, ca_file),
                subprotocols=[websockets.Subprotocol(p) for p in subprotocols] if subprotocols else None,
                open_timeout=open_timeout,
                max_size=max_size,
                # ping + pong wait + the closing handshake a dead path never answers: within liveness_timeout
                ping_interval=self.liveness_timeout * 0.4,
                ping_timeout=self.liveness_timeout * 0.4,
                close_timeout=min(2.0, self.liveness_timeout * 0.2),
                compression=None,  # audio is incompressible base64; deflate only costs CPU
            )
        except InvalidStatus as exc:
            raise self._status_error(exc) from None
        except ssl.SSLCertVerificationError as exc:
            raise ConnectionFailedError(
                f"TLS certificate verification failed for {redact(url)}: {exc.verify_message}. "
                "If this is a private server (an emulator), pass its CA with ca_file=...",
                provider=self.provider,
                recoverable=False,
            ) from None
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise ConnectionFailedError(
                f"could not open {redact(url)}: {type(exc).__name__}: {exc}", provider=self.provider
            ) from None
        self.ws = ws
        return ws

    def _status_error(self, exc: InvalidStatus) -> RealtimeError:
        status = exc.response.status_code
        body = bytes(exc.response.body or b"")[:300].decode("utf-8", "replace")
        detail = f"HTTP {status} during the WebSocket handshake" + (f": {redact(body)}" if body else "")
        if status in (401, 403):
            return AuthenticationError(detail + "; check the API key", code=str(status), provider=self.provider)
        if status == 429:
            return RateLimitedError(detail, code="429", provider=self.provider)
        if status in (400, 404):
            return ConfigurationError(detail + "; check the URL and model", code=str(status), provider=self.provider)
        return ConnectionFailedError(detail, code=str(status), provider=self.provider, recoverable=status >= 500)

    # ------------------------------------------------------------------ sending
    async def send_json(self, message: Mapping[str, Any]) -> None:
        await self.send_text(json.dumps(message, separators=(",", ":")))

    async def send_utf8(self, data: bytes) -> None:
        """Send already-encoded UTF-8 JSON as a text frame (skips building a str on the audio path)."""
        await self._send(data, True)

    async def send_text(self, text: str) -> None:
        await self._send(text, None)

    async def _send(self, data: str | bytes, text: bool | None) -> None:
        ws = self.ws
        if ws is None:
            raise ConnectionFailedError("not connected", provider=self.provider)
        try:
            if not ws.transport.get_write_buffer_size():
                await ws.send(data, text=text)  # nothing queued: this cannot block on the network
                return
            async with asyncio.timeout(self.liveness_timeout):  # queued data: the path may be dead
                await ws.send(data, text=text)
        except ConnectionClosed as exc:
            raise ConnectionFailedError(
                f"the connection closed while sending (code {exc.rcvd.code if exc.rcvd else None})",
                provider=self.provider,
            ) from None
        except TimeoutError:
            ws.transport.abort()  # the receive loop ends too, and core reconnects
            raise ConnectionFailedError(
                f"could not send for {self.liveness_timeout:g}s: the connection does not drain (dead path?)",
                provider=self.provider,
            ) from None

    # ------------------------------------------------------------------ receiving
    def start(self, handler: Handler) -> asyncio.Task[None]:
        """Run the receive loop in a session-owned task, calling ``handler`` with each JSON object."""
        receiver = self._receiver = self.core.spawn(self._receive(handler), name=f"{self.provider}-receive")
        return receiver

    async def _receive(self, handler: Handler) -> None:
        ws = self.ws
        assert ws is not None
        core = self.core
        is_async = inspect.iscoroutinefunction(handler)
        try:
            async for raw in ws:
                try:
                    decoded: Any = json.loads(raw)
                except (ValueError, RecursionError) as exc:
                    core.emit_error_event(
                        ProtocolError(f"malformed frame from the server ({len(raw)} bytes, not JSON): {exc}", provider=self.provider),
                        context="receive",
                    )
                    continue
                if not isinstance(decoded, dict):
                    core.emit_error_event(
                        ProtocolError(f"malformed frame from the server: expected a JSON object, got {type(decoded).__name__}", provider=self.provider),
                        context="receive",
                    )
                    continue
                message = cast(dict[str, Any], decoded)
                try:
                    if is_async:
                        await handler(message)  # type: ignore[misc]
                    else:
                        result = handler(message)
                        if result is not None:
                            await result
                except RealtimeError as exc:
                    core.emit_error_event(exc, context="receive")
                except Exception as exc:
                    log.exception("%s: error handling a server message", self.provider)
                    kind = message.get("type") or next(iter(message), "?")
                    core.emit_error_event(
                        ProtocolError(f"could not handle a {kind!r} message: {type(exc).__name__}: {exc}", provider=self.provider),
                        context="receive",
                    )
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # never leave a "connected" session over a dead receive loop
            log.exception("%s: the receive loop failed", self.provider)
            if not self.closing:
                self.closing = True
                ws.transport.abort()
                core.connection_lost(
                    ProtocolError(f"the receive loop failed: {type(exc).__name__}: {exc}", provider=self.provider),
                    reason="receive loop failed",
                )
            if not isinstance(exc, Exception):
                raise
            return
        self.close_code = ws.close_code
        self.close_reason = ws.close_reason or ""
        if self.closing:
            return
        error = self._classify(self.close_code, self.close_reason)
        core.connection_lost(error, reason=str(error.message))

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable`` (e.g. a "setup complete" future) unless the connection ends first.

        :raises RealtimeError: the close classified by ``classify`` if the socket closes before it completes.
        """
        fut = asyncio.ensure_future(awaitable)
        receiver = self._receiver
        if receiver is None:
            return await fut
        done, _ = await asyncio.wait({fut, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if fut in done:
            return fut.result()
        fut.cancel()
        raise self._classify(self.close_code, self.close_reason)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket without reporting a lost connection; idempotent."""
        self.closing = True
        ws = self.ws
        if ws is not None:
            try:
                await ws.close(code, reason)
            except Exception:  # already gone
                log.debug("closing the websocket failed", exc_info=True)
        receiver = self._receiver
        if receiver is not None and not receiver.done() and receiver is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(receiver), 2.0)
            except (TimeoutError, asyncio.CancelledError):
                receiver.cancel()
            except Exception:  # the loop already reported whatever ended it
                log.debug("receive loop ended with an error", exc_info=True)

    @property
    def is_open(self) -> bool:
        ws = self.ws
        return ws is not None and ws.close_code is None and not self.closing
