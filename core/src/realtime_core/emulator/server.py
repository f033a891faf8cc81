"""The loopback server harness every provider emulator builds on.

:class:`EmulatorServer` gives an emulator its lifecycle (``async with``, port 0 on 127.0.0.1, clean
shutdown), optional TLS with a run-time CA, a :class:`ScenarioPlayer`, a log of every client message so tests
can assert on what a client sent, the facts and audio counts the conformance kit reads, its open
:class:`~realtime_core.emulator.EmulatorConnection` objects, and :meth:`~EmulatorServer.connection_info`.
:class:`WebEmulator` adds an aiohttp application for WebSocket and HTTP endpoints; emulators with another
transport (HTTP/2) implement ``_serve`` themselves.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from ..audio import PcmData
from ..errors import ConfigurationError
from .engine import ScenarioPlayer
from .facts import AUDIO_ACCOUNTING, FACTS, AudioTally, Fact
from .faults import LEGACY_FAULT_KINDS, LEGACY_FAULT_PHASES
from .info import ConnectionInfo, credentials_in
from .latency import LatencyProfile, resolve_latency
from .scenario import Scenario
from .tls import TestCertificateAuthority, shared_test_ca

if TYPE_CHECKING:
    from aiohttp import web

    from .connection import EmulatorConnection
    from .websocket import WebSocketConnection

log = logging.getLogger("realtime_core.emulator")

__all__ = ["FACTS", "EmulatorServer", "Fact", "ReceivedMessage", "WebEmulator"]

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
    :param log_limit: keep at most this many received (and sent) messages.
    :param latency: how long replies take: a :class:`LatencyProfile` or a preset name (``"none"``,
        ``"realistic"``); None: the scenario's ``latency``, else none.
    :raises ConfigurationError: when the scenario has a fault kind or phase this emulator cannot inject.
    """

    provider: ClassVar[str] = "unknown"
    output_sample_rate: ClassVar[int] = 24000
    interrupt_facts: ClassVar[tuple[str, ...]] = ()
    """Facts the provider's protocol requires after a *local* ``interrupt()`` during a reply
    (e.g. ``("cancel", "truncate")`` for OpenAI; empty when the protocol has no such message)."""
    observes: ClassVar[frozenset[str]] = frozenset()
    """The facts (:data:`FACTS`) and audio counts (:data:`AUDIO_ACCOUNTING`) this emulator's protocol lets it
    produce. The kit skips, with a reason, a check whose observation is not listed (empty: not declared)."""
    fault_kinds: ClassVar[frozenset[str]] = LEGACY_FAULT_KINDS
    """The fault kinds this emulator injects (:data:`~realtime_core.emulator.FAULT_KINDS`); a scenario with
    another kind is refused at construction."""
    fault_phases: ClassVar[frozenset[str]] = LEGACY_FAULT_PHASES
    """The turn phases where it fires ``at_turn`` faults (:data:`~realtime_core.emulator.FAULT_PHASES`)."""
    sent_log_limit: ClassVar[int] = 2000
    """Server events kept in :attr:`sent_log` (they carry reply audio: keep long sessions' memory flat)."""

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int = 20000,
        latency: LatencyProfile | str | None = None,
    ) -> None:
        self.scenario = scenario or Scenario()
        self._check_scenario()
        self.latency = resolve_latency(latency if latency is not None else self.scenario.latency)
        self.player = ScenarioPlayer(self.scenario, self.output_sample_rate, latency=self.latency)
        self.tls = tls
        self.host = host
        self.port = port
        self._advertised: tuple[str, int] | None = None
        self.received: deque[ReceivedMessage] = deque(maxlen=log_limit)
        self.sent_log: deque[tuple[int, Any]] = deque(maxlen=min(log_limit, self.sent_log_limit))
        """``(connection, event)`` for the last server events framework connections sent, oldest first."""
        self.facts: list[Fact] = []
        self.audio_in: dict[int, AudioTally] = {}
        """User audio received per connection, counted exactly (see :meth:`account_audio_in`)."""
        self.audio_out: dict[str, AudioTally] = {}
        """Agent audio sent per response id, counted exactly (see :meth:`account_audio_out`)."""
        self.open_connections: dict[int, EmulatorConnection[Any]] = {}
        """The framework connections that are open, by number."""
        self.internal_errors: list[str] = []
        """Failures of the emulator itself (a bug, not a client error); a correct run leaves it empty."""
        self._audio_ms = 0.0
        self._audio_waiters: list[tuple[float, asyncio.Future[None]]] = []
        self.connections = 0
        self._ca: TestCertificateAuthority | None = shared_test_ca() if tls else None
        self._waiters: list[tuple[Callable[[ReceivedMessage], bool], int, asyncio.Future[list[ReceivedMessage]]]] = []
        self._ids = itertools.count(1)
        self._started = False

    def _check_scenario(self) -> None:
        cls = type(self)
        unknown = sorted(cls.observes - set(FACTS) - set(AUDIO_ACCOUNTING))
        if unknown:
            raise ConfigurationError(f"{cls.__name__}.observes names unknown facts: {', '.join(unknown)}")
        for fault in self.scenario.faults:
            if fault.kind not in cls.fault_kinds:
                raise ConfigurationError(
                    f"the {cls.provider} emulator cannot inject {fault.kind!r} faults "
                    f"(it injects: {', '.join(sorted(cls.fault_kinds))})"
                )
            if fault.at_turn is not None and fault.phase not in cls.fault_phases:
                raise ConfigurationError(
                    f"the {cls.provider} emulator has no {fault.phase!r} phase "
                    f"(it has: {', '.join(sorted(cls.fault_phases))})"
                )

    def can_observe(self, name: str) -> bool:
        """Whether this emulator declares it can produce the fact or audio count ``name``."""
        return name in type(self).observes

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
        """Close every connection (their tasks are cancelled and awaited), then stop listening."""
        if not self._started:
            return
        self._started = False
        conns = list(self.open_connections.values())
        await asyncio.gather(*(c.close(1001, "emulator shutting down") for c in conns), return_exceptions=True)
        await asyncio.gather(*(c.shutdown() for c in conns), return_exceptions=True)
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
    def advertise(self, host: str | None, port: int | None = None) -> None:
        """Point :meth:`session_options`, :attr:`url` and :meth:`connection_info` at ``host:port`` (e.g. a
        TCP proxy in front of the emulator) instead of the bound address; ``advertise(None)`` undoes it.
        With TLS the host must be one the certificate names (127.0.0.1, localhost, ::1)."""
        self._advertised = None if host is None else (host, port if port is not None else self.port)

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` clients are told to use: the advertised one, else the bound one."""
        return self._advertised or (self.host, self.port)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def _netloc(self) -> str:
        host, port = self.address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self._netloc}"

    @property
    def ws_base_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self._netloc}"

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

    def urls(self) -> dict[str, str]:
        """Every endpoint by what it is for (override when there is more than :attr:`url`)."""
        return {"endpoint": self.url}

    def credentials(self) -> dict[str, str]:
        """Every credential this emulator accepts, **unmasked** (fixed test values). The default takes the
        credential-looking entries of :meth:`session_options`; override it to list all of them (ephemeral
        tokens, secondary keys...)."""
        return credentials_in(self.session_options())

    def connection_info(self) -> ConnectionInfo:
        """Everything an outside client needs to connect: URLs, the CA file, every credential."""
        return ConnectionInfo(
            provider=self.provider,
            urls=self.urls(),
            ca_file=self.ca_file,
            credentials=self.credentials(),
            session_options=self.session_options(),
            latency=self.latency,
        )

    # ------------------------------------------------------------------ connections
    def new_connection(self) -> int:
        self.connections += 1
        return self.connections

    def next_id(self, prefix: str) -> str:
        """A new id, unique in this emulator: ``resp_000001``, ``item_000002``..."""
        return f"{prefix}_{next(self._ids):06d}"

    def live_connection(self, number: int | None = None) -> EmulatorConnection[Any]:
        """An open framework connection (the newest by default). :raises LookupError: when none is open."""
        if not self.open_connections:
            raise LookupError("no open connection")
        try:
            return self.open_connections[number if number is not None else max(self.open_connections)]
        except KeyError:
            raise LookupError(f"connection {number} is not open") from None

    def log_sent(self, connection: int, event: Any) -> None:
        """Called for every server event a framework connection sends (raw text for hostile frames)."""
        self.sent_log.append((connection, event))

    def internal_error(self, connection: int, message: str) -> None:
        """The emulator itself failed (a bug): logged, kept in :attr:`internal_errors`, recorded."""
        log.error("%s emulator, connection %d: %s", self.provider, connection, message)
        self.internal_errors.append(message)
        self.record("emulator.internal_error", {"message": message}, connection)

    # ------------------------------------------------------------------ audio accounting
    def account_audio_in(self, connection: int, pcm: PcmData) -> None:
        """Count user audio received on ``connection`` (at the rate it arrived in), exactly."""
        self.audio_in.setdefault(connection, AudioTally()).add(pcm)
        self.audio_received_ms += pcm.frames * 1000.0 / pcm.sample_rate

    def account_audio_out(self, response_id: str, pcm: PcmData) -> None:
        """Count agent audio sent for ``response_id`` (at the rate it was sent at), exactly."""
        self.audio_out.setdefault(response_id, AudioTally()).add(pcm)

    # ------------------------------------------------------------------ the message log

    def record(self, kind: str, payload: Any, connection: int) -> None:
        self.received.append(ReceivedMessage(kind, payload, connection, time.monotonic()))
        if self._waiters:
            self._check_waiters()

    @property
    def audio_received_ms(self) -> float:
        """Milliseconds of user audio received over all connections (:meth:`account_audio_in` adds to it)."""
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

    async def serve_websocket(
        self,
        request: web.Request,
        connection: Callable[[Self, web.Request, web.WebSocketResponse, int], WebSocketConnection[Any]],
        **ws_options: Any,
    ) -> web.WebSocketResponse:
        """Upgrade ``request``, make its connection (``connection(self, request, ws, number)``: usually the
        :class:`~realtime_core.emulator.WebSocketConnection` subclass itself) and run it until it ends. ``ws_options`` go to :class:`aiohttp.web.WebSocketResponse` (``protocols``, ``max_msg_size``
        (default 16 MiB)...). Check credentials before calling this: refusing an upgrade is an HTTP answer."""
        from aiohttp import web

        ws_options.setdefault("max_msg_size", 16 * 1024 * 1024)
        ws = web.WebSocketResponse(**ws_options)
        await ws.prepare(request)
        self.track(ws)
        try:
            await connection(self, request, ws, self.new_connection()).run()
        finally:
            self.untrack(ws)
        return ws

    def track(self, ws: Any) -> None:
        self._sockets.add(ws)

    def untrack(self, ws: Any) -> None:
        self._sockets.discard(ws)
