"""The playground's web server: the page, its JSON API, and one :class:`Bridge` per browser tab.

Routes::

    GET  /                       the page (static/index.html; its script and style under /static/)
    GET  /api/config             installed providers, their capabilities, the default provider
    POST /api/calls              {"provider", "sdp", "type": "offer"} -> the answer, the call id, capabilities
    GET  /api/calls              the open calls (id, provider, session id)
    POST /api/calls/{id}/close   hang up (the page sends it when the tab goes away)

How it scales: every call is independent (its own peer connection, session and, with ``--emulator``,
its own emulator) and the server keeps no other state, so one process serves many tabs, and for more
run several processes behind any load balancer that keeps a call's HTTP requests on one process
(the offer and the close go to the process holding the call; media flows peer to peer over UDP).

Bound to 127.0.0.1 by default, the server also refuses requests whose ``Host`` is not a loopback name
(DNS rebinding: a web page must not reach a playground holding your API keys) and POSTs that are not
JSON (so a form on another site cannot start calls).
"""

from __future__ import annotations

import asyncio
import importlib.resources
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Self

from aiohttp import web

from .. import __version__, plugins
from ..emulator.scenario import Scenario
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    MissingAPIKeyError,
    ProviderNotFoundError,
    RealtimeError,
)
from .bridge import Bridge
from .wire import describe_error, describe_provider

__all__ = ["PlaygroundServer"]

log = logging.getLogger("realtime_core.playground")

_STATIC = {
    "index.html": "text/html",
    "playground.js": "text/javascript",
    "playground.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
_SECURITY_HEADERS = {
    # everything comes from this server: no CDN, works offline
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]", "::1"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PlaygroundServer:
    """Serve the playground page and bridge browser calls into realtime sessions.

    :param provider: the provider selected when the page opens (default: openai, else the first
        available); with ``options``, the provider those options are for.
    :param emulator: run each call against its provider's bundled emulator (no key needed).
    :param scenario: the emulators' scenario (default: echo).
    :param options: session keyword arguments (``--option``); they go to ``provider``'s sessions only
        when a provider is named, to every session otherwise.
    :param host: interface to listen on (loopback by default).
    :param port: 0 picks a free port.
    :param webrtc_timeout: seconds a browser has to complete the WebRTC connection.
    """

    def __init__(
        self,
        *,
        provider: str | None = None,
        emulator: bool = False,
        scenario: Scenario | None = None,
        options: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        webrtc_timeout: float = 30.0,
    ) -> None:
        self.provider = plugins.get_provider(provider).name if provider else None
        if self.provider and emulator and plugins.get_provider(self.provider).emulator is None:
            raise ConfigurationError(f"provider {self.provider!r} ships no emulator; drop --emulator to use the service")
        self.emulator = emulator
        self.scenario = scenario
        self.options = dict(options or {})
        self.host = host
        self.port = port
        self.webrtc_timeout = webrtc_timeout
        self.bridges: dict[str, Bridge] = {}
        self.closed: deque[Bridge] = deque(maxlen=200)
        """Recently closed calls, newest last (for logs and tests)."""
        self._change = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._static: dict[str, bytes] = {}
        self._allowed_hosts: set[str] | None = None
        self._stall_watch: asyncio.Task[None] | None = None
        self.worst_stall_s = 0.0
        """The longest the event loop was late (one process carries every call's audio)."""

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._static = await asyncio.to_thread(_read_static)
        app = web.Application(middlewares=[self._guard], client_max_size=256 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static_file)
        app.router.add_get("/api/config", self._config)
        app.router.add_get("/api/calls", self._list_calls)
        app.router.add_post("/api/calls", self._open_call)
        app.router.add_post("/api/calls/{id}/close", self._close_call)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self._allowed_hosts = _allowed_hosts(self.host, self.port)
        self._stall_watch = asyncio.get_running_loop().create_task(self._watch_stalls(), name="playground-stalls")

    async def stop(self) -> None:
        """Hang up every call (closing its session and emulator), then stop serving."""
        await asyncio.gather(*(b.close("the playground server stopped") for b in list(self.bridges.values())))
        if self._stall_watch is not None:
            self._stall_watch.cancel()
            await asyncio.gather(self._stall_watch, return_exceptions=True)
            self._stall_watch = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}/"

    async def _watch_stalls(self, every: float = 0.25, warn_after: float = 1.0) -> None:
        """Log when the event loop falls behind: every call's audio (50 packets a second each way) and
        WebRTC's keepalives run on it, so a stall is heard as a gap and a long one drops calls."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + every
            await asyncio.sleep(every)
            late = loop.time() - due
            self.worst_stall_s = max(self.worst_stall_s, late)
            if late > warn_after:
                log.warning("the event loop was %.1f s late (%d calls): the machine is overloaded", late, len(self.bridges))

    async def wait_until(self, predicate: Callable[[], bool], *, timeout: float = 30.0) -> None:
        """Wait until ``predicate()`` holds; it is checked whenever a call opens or closes.

        :raises TimeoutError: if it does not hold within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._change.wait()

    def options_for(self, provider: str) -> dict[str, Any]:
        return dict(self.options) if self.provider in (None, provider) else {}

    # ------------------------------------------------------------------ calls
    async def _open_call(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        provider = body.get("provider") or self._default_provider()
        sdp, sdp_type = body.get("sdp"), body.get("type", "offer")
        if not isinstance(provider, str) or not isinstance(sdp, str) or not isinstance(sdp_type, str):
            raise ConfigurationError("POST /api/calls takes {'provider': str, 'sdp': str, 'type': 'offer'}")
        name = plugins.get_provider(provider).name
        bridge = Bridge(
            name,
            options=self.options_for(name),
            emulator=self.emulator,
            scenario=self.scenario,
            webrtc_timeout=self.webrtc_timeout,
            on_closed=self._bridge_closed,
        )
        self.bridges[bridge.id] = bridge
        answer = await bridge.open(sdp, sdp_type)
        self._notify()
        return web.json_response(answer)

    async def _close_call(self, request: web.Request) -> web.Response:
        bridge = self.bridges.get(request.match_info["id"])
        if bridge is not None:
            await bridge.close("the page closed")
        return web.json_response({"closed": bridge is not None})

    async def _list_calls(self, request: web.Request) -> web.Response:
        calls = [
            {
                "id": b.id,
                "provider": b.provider,
                "session_id": b.session.session_id if b.session else None,
                "connected": bool(b.session and b.session.connected),
                "age_s": round(time.time() - b.created_at, 1),
            }
            for b in self.bridges.values()
        ]
        return web.json_response({"calls": calls})

    def _bridge_closed(self, bridge: Bridge) -> None:
        if self.bridges.pop(bridge.id, None) is not None:
            self.closed.append(bridge)
        self._notify()

    def _notify(self) -> None:
        change, self._change = self._change, asyncio.Event()
        change.set()

    # ------------------------------------------------------------------ page and config
    def _default_provider(self) -> str | None:
        if self.provider:
            return self.provider
        names = [s.name for s in plugins.providers() if not self.emulator or s.emulator is not None]
        return "openai" if "openai" in names else (names[0] if names else None)

    async def _config(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "version": __version__,
                "emulator": self.emulator,
                "scenario": self.scenario.name if self.scenario else ("echo" if self.emulator else None),
                "provider": self._default_provider(),
                "providers": [describe_provider(s, emulator=self.emulator) for s in plugins.providers()],
                "plugin_errors": [str(e) for e in plugins.plugin_errors()],
            }
        )

    async def _index(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def _static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._static:
            raise web.HTTPNotFound()
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        return web.Response(body=self._static[name], content_type=_STATIC[name], headers=_SECURITY_HEADERS)

    # ------------------------------------------------------------------ guard and errors
    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        allowed = self._allowed_hosts
        if allowed is not None and request.host.lower() not in allowed:
            return _error(403, PermissionError(f"host {request.host!r} is not this playground (DNS rebinding?)"))
        if request.method == "POST" and request.content_type != "application/json":
            return _error(415, ConfigurationError("POST requests must be application/json"))
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except (ProviderNotFoundError, MissingAPIKeyError, ConfigurationError) as exc:
            return _error(400, exc)
        except AuthenticationError as exc:
            return _error(401, exc)
        except ConnectionFailedError as exc:
            return _error(502, exc)
        except RealtimeError as exc:
            return _error(502, exc)
        except Exception as exc:  # shown on the page and logged: never swallowed
            log.exception("playground: %s %s failed", request.method, request.path)
            return _error(500, exc)


def _error(status: int, exc: BaseException) -> web.Response:
    return web.json_response({"error": describe_error(exc)}, status=status)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ConfigurationError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise ConfigurationError("the request body must be a JSON object")
    return body  # pyright: ignore[reportUnknownVariableType]


def _allowed_hosts(host: str, port: int) -> set[str] | None:
    """Host header values accepted when serving on loopback; None (any) when bound to another interface."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        return None
    return {f"{name}:{port}" for name in _LOOPBACK_NAMES} | _LOOPBACK_NAMES


def _read_static() -> dict[str, bytes]:
    folder = importlib.resources.files("realtime_core.playground") / "static"
    return {name: (folder / name).read_bytes() for name in _STATIC}
