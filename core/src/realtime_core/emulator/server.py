"""The loopback server harness every provider emulator builds on.

:class:`EmulatorServer` gives an emulator its lifecycle (``async with``, port 0 on 127.0.0.1, clean
shutdown), optional TLS with a run-time CA, a :class:`ScenarioPlayer`, and a log of every client message
so tests can assert on what a client sent. :class:`WebEmulator` adds an aiohttp application for
WebSocket and HTTP endpoints; emulators with another transport (HTTP/2) implement ``_serve`` themselves.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from .engine import ScenarioPlayer
from .scenario import Scenario
from .tls import TestCertificateAuthority, shared_test_ca

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["FACTS", "EmulatorServer", "Fact", "ReceivedMessage", "WebEmulator"]

FACTS = {
    "text_in": "the client sent user text (data: text)",
    "say": "the client asked the model to speak scripted text (data: text)",
    "response_requested": "the client explicitly asked for a response (manual turn, after tools, text)",
    "tool_result": "a tool result arrived (data: call_id, output)",
    "cancel": "the client cancelled a response (data: response_id)",
    "truncate": "the client said how much of a reply was heard (data: audio_end_ms, sent_ms, item_id)",
    "video_frame": "an image/video frame arrived (data: width, height, size, mime_type)",
    "state_restored": "a new connection restored the conversation (resumption handle or history replay)",
    "barge_in": "the server detected user speech over a reply and cut the reply off",
    "session_finished": "the client ended the session per protocol (data: how)",
}
"""The protocol-neutral facts emulators note, so the conformance kit can check what a provider was told
without knowing its wire protocol. Emulators note only what their protocol actually carries."""


@dataclass(frozen=True, slots=True)
class Fact:
    """A protocol-neutral observation (see :data:`FACTS`)."""

    name: str
    data: dict[str, Any]
    connection: int
    at: float


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A client message as the emulator received it.

    :ivar kind: the message's type name (``"session.update"``, ``"setup"``, ``"audioInput"``...).
    :ivar payload: the decoded message.
    :ivar connection: 1 for the first connection, 2 after a reconnect...
    """

    kind: str
    payload: Any
    connection: int
    at: float


class EmulatorServer(abc.ABC):
    """Base of provider emulators.

    :param scenario: how the fake provider behaves (default: echo).
    :param tls: serve TLS with a certificate from a run-time CA (see :attr:`ca_file`).
    :param host: interface to bind (loopback by default; never expose an emulator).
    :param port: 0 picks a free port.
    :param log_limit: keep at most this many received messages.
    """

    provider: ClassVar[str] = "unknown"
    output_sample_rate: ClassVar[int] = 24000
    interrupt_facts: ClassVar[tuple[str, ...]] = ()
    """Facts the provider's protocol requires after a *local* ``interrupt()`` during a reply
    (e.g. ``("cancel", "truncate")`` for OpenAI; empty when the protocol has no such message)."""

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int = 20000,
    ) -> None:
        self.scenario = scenario or Scenario()
        self.player = ScenarioPlayer(self.scenario, self.output_sample_rate)
        self.tls = tls
        self.host = host
        self.port = port
        self.received: deque[ReceivedMessage] = deque(maxlen=log_limit)
        self.facts: list[Fact] = []
        self._audio_ms = 0.0
        self._audio_waiters: list[tuple[float, asyncio.Future[None]]] = []
        self.connections = 0
        self._ca: TestCertificateAuthority | None = shared_test_ca() if tls else None
        self._waiters: list[tuple[Callable[[ReceivedMessage], bool], int, asyncio.Future[list[ReceivedMessage]]]] = []
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._started:
            return
        self.port = await self._serve()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self._shutdown()

    @abc.abstractmethod
    async def _serve(self) -> int:
        """Start listening; return the bound port."""

    @abc.abstractmethod
    async def _shutdown(self) -> None:
        """Stop listening and close every connection."""

    @abc.abstractmethod
    def session_options(self) -> dict[str, Any]:
        """Keyword arguments that point a session of this provider at this emulator
        (base URL, a test key, ``ca_file``...)."""

    # ------------------------------------------------------------------ addresses
    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def ws_base_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The main endpoint, as printed by ``realtime emulate``."""
        return self.base_url

    @property
    def ca_file(self) -> str | None:
        """Path of the CA certificate to trust when ``tls=True``."""
        return self._ca.ca_file if self._ca else None

    def server_ssl_context(self, *, alpn: list[str] | None = None) -> Any:
        return self._ca.server_context(alpn=alpn) if self._ca else None

    # ------------------------------------------------------------------ the message log
    def new_connection(self) -> int:
        self.connections += 1
        return self.connections

    def record(self, kind: str, payload: Any, connection: int) -> None:
        self.received.append(ReceivedMessage(kind, payload, connection, time.monotonic()))
        if self._waiters:
            self._check_waiters()

    @property
    def audio_received_ms(self) -> float:
        """Milliseconds of user audio received over all connections (emulators add to it)."""
        return self._audio_ms

    @audio_received_ms.setter
    def audio_received_ms(self, value: float) -> None:
        self._audio_ms = value
        if self._audio_waiters:
            still: list[tuple[float, asyncio.Future[None]]] = []
            for target, fut in self._audio_waiters:
                if fut.done():
                    continue
                if value >= target:
                    fut.set_result(None)
                else:
                    still.append((target, fut))
            self._audio_waiters = still

    async def wait_audio(self, total_ms: float, *, timeout: float = 10.0) -> None:
        """Wait until at least ``total_ms`` of audio has been received in all; raises TimeoutError."""
        if self._audio_ms >= total_ms:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._audio_waiters.append((total_ms, fut))
        async with asyncio.timeout(timeout):
            await fut

    def note(self, name: str, connection: int, **data: Any) -> None:
        """Record a protocol-neutral fact (see :data:`FACTS`)."""
        self.facts.append(Fact(name, data, connection, time.monotonic()))
        self.record(f"fact:{name}", data, connection)

    def facts_named(self, name: str) -> list[Fact]:
        return [f for f in self.facts if f.name == name]

    async def wait_fact(
        self, name: str, predicate: Callable[[dict[str, Any]], bool] | None = None, *, timeout: float = 10.0
    ) -> Fact:
        """Wait for a fact (optionally matching ``predicate`` on its data); raises TimeoutError."""
        kind = f"fact:{name}"
        found = await self.wait_for(
            lambda m: m.kind == kind and (predicate is None or predicate(m.payload)), timeout=timeout
        )
        last = found[-1]
        return Fact(name, last.payload, last.connection, last.at)

    def _check_waiters(self) -> None:
        pending: list[tuple[Callable[[ReceivedMessage], bool], int, asyncio.Future[list[ReceivedMessage]]]] = []
        for pred, count, fut in self._waiters:
            if fut.done():
                continue
            found = [m for m in self.received if pred(m)]
            if len(found) >= count:
                fut.set_result(found)
            else:
                pending.append((pred, count, fut))
        self._waiters = pending

    def messages(self, kind: str | None = None, connection: int | None = None) -> list[ReceivedMessage]:
        """Received messages, optionally of one kind and/or one connection."""
        return [
            m
            for m in self.received
            if (kind is None or m.kind == kind) and (connection is None or m.connection == connection)
        ]

    async def wait_for(
        self, predicate: Callable[[ReceivedMessage], bool] | str, *, timeout: float = 10.0, count: int = 1
    ) -> list[ReceivedMessage]:
        """Wait until ``count`` received messages match (a kind name or a predicate); raises TimeoutError."""
        pred: Callable[[ReceivedMessage], bool] = (
            (lambda m: m.kind == predicate) if isinstance(predicate, str) else predicate
        )
        found = [m for m in self.received if pred(m)]
        if len(found) >= count:
            return found
        fut: asyncio.Future[list[ReceivedMessage]] = asyncio.get_running_loop().create_future()
        self._waiters.append((pred, count, fut))
        async with asyncio.timeout(timeout):
            return await fut


class WebEmulator(EmulatorServer):
    """An emulator served by aiohttp (WebSocket upgrade + plain HTTP routes)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runner: Any = None
        self._sockets: set[Any] = set()

    @abc.abstractmethod
    def setup_routes(self, app: web.Application) -> None:
        """Add the provider's routes."""

    async def _serve(self) -> int:
        from aiohttp import web

        app = web.Application(client_max_size=64 * 1024 * 1024)
        self.setup_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.server_ssl_context())
        await site.start()
        server = site._server  # pyright: ignore[reportPrivateUsage]
        assert server is not None
        return int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"emulator shutting down")
        self._sockets.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def track(self, ws: Any) -> None:
        self._sockets.add(ws)

    def untrack(self, ws: Any) -> None:
        self._sockets.discard(ws)
