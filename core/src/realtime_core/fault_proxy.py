"""A TCP proxy that injects network faults between a realtime client and its server.

:class:`FaultProxy` listens on 127.0.0.1, forwards every connection it accepts to one upstream address, and
on request cuts, resets, truncates, stalls, black-holes, delays or refuses. It works on bytes, below TLS
and HTTP, so it serves ``ws://``, ``wss://`` and HTTP/2 over TLS alike: point the client at the proxy
(:meth:`FaultProxy.url_for`) and the proxy at the server (an emulator or anything else)::

    async with ReferenceEmulator() as emulator, FaultProxy(emulator.host, emulator.port) as proxy:
        session = ReferenceRealtime(**{**emulator.session_options(), "url": proxy.url_for(emulator.url)})
        ...
        proxy.cut()            # every live connection ends with a FIN on both sides
        proxy.refuse(2)        # the next two connection attempts are closed at once

Every fault can hit the live connections (the default) and/or be armed for the next ``upcoming``
connections, which get it as soon as their upstream side is open. Counters (:class:`Traffic`, ``accepted``,
``refused``...) and the ``wait_*`` methods let tests synchronise on what really went through, never on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Self, get_args
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigurationError

__all__ = ["Direction", "FaultProxy", "ProxyConnection", "Traffic"]

log = logging.getLogger("realtime_core.fault_proxy")

Direction = Literal["upstream", "downstream", "both"]
"""``"upstream"`` is client → server, ``"downstream"`` server → client."""

_CHUNK = 65536
_CUT_GRACE = 5.0  # seconds a cut connection waits for the peers to close after our FIN, before aborting


# ---------------------------------------------------------------------------------------------- validation
def _directions(direction: object) -> tuple[Literal["upstream", "downstream"], ...]:
    if direction == "both":
        return ("upstream", "downstream")
    if direction in ("upstream", "downstream"):
        return (direction,)
    raise ConfigurationError(f"direction must be one of {', '.join(get_args(Direction))}; got {direction!r}")


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name} must be an integer >= 0; got {value!r}")
    return value


def _duration(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def _port(name: str, value: object, *, allow_zero: bool) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 65535:
        raise ConfigurationError(f"{name} must be an integer from {low} to 65535; got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------- counters
@dataclass
class Traffic:
    """Bytes of one direction, for one connection or in total.

    :ivar received: read from the sending side.
    :ivar forwarded: written to the receiving side.
    :ivar dropped: discarded by a fault (black hole, beyond a truncation, pending when cut or reset).
    """

    received: int = 0
    forwarded: int = 0
    dropped: int = 0

    @property
    def held(self) -> int:
        """Received but neither forwarded nor dropped yet (stalled or delayed in the proxy)."""
        return self.received - self.forwarded - self.dropped


class _End(enum.Enum):
    """What a pipe's source did instead of sending more data; delivered in order, like data."""

    EOF = "eof"
    RESET = "reset"


# ---------------------------------------------------------------------------------------------- one direction
class _Pipe:
    """One direction of a connection. It reads as fast as data comes (a stall buffers rather than pushing
    back on TCP) and delivers in order, applying the direction's faults at delivery time."""

    def __init__(
        self, traffic: Traffic, total: Traffic, *, notify: Callable[[], None], end: Callable[[str], None]
    ) -> None:
        self._traffic = (traffic, total)
        self._notify = notify
        self._end = end  # "eof" once the close was passed on, or "cut" / "reset" to end the connection
        self._queue: deque[tuple[bytes | _End, float]] = deque()
        self._wake = asyncio.Event()
        self._resume_timer: asyncio.TimerHandle | None = None
        self.stalled = False
        self.black_hole = False
        self.delay = 0.0
        self.budget: int | None = None
        self.finished = False

    def _tally(self, *, received: int = 0, forwarded: int = 0, dropped: int = 0) -> None:
        for traffic in self._traffic:
            traffic.received += received
            traffic.forwarded += forwarded
            traffic.dropped += dropped
        self._notify()

    def changed(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ faults
    def stall(self, seconds: float | None) -> None:
        self.stalled = True
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        if seconds is not None:
            self._resume_timer = asyncio.get_running_loop().call_later(seconds, self.resume)

    def resume(self) -> None:
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        self.stalled = False
        self.changed()

    def restore(self) -> None:
        self.black_hole = False
        self.delay = 0.0
        self.budget = None
        self.resume()

    def discard(self) -> None:
        """Drop what is still queued (the connection is ending)."""
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        pending = sum(len(item) for item, _ in self._queue if isinstance(item, bytes))
        self._queue.clear()
        if pending:
            self._tally(dropped=pending)

    def count_dropped(self, n: int) -> None:
        self._tally(received=n, dropped=n)

    # ------------------------------------------------------------------ the two loops
    async def read(self, source: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await source.read(_CHUNK)
            except OSError:
                self._queue.append((_End.RESET, loop.time()))
                self.changed()
                return
            self._queue.append((data or _End.EOF, loop.time()))
            if data:
                self._tally(received=len(data))
            self.changed()
            if not data:
                return

    def _hold(self, now: float) -> float | None:
        """Seconds the head of the queue must still wait (None: until something changes)."""
        if not self._queue:
            return None
        item, arrived = self._queue[0]
        if self.black_hole:
            return 0.0 if isinstance(item, bytes) else None  # data vanishes; a FIN or RST never arrives
        if self.stalled:
            return None
        return max(0.0, arrived + self.delay - now)

    async def _next(self) -> bytes | _End:
        loop = asyncio.get_running_loop()
        while True:
            hold = self._hold(loop.time())
            if hold is not None and hold <= 0:
                return self._queue.popleft()[0]
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(hold):
                    await self._wake.wait()

    async def deliver(self, sink: asyncio.StreamWriter) -> None:
        while True:
            item = await self._next()
            if item is _End.RESET:
                self._end("reset")
                return
            if item is _End.EOF:
                with contextlib.suppress(OSError):
                    if sink.can_write_eof():
                        sink.write_eof()
                self.finished = True
                self._end("eof")
                return
            assert isinstance(item, bytes)
            if self.black_hole:
                self._tally(dropped=len(item))
                continue
            data = item if self.budget is None else item[: self.budget]
            try:
                sink.write(data)
                await sink.drain()
            except OSError:
                self._tally(dropped=len(item))
                self._end("reset")  # the receiving side is gone: tell the sending side the hard way
                return
            self._tally(forwarded=len(data), dropped=len(item) - len(data))
            if self.budget is not None:
                self.budget -= len(data)
                if self.budget == 0:
                    self._end("cut")
                    return


# ---------------------------------------------------------------------------------------------- one connection
class ProxyConnection:
    """One client connection forwarded by a :class:`FaultProxy`, with its own counters and faults.

    The fault methods do what the :class:`FaultProxy` methods of the same names do, to this connection only.

    :ivar number: 1 for the first connection the proxy forwarded, 2 for the next...
    :ivar upstream: client → server bytes of this connection.
    :ivar downstream: server → client bytes of this connection.
    :ivar close_reason: ``None`` while open; then ``"closed"`` (both peers closed), ``"cut"``, ``"reset"``
        (by a fault, a truncation or a peer's reset) or ``"stopped"`` (the proxy stopped).
    """

    def __init__(
        self,
        number: int,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        totals: tuple[Traffic, Traffic],
        notify: Callable[[], None],
    ) -> None:
        self.number = number
        self.upstream = Traffic()
        self.downstream = Traffic()
        self.close_reason: str | None = None
        self._client = client
        self._server = server
        self._notify = notify
        self._pipes = {
            "upstream": _Pipe(self.upstream, totals[0], notify=notify, end=self._end),
            "downstream": _Pipe(self.downstream, totals[1], notify=notify, end=self._end),
        }
        self._ending: str | None = None
        self._ended = asyncio.Event()

    @property
    def open(self) -> bool:
        return self.close_reason is None

    def _end(self, how: str) -> None:
        if how == "eof":  # one side's close was passed on; the connection is over when both were
            if not all(pipe.finished for pipe in self._pipes.values()):
                return
            how = "closed"
        if self._ending is None:
            self._ending = how
            self._ended.set()

    # ------------------------------------------------------------------ faults
    def cut(self) -> None:
        """End the connection cleanly: a FIN to both peers, whatever is still held is dropped."""
        self._end("cut")

    def reset(self) -> None:
        """End the connection with an RST to both peers (``SO_LINGER`` 0)."""
        self._end("reset")

    def truncate(self, after_bytes: int, direction: Direction = "both") -> None:
        """Forward at most ``after_bytes`` more bytes in ``direction`` (each, for ``"both"``), then cut."""
        budget = _count("after_bytes", after_bytes)
        for name in _directions(direction):
            self._pipes[name].budget = budget
            self._pipes[name].changed()
        if budget == 0:
            self._end("cut")

    def stall(self, seconds: float | None = None, direction: Direction = "both") -> None:
        """Stop delivering in ``direction`` but keep reading; held data goes on :meth:`resume`, :meth:`restore`
        or after ``seconds``."""
        limit = None if seconds is None else _duration("seconds", seconds)
        for name in _directions(direction):
            self._pipes[name].stall(limit)

    def resume(self, direction: Direction = "both") -> None:
        """End a stall in ``direction``: the held data is delivered, in order."""
        for name in _directions(direction):
            self._pipes[name].resume()

    def black_hole(self, direction: Direction = "both") -> None:
        """Silently drop all data in ``direction`` and never pass on a close (a dead path)."""
        for name in _directions(direction):
            self._pipes[name].black_hole = True
            self._pipes[name].changed()

    def delay(self, ms: float, direction: Direction = "both") -> None:
        """Deliver each chunk in ``direction`` ``ms`` after it arrived (order kept; 0 removes the delay)."""
        seconds = _duration("ms", ms) / 1000.0
        for name in _directions(direction):
            self._pipes[name].delay = seconds
            self._pipes[name].changed()

    def restore(self) -> None:
        """Back to normal for new data: no stall (held data is delivered), black hole, delay or truncation."""
        for pipe in self._pipes.values():
            pipe.restore()

    # ------------------------------------------------------------------ running
    async def _run(self) -> None:
        (client_reader, client_writer), (server_reader, server_writer) = self._client, self._server
        up, down = self._pipes["upstream"], self._pipes["downstream"]
        tasks: list[asyncio.Task[None]] = []
        if self._ending is None:  # an armed cut or reset may have ended it already
            tasks = [
                asyncio.create_task(up.read(client_reader), name=f"fault-proxy-{self.number}-up-read"),
                asyncio.create_task(up.deliver(server_writer), name=f"fault-proxy-{self.number}-up-deliver"),
                asyncio.create_task(down.read(server_reader), name=f"fault-proxy-{self.number}-down-read"),
                asyncio.create_task(down.deliver(client_writer), name=f"fault-proxy-{self.number}-down-deliver"),
            ]
        try:
            await self._ended.wait()
            await _cancel(tasks)
            await self._teardown(self._ending or "stopped")
        finally:
            # also when the proxy stops (this task cancelled): nothing survives it
            await _cancel(tasks)
            for _, writer in (self._client, self._server):
                writer.transport.abort()
            for pipe in self._pipes.values():
                pipe.discard()
            self.close_reason = self.close_reason or self._ending or "stopped"
            log.debug("fault proxy: connection %d ended (%s)", self.number, self.close_reason)
            self._notify()

    async def _teardown(self, how: str) -> None:
        for pipe in self._pipes.values():
            pipe.discard()
        writers = (self._client[1], self._server[1])
        if how == "reset":
            for writer in writers:
                _set_rst(writer)
                writer.transport.abort()
            self.close_reason = how
            return
        if how == "cut":
            # A FIN each way, then read and discard until the peers close: closing a socket with unread
            # data makes the kernel send an RST, which would turn the cut into a reset.
            for writer in writers:
                with contextlib.suppress(OSError):
                    if writer.can_write_eof():
                        writer.write_eof()
            drains = [
                asyncio.create_task(_discard(self._client[0], self._pipes["upstream"])),
                asyncio.create_task(_discard(self._server[0], self._pipes["downstream"])),
            ]
            try:
                await asyncio.wait(drains, timeout=_CUT_GRACE)
            finally:
                await _cancel(drains)
        for writer in writers:
            writer.close()
        with contextlib.suppress(TimeoutError, OSError):
            async with asyncio.timeout(_CUT_GRACE):
                for writer in writers:
                    await writer.wait_closed()
        self.close_reason = how

    def __repr__(self) -> str:
        state = "open" if self.open else self.close_reason
        return (
            f"<ProxyConnection #{self.number} {state} up={self.upstream.forwarded}/{self.upstream.dropped} "
            f"down={self.downstream.forwarded}/{self.downstream.dropped} (forwarded/dropped)>"
        )


async def _discard(reader: asyncio.StreamReader, pipe: _Pipe) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(_CHUNK):
            pipe.count_dropped(len(data))


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)


def _set_rst(writer: asyncio.StreamWriter) -> None:
    """Make closing this socket send an RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, with_rst: bool) -> None:
    if with_rst:
        _set_rst(writer)
        return  # the caller aborts the socket
    # FIN first, then wait for the peer's: closing with unread data would send an RST instead
    with contextlib.suppress(OSError):
        writer.write_eof()
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(_CUT_GRACE):
            while await reader.read(_CHUNK):
                pass


@dataclass
class _Armed:
    apply: Callable[[ProxyConnection], None]
    remaining: int


# ---------------------------------------------------------------------------------------------- the proxy
class FaultProxy:
    """A fault-injecting TCP proxy from ``host:port`` to ``upstream_host:upstream_port``.

    :param upstream_host: where connections are forwarded to.
    :param upstream_port: its port.
    :param host: interface to listen on (loopback by default).
    :param port: 0 picks a free port (read :attr:`port` after :meth:`start`).
    :param connect_timeout: seconds to open the upstream side of a connection before giving up on it.

    Use it as ``async with FaultProxy(...) as proxy`` or call :meth:`start` / :meth:`stop` (idempotent;
    stop closes every connection and ends every task of the proxy). The fault methods are plain calls,
    usable at any time; each hits the live connections (``live=True``) and is also armed for the next
    ``upcoming`` connections, which get it as soon as their upstream side is open.

    :ivar upstream: client → server bytes of all connections (:class:`Traffic`).
    :ivar downstream: server → client bytes of all connections.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        connect_timeout: float = 10.0,
    ) -> None:
        if not isinstance(upstream_host, str) or not upstream_host:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"upstream_host must be a host name or address; got {upstream_host!r}")
        self.upstream_host = upstream_host
        self.upstream_port = _port("upstream_port", upstream_port, allow_zero=False)
        self.host = host
        self._port = _port("port", port, allow_zero=True)
        self.connect_timeout = _duration("connect_timeout", connect_timeout)
        if not self.connect_timeout:
            raise ConfigurationError("connect_timeout must be more than 0")
        self.upstream = Traffic()
        self.downstream = Traffic()
        self._accepted = 0
        self._refused = 0
        self._failed = 0
        self._connections: list[ProxyConnection] = []
        self._refusals: deque[bool] = deque()  # one entry per refusal to come: True = with an RST
        self._armed: list[_Armed] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiters: list[asyncio.Future[None]] = []

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._on_accept, self.host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        log.debug("fault proxy %s:%d -> %s:%d", self.host, self._port, self.upstream_host, self.upstream_port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._tasks)
        await _cancel(tasks)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_CUT_GRACE):
                await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        """The port the proxy listens on (the bound one once started)."""
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of the proxy."""
        return (self.host, self._port)

    def url_for(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's (scheme, path and query kept)."""
        if self._server is None:
            raise ConfigurationError("start the FaultProxy before asking for its URL (its port is not known yet)")
        parts = urlsplit(url)
        if not parts.scheme or not parts.netloc:
            raise ConfigurationError(f"not an absolute URL: {url!r}")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return urlunsplit(parts._replace(netloc=f"{host}:{self._port}"))

    # ------------------------------------------------------------------ state
    @property
    def accepted(self) -> int:
        """Connections forwarded so far (their upstream side opened)."""
        return self._accepted

    @property
    def refused(self) -> int:
        """Connection attempts closed on accept by :meth:`refuse`."""
        return self._refused

    @property
    def failed(self) -> int:
        """Connection attempts closed because the upstream could not be reached."""
        return self._failed

    @property
    def open(self) -> int:
        """Connections open right now."""
        return sum(1 for conn in self._connections if conn.open)

    @property
    def connections(self) -> list[ProxyConnection]:
        """Every connection forwarded so far, oldest first, open or not."""
        return list(self._connections)

    def _live(self) -> list[ProxyConnection]:
        return [conn for conn in self._connections if conn.open]

    # ------------------------------------------------------------------ faults
    def cut(self, *, live: bool = True, upcoming: int = 0) -> None:
        """End connections cleanly: a FIN to both peers; data the proxy still holds is dropped."""
        self._apply(lambda c: c.cut(), live, upcoming)

    def reset(self, *, live: bool = True, upcoming: int = 0) -> None:
        """End connections with an RST to both peers (``SO_LINGER`` 0)."""
        self._apply(lambda c: c.reset(), live, upcoming)

    def truncate(
        self, after_bytes: int, direction: Direction = "both", *, live: bool = True, upcoming: int = 0
    ) -> None:
        """Forward only ``after_bytes`` more bytes in ``direction`` (each way, for ``"both"``), then cut."""
        _count("after_bytes", after_bytes)
        _directions(direction)
        self._apply(lambda c: c.truncate(after_bytes, direction), live, upcoming)

    def stall(
        self, seconds: float | None = None, direction: Direction = "both", *, live: bool = True, upcoming: int = 0
    ) -> None:
        """Stop forwarding in ``direction`` but keep reading (the data is held, not lost); the held data is
        delivered in order on :meth:`resume` or :meth:`restore`, or after ``seconds`` if given."""
        if seconds is not None:
            _duration("seconds", seconds)
        _directions(direction)
        self._apply(lambda c: c.stall(seconds, direction), live, upcoming)

    def resume(self, direction: Direction = "both") -> None:
        """End the stalls of the live connections in ``direction``."""
        _directions(direction)
        for conn in self._live():
            conn.resume(direction)

    def black_hole(self, direction: Direction = "both", *, live: bool = True, upcoming: int = 0) -> None:
        """Drop all data in ``direction`` silently and pass on no close from that side either: the dead path
        a keepalive has to detect. The connection stays open until the proxy stops, a cut or reset, or
        :meth:`restore` (after which a close that was held back is passed on)."""
        _directions(direction)
        self._apply(lambda c: c.black_hole(direction), live, upcoming)

    def delay(self, ms: float, direction: Direction = "both", *, live: bool = True, upcoming: int = 0) -> None:
        """Add ``ms`` of latency to every chunk in ``direction``, keeping the order (``0`` removes it)."""
        _duration("ms", ms)
        _directions(direction)
        self._apply(lambda c: c.delay(ms, direction), live, upcoming)

    def refuse(self, n: int = 1, *, reset: bool = False) -> None:
        """Close the next ``n`` connection attempts as soon as they are accepted, before any byte and without
        connecting upstream: with a FIN, or with an RST if ``reset``."""
        self._refusals.extend([bool(reset)] * _count("n", n))

    def restore(self) -> None:
        """Back to normal for new data: live connections lose their faults (held data is delivered; dropped
        data stays dropped), armed faults and pending refusals are cancelled."""
        self._armed.clear()
        self._refusals.clear()
        for conn in self._live():
            conn.restore()

    def _apply(self, fault: Callable[[ProxyConnection], None], live: bool, upcoming: int) -> None:
        _count("upcoming", upcoming)
        if not live and not upcoming:
            raise ConfigurationError("live=False with upcoming=0 applies the fault to nothing")
        if live:
            for conn in self._live():
                fault(conn)
        if upcoming:
            self._armed.append(_Armed(fault, upcoming))

    # ------------------------------------------------------------------ waiting
    async def wait_until(self, condition: Callable[[FaultProxy], bool], *, timeout: float = 10.0) -> None:
        """Wait until ``condition(proxy)`` is true; it is checked whenever a counter changes.

        :raises TimeoutError: naming the proxy's state, if it is still false after ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while not condition(self):
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            raise TimeoutError(f"condition still false after {timeout:g} s: {self!r}") from None

    async def wait_connections(self, n: int, *, timeout: float = 10.0) -> ProxyConnection:
        """Wait until ``n`` connections have been forwarded in all; return the ``n``-th."""
        if _count("n", n) < 1:
            raise ConfigurationError("n must be at least 1")
        await self.wait_until(lambda p: p.accepted >= n, timeout=timeout)
        return self._connections[n - 1]

    async def wait_bytes(self, n: int, direction: Direction = "upstream", *, timeout: float = 10.0) -> None:
        """Wait until ``n`` bytes have been forwarded in ``direction`` in all connections."""
        _count("n", n)
        names = _directions(direction)
        await self.wait_until(
            lambda p: sum((p.upstream if d == "upstream" else p.downstream).forwarded for d in names) >= n,
            timeout=timeout,
        )

    def _changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ serving
    def _on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # a plain callback, so the connection's task is ours (asyncio would own a coroutine's task)
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer), name="fault-proxy-serve")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn: ProxyConnection | None = None
        try:
            if self._refusals:
                with_rst = self._refusals.popleft()
                self._refused += 1
                log.debug("fault proxy: refusing connection attempt (%s)", "RST" if with_rst else "FIN")
                self._changed()
                await _refuse(reader, writer, with_rst=with_rst)
                return
            try:
                async with asyncio.timeout(self.connect_timeout):
                    server = await asyncio.open_connection(self.upstream_host, self.upstream_port)
            except (OSError, TimeoutError) as exc:
                self._failed += 1
                log.info("fault proxy: upstream %s:%d unreachable (%s)", self.upstream_host, self.upstream_port, exc)
                return
            self._accepted += 1
            conn = ProxyConnection(
                self._accepted, (reader, writer), server, (self.upstream, self.downstream), self._changed
            )
            self._connections.append(conn)
            for armed in self._armed:
                armed.apply(conn)
                armed.remaining -= 1
            self._armed = [armed for armed in self._armed if armed.remaining > 0]
            self._changed()
            await conn._run()  # pyright: ignore[reportPrivateUsage]  (the proxy owns its connections' lives)
        finally:
            if conn is None:
                writer.transport.abort()  # refused or failed: close (an RST if set above)
                self._changed()

    def __repr__(self) -> str:
        up, down = self.upstream, self.downstream
        return (
            f"<FaultProxy {self.host}:{self._port} -> {self.upstream_host}:{self.upstream_port} "
            f"accepted={self._accepted} open={self.open} refused={self._refused} failed={self._failed} "
            f"upstream={up.forwarded}/{up.dropped}/{up.held} downstream={down.forwarded}/{down.dropped}/{down.held} "
            "(forwarded/dropped/held bytes)>"
        )
