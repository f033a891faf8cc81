"""WebSocketTransport against real loopback servers: errors, malformed frames, close codes, TLS."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from realtime_core import (
    AuthenticationError,
    ConnectionFailedError,
    PcmData,
    ProtocolError,
    RateLimitedError,
    Realtime,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
)
from realtime_core.emulator import shared_test_ca
from realtime_core.transport import WebSocketTransport, classify_close

Handler = Callable[[web.WebSocketResponse], Awaitable[None]]


class Probe(Realtime):
    provider_name = "probe"

    def __init__(self, url: str, ca_file: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.url = url
        self.ca_file = ca_file
        self.messages: list[dict[str, Any]] = []
        self.transport: WebSocketTransport | None = None

    async def connect(self) -> None:
        self.transport = WebSocketTransport(self._core)
        await self.transport.open(self.url, headers={"Authorization": "Bearer sk-live-SECRET123456"}, ca_file=self.ca_file)
        self.transport.start(self.handle)
        self._emit_connected_event()

    def handle(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == "explode":
            raise KeyError("missing field")
        self.messages.append(msg)

    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        assert self.transport is not None
        await self.transport.send_json({"type": "audio", "n": pcm.frames})

    async def close(self) -> None:
        if self.transport is not None:
            await self.transport.close()


@pytest.fixture
async def server() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler | None = None, *, status: int | None = None, tls: bool = False) -> str:
        async def ws_route(request: web.Request) -> web.StreamResponse:
            if status is not None:
                return web.Response(status=status, text='{"error": "key sk-live-SECRET123456 rejected"}')
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            assert handler is not None
            await handler(ws)
            return ws

        app = web.Application()
        app.router.add_get("/ws", ws_route)
        runner = web.AppRunner(app)
        await runner.setup()
        ssl_ctx = shared_test_ca().server_context() if tls else None
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/ws"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_malformed_frames_and_handler_errors_become_error_events(server: Any) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str("{not json")
        await ws.send_str("[1, 2]")
        await ws.send_str('{"type": "explode"}')
        await ws.send_str('{"type": "fine"}')
        await ws.receive()

    session = Probe(await server(handler))
    events = session.events()
    await session.connect()
    errors = [await events.wait_for(RealtimeErrorEvent, timeout=5) for _ in range(3)]
    assert all(isinstance(e.error, ProtocolError) for e in errors)
    assert "not JSON" in str(errors[0].error) and "JSON object" in str(errors[1].error)
    assert "'explode'" in str(errors[2].error)
    async with asyncio.timeout(5):
        while not session.messages:
            await asyncio.sleep(0.01)
    assert session.messages == [{"type": "fine"}]
    assert session.connected
    await session.close()


@pytest.mark.parametrize(("code", "recoverable"), [(1011, True), (1008, False), (1007, False), (1001, True)])
async def test_server_close_is_classified(server: Any, code: int, recoverable: bool) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.close(code=code, message=b"bye")

    session = Probe(await server(handler), reconnect=ReconnectPolicy.disabled())
    events = session.events()
    await session.connect()
    dropped = await events.wait_for(RealtimeDisconnectedEvent, timeout=5)
    assert not dropped.was_clean
    assert dropped.error is not None and dropped.error.recoverable is recoverable  # type: ignore[union-attr]
    assert f"code {code}" in str(dropped.error)
    await session.close()


@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationError), (403, AuthenticationError), (429, RateLimitedError)])
async def test_handshake_status_is_typed_and_redacted(server: Any, status: int, error: type[Exception]) -> None:
    session = Probe(await server(status=status))
    with pytest.raises(error) as info:
        await session.connect()
    assert "SECRET123456" not in str(info.value) and "SECRET123456" not in repr(info.value)
    assert str(status) in str(info.value)


async def test_dead_port_fails_fast() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    session = Probe(f"ws://127.0.0.1:{port}/ws", connect_timeout=3)
    with pytest.raises(ConnectionFailedError) as info:
        await session.connect()
    assert info.value.recoverable


async def test_tls_with_explicit_ca_and_verification_stays_on(server: Any) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str('{"type": "hello"}')
        await ws.receive()

    url = await server(handler, tls=True)
    untrusted = Probe(url)
    with pytest.raises(ConnectionFailedError, match="ca_file") as info:
        await untrusted.connect()
    assert not info.value.recoverable
    trusted = Probe(url, ca_file=shared_test_ca().ca_file)
    await trusted.connect()
    async with asyncio.timeout(5):
        while not trusted.messages:
            await asyncio.sleep(0.01)
    await trusted.close()


class Reconnecting(Probe):
    async def _reconnect(self, ctx: Any) -> bool:
        await self.connect()
        return False


async def test_send_on_dead_socket_is_buffered_while_core_reconnects(server: Any) -> None:
    connections: list[web.WebSocketResponse] = []
    received: list[str] = []

    async def handler(ws: web.WebSocketResponse) -> None:
        connections.append(ws)
        if len(connections) == 1:
            await ws.close(code=1011)
            return
        async for msg in ws:
            received.append(msg.data)

    session = Reconnecting(await server(handler))
    events = session.events()
    await session.connect()
    # whatever the timing, a send on a dead socket never raises into the app while core can reconnect,
    # and the audio is sent once the connection is back
    for _ in range(5):
        await session.simple_audio_response(PcmData.silence(20, 16000))
    back = await events.wait_for(RealtimeReconnectedEvent, timeout=5)
    assert back.state_restored is False
    async with asyncio.timeout(5):
        while len(received) < 5:
            await asyncio.sleep(0.01)
    assert len(received) == 5
    await session.close()


def test_classify_close_defaults() -> None:
    assert classify_close(1006, "").recoverable
    assert not classify_close(1002, "").recoverable
    assert classify_close(None, "").code is None
