"""FaultProxy against real loopback servers: a plain TCP echo server, websockets (plain and TLS), and a realtime
session of the conformance kit's reference provider. Tests wait on the proxy's counters and the peers' own
observations, never on time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from realtime_conformance.reference import ReferenceEmulator, ReferenceRealtime
from realtime_core import (
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeDisconnectedEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
)
from realtime_core.emulator import shared_test_ca
from realtime_core.errors import ConfigurationError
from realtime_core.testing import EventRecorder, FaultProxy, speak

TIMEOUT = 10.0
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class EchoServer:
    """Echoes every byte back; records what it received and how each connection ended ("eof" or "reset")."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = bytearray()
        self.ends: list[str] = []
        self.port = 0
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        async with asyncio.timeout(TIMEOUT):  # waits for its connections: a test that failed may leave some
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._changed.set()
        try:
            while data := await reader.read(65536):
                self.received += data
                self._changed.set()
                writer.write(data)
                await writer.drain()
            self.ends.append("eof")
        except ConnectionResetError:
            self.ends.append("reset")
        finally:
            self._changed.set()
            writer.close()

    async def wait(self, condition: Callable[[EchoServer], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not condition(self):
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", echo.port) as p:
        yield p


@pytest.fixture(autouse=True)
def no_error_logs(caplog: pytest.LogCaptureFixture) -> Any:
    """Expected disconnects are never logged at error level."""
    caplog.set_level(logging.DEBUG)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def connect(proxy: FaultProxy) -> Streams:
    return await asyncio.open_connection(*proxy.address)


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(TIMEOUT):
        return await reader.read()


async def ending(reader: asyncio.StreamReader) -> str:
    """How the stream ended: "eof" (a FIN) or "reset" (an RST)."""
    try:
        rest = await read_to_end(reader)
    except ConnectionResetError:
        return "reset"
    return "eof" if rest == b"" else f"data {rest!r}"


async def roundtrip(streams: Streams, data: bytes) -> bytes:
    reader, writer = streams
    writer.write(data)
    await writer.drain()
    async with asyncio.timeout(TIMEOUT):
        return await reader.readexactly(len(data))


# ---------------------------------------------------------------------------------------------- forwarding
async def test_forwards_both_ways_and_counts(proxy: FaultProxy, echo: EchoServer) -> None:
    client = await connect(proxy)
    conn = await proxy.wait_connections(1)
    assert await roundtrip(client, b"hello proxy") == b"hello proxy"
    await proxy.wait_bytes(22, "both")
    assert (conn.upstream.forwarded, conn.downstream.forwarded) == (11, 11)
    assert (proxy.upstream.forwarded, proxy.downstream.forwarded, proxy.upstream.dropped) == (11, 11, 0)
    assert (proxy.accepted, proxy.open, proxy.refused, echo.connections) == (1, 1, 0, 1)
    client[1].close()  # the client's FIN goes through, the echo server closes, the connection ends
    await proxy.wait_until(lambda p: p.open == 0)
    assert conn.close_reason == "closed" and echo.ends == ["eof"]


async def test_cut_sends_a_fin_to_both_sides(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await connect(proxy)
    conn = await proxy.wait_connections(1)
    await roundtrip((reader, writer), b"ping")
    proxy.cut()
    assert await ending(reader) == "eof"  # a clean end of stream, not a reset
    await echo.wait(lambda e: bool(e.ends))
    assert echo.ends == ["eof"]
    writer.close()
    await proxy.wait_until(lambda p: p.open == 0)
    assert conn.close_reason == "cut"


async def test_reset_sends_an_rst_to_both_sides(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await connect(proxy)
    conn = await proxy.wait_connections(1)
    await roundtrip((reader, writer), b"ping")
    proxy.reset()
    assert await ending(reader) == "reset"
    await echo.wait(lambda e: bool(e.ends))
    assert echo.ends == ["reset"]
    await proxy.wait_until(lambda p: p.open == 0)
    assert conn.close_reason == "reset"
    writer.close()


async def test_truncate_forwards_exactly_so_many_bytes_then_cuts(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await connect(proxy)
    conn = await proxy.wait_connections(1)
    proxy.truncate(10, "downstream")
    writer.write(bytes(range(100)))
    await writer.drain()
    assert await read_to_end(reader) == bytes(range(10))
    assert conn.downstream.forwarded == 10
    await echo.wait(lambda e: bool(e.ends))
    assert echo.ends == ["eof"] and bytes(echo.received) == bytes(range(100))  # upstream was not truncated
    writer.close()
    await proxy.wait_until(lambda p: p.open == 0)
    assert conn.close_reason == "cut"


async def test_stall_holds_data_and_resume_delivers_it(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await connect(proxy)
    conn = await proxy.wait_connections(1)
    proxy.stall(direction="downstream")
    writer.write(b"hello")
    await writer.drain()
    await proxy.wait_until(lambda p: p.downstream.held == 5)  # the echo came back and is held
    assert conn.downstream.forwarded == 0 and bytes(echo.received) == b"hello"
    proxy.resume()
    async with asyncio.timeout(TIMEOUT):
        assert await reader.readexactly(5) == b"hello"
    assert (conn.downstream.forwarded, conn.downstream.dropped) == (5, 0)
    writer.close()


async def test_stall_for_seconds_resumes_by_itself(proxy: FaultProxy) -> None:
    client = await connect(proxy)
    await proxy.wait_connections(1)
    proxy.stall(0.05)
    assert await roundtrip(client, b"later") == b"later"
    client[1].close()


async def test_black_hole_drops_everything_and_passes_no_close(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await connect(proxy)
    conn = await proxy.wait_connections(1)
    proxy.black_hole()
    writer.write(b"x" * 1000)
    writer.write_eof()
    await writer.drain()
    await proxy.wait_until(lambda p: p.upstream.dropped == 1000)
    assert bytes(echo.received) == b"" and conn.upstream.forwarded == 0
    assert conn.open and echo.ends == []
    proxy.restore()  # back to normal: the held close goes through, the dropped data stays dropped
    await echo.wait(lambda e: bool(e.ends))
    assert echo.ends == ["eof"] and bytes(echo.received) == b""
    assert await read_to_end(reader) == b""
    await proxy.wait_until(lambda p: p.open == 0)
    assert conn.close_reason == "closed"
    writer.close()


async def test_delay_holds_each_chunk(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    conn = await proxy.wait_connections(1)
    proxy.delay(600_000, "upstream")  # far longer than any test: the data must be held, not forwarded
    writer.write(b"late")
    await writer.drain()
    await proxy.wait_until(lambda p: p.upstream.held == 4)
    assert conn.upstream.forwarded == 0
    proxy.delay(0, "upstream")  # a changed delay applies to what is held too
    async with asyncio.timeout(TIMEOUT):
        assert await reader.readexactly(4) == b"late"
    writer.close()


async def test_delay_keeps_the_order(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    await proxy.wait_connections(1)
    proxy.delay(5)
    sent = b""
    for i in range(40):
        if i == 20:
            proxy.delay(0, "upstream")  # later chunks must not overtake earlier ones
        message = f"<{i}>".encode()
        sent += message
        writer.write(message)
        await writer.drain()
    async with asyncio.timeout(TIMEOUT):
        assert await reader.readexactly(len(sent)) == sent
    writer.close()


async def test_refuse_closes_the_next_attempts_then_lets_them_through(proxy: FaultProxy, echo: EchoServer) -> None:
    proxy.refuse(2)
    proxy.refuse(1, reset=True)
    for _ in range(2):
        reader, writer = await connect(proxy)
        assert await read_to_end(reader) == b""
        writer.close()
    reader, writer = await connect(proxy)
    with pytest.raises(ConnectionResetError):
        await read_to_end(reader)
    writer.close()
    client = await connect(proxy)
    assert await roundtrip(client, b"through") == b"through"
    assert (proxy.refused, proxy.accepted, echo.connections) == (3, 1, 1)  # refused: upstream never contacted
    client[1].close()


async def test_armed_faults_hit_only_the_next_connections(proxy: FaultProxy, echo: EchoServer) -> None:
    first = await connect(proxy)
    await proxy.wait_connections(1)
    proxy.truncate(3, "downstream", live=False, upcoming=1)
    proxy.cut(live=False, upcoming=1)
    assert await roundtrip(first, b"live") == b"live"  # the live connection is untouched

    reader, writer = await connect(proxy)  # the second gets both armed faults: the cut ends it at once
    assert await read_to_end(reader) == b""
    writer.close()
    await echo.wait(lambda e: e.connections == 2)  # unlike a refusal, the upstream saw it

    third = await connect(proxy)
    assert await roundtrip(third, b"normal") == b"normal"
    assert proxy.accepted == 3 and proxy.connections[1].close_reason == "cut"
    first[1].close()
    third[1].close()


async def test_armed_truncation_applies_from_the_first_byte(proxy: FaultProxy) -> None:
    proxy.truncate(3, "downstream", upcoming=2)
    for _ in range(2):
        reader, writer = await connect(proxy)
        writer.write(b"hello")
        await writer.drain()
        assert await read_to_end(reader) == b"hel"
        writer.close()
    client = await connect(proxy)
    assert await roundtrip(client, b"hello") == b"hello"
    client[1].close()


async def test_restore_cancels_armed_faults_and_refusals(proxy: FaultProxy) -> None:
    proxy.refuse(3)
    proxy.black_hole(upcoming=5)
    proxy.restore()
    client = await connect(proxy)
    assert await roundtrip(client, b"fine") == b"fine"
    assert proxy.refused == 0
    client[1].close()


async def test_unreachable_upstream_closes_the_client() -> None:
    holder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead_port = holder.sockets[0].getsockname()[1]
    holder.close()
    await holder.wait_closed()
    async with FaultProxy("127.0.0.1", dead_port) as proxy:
        reader, writer = await connect(proxy)
        assert await ending(reader) in ("eof", "reset")  # nothing to forward to: dropped at once
        await proxy.wait_until(lambda p: p.failed == 1)
        assert proxy.accepted == 0
        writer.close()


async def test_stop_closes_every_connection_and_ends_every_task(echo: EchoServer) -> None:
    proxy = FaultProxy("127.0.0.1", echo.port)
    await proxy.start()
    try:
        stalled = await connect(proxy)
        holed = await connect(proxy)
        await proxy.wait_connections(2)
        proxy.connections[0].stall()
        proxy.connections[1].black_hole()
        stalled[1].write(b"held")
        await stalled[1].drain()
        await proxy.wait_until(lambda p: p.upstream.held == 4)
    finally:
        await proxy.stop()
    await proxy.stop()  # idempotent
    for reader, writer in (stalled, holed):
        assert await ending(reader) in ("eof", "reset")
        writer.close()
    assert proxy.open == 0 and [c.close_reason for c in proxy.connections] == ["stopped", "stopped"]
    assert proxy.upstream.dropped == 4
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("fault-proxy")]
    await echo.wait(lambda e: len(e.ends) == 2)


async def test_waits_time_out_with_the_state() -> None:
    async with FaultProxy("127.0.0.1", 9) as proxy:
        with pytest.raises(TimeoutError, match="accepted=0"):
            await proxy.wait_connections(1, timeout=0.01)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.stall(direction="sideways"), "direction"),
        (lambda p: p.black_hole("up"), "direction"),
        (lambda p: p.delay(-1), "ms"),
        (lambda p: p.delay(float("nan")), "ms"),
        (lambda p: p.stall(float("inf")), "seconds"),
        (lambda p: p.truncate(-1), "after_bytes"),
        (lambda p: p.truncate(1.5), "after_bytes"),
        (lambda p: p.truncate(True), "after_bytes"),
        (lambda p: p.refuse(-1), "n"),
        (lambda p: p.cut(upcoming=-2), "upcoming"),
        (lambda p: p.reset(live=False), "nothing"),
    ],
)
async def test_bad_arguments_are_configuration_errors(call: Callable[[FaultProxy], None], message: str) -> None:
    proxy = FaultProxy("127.0.0.1", 9)
    with pytest.raises(ConfigurationError, match=message):
        call(proxy)


def test_bad_construction_and_early_url() -> None:
    with pytest.raises(ConfigurationError, match="upstream_port"):
        FaultProxy("127.0.0.1", 0)
    with pytest.raises(ConfigurationError, match="port"):
        FaultProxy("127.0.0.1", 80, port=70000)
    with pytest.raises(ConfigurationError, match="start"):
        FaultProxy("127.0.0.1", 80).url_for("ws://127.0.0.1:80/x")


# ---------------------------------------------------------------------------------------------- websockets
async def _ws_echo(ws: Any) -> None:
    with contextlib.suppress(ConnectionClosed):  # the faults make the server's connections die too
        async for message in ws:
            await ws.send(message)


async def test_websocket_cut_is_an_abnormal_close_and_url_for_keeps_the_path() -> None:
    async with websockets.serve(_ws_echo, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with FaultProxy("127.0.0.1", port) as proxy:
            url = proxy.url_for(f"ws://127.0.0.1:{port}/v1/realtime?model=m")
            assert url == f"ws://127.0.0.1:{proxy.port}/v1/realtime?model=m"
            async with websockets.connect(url) as ws:
                await ws.send("hello")
                assert await ws.recv() == "hello"
                proxy.cut()
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.rcvd is None  # no close frame: the network dropped it


async def test_websocket_keepalive_detects_a_black_hole() -> None:
    async with websockets.serve(_ws_echo, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with (
            FaultProxy("127.0.0.1", port) as proxy,
            websockets.connect(
                f"ws://127.0.0.1:{proxy.port}", ping_interval=0.2, ping_timeout=2, close_timeout=1
            ) as ws,
        ):
            await ws.send("hello")
            assert await ws.recv() == "hello"
            proxy.black_hole()
            await ws.send("lost")
            with pytest.raises(ConnectionClosedError) as info:
                async with asyncio.timeout(TIMEOUT):
                    await ws.recv()
            # the client gave up on its pings (1011) and its close frame vanished too
            assert info.value.sent is not None and info.value.sent.code == 1011 and info.value.rcvd is None
            assert proxy.open == 1  # the proxy never closed anything: the path is just dead
            assert proxy.upstream.dropped > 0


async def test_tls_passes_through_untouched() -> None:
    ca = shared_test_ca()
    async with websockets.serve(_ws_echo, "127.0.0.1", 0, ssl=ca.server_context()) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with FaultProxy("127.0.0.1", port) as proxy:
            url = proxy.url_for(f"wss://127.0.0.1:{port}/")  # the certificate is for 127.0.0.1: still valid
            async with websockets.connect(url, ssl=ca.client_context()) as ws:
                await ws.send("secret")
                assert await ws.recv() == "secret"
                assert proxy.upstream.forwarded > len("secret") + 100  # TLS handshake and records went through
                proxy.reset()
                with pytest.raises(ConnectionClosedError):
                    await ws.recv()


# ---------------------------------------------------------------------------------------------- a realtime session
async def test_session_reconnects_after_a_cut_and_through_refusals() -> None:
    async with ReferenceEmulator() as emulator, FaultProxy(emulator.host, emulator.port) as proxy:
        options = emulator.session_options()
        session = ReferenceRealtime(
            **{**options, "url": proxy.url_for(options["url"])},
            reconnect=ReconnectPolicy(max_attempts=5, initial_delay=0.05, max_delay=0.2),
        )
        async with EventRecorder(session, timeout=TIMEOUT) as rec:
            await session.connect()
            await speak(session)
            await rec.wait_for(RealtimeAudioOutputEvent)
            mark = rec.mark()
            proxy.cut()  # mid-session, while the reply may still be streaming
            dropped = await rec.wait_for(RealtimeDisconnectedEvent, after=mark)
            assert dropped.was_clean is False and dropped.will_reconnect is True
            back = await rec.wait_for(RealtimeReconnectedEvent, after=dropped)
            assert back.attempts == 1 and proxy.accepted == 2 and session.connected

            turn = rec.mark()
            await speak(session)
            await rec.wait_for(RealtimeAudioOutputDoneEvent, after=turn)  # the session works again

            mark = rec.mark()
            proxy.refuse(2)
            proxy.cut()
            dropped = await rec.wait_for(RealtimeDisconnectedEvent, after=mark)
            back = await rec.wait_for(RealtimeReconnectedEvent, after=dropped)
            assert back.attempts == 3 and proxy.refused == 2 and proxy.accepted == 3
            assert len(rec.of(RealtimeDisconnectedEvent, after=mark)) == 1  # failed attempts are not disconnects
            await session.close()


# ---------------------------------------------------------------------------------------------- the README
def test_readme_example_runs() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Fault-injection proxy", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the README's fault-injection section has no python block"
    exec(compile(block.group(1), "core/README.md", "exec"), {"__name__": "readme"})
