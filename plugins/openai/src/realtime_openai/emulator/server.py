"""The OpenAI Realtime emulator: an aiohttp server speaking the GA protocol on loopback.

Routes (like ``api.openai.com``), every answer with CORS headers so a browser page can call it as it calls
the real API:

* ``GET /v1/realtime?model=...`` — the WebSocket (Bearer key, or the browser subprotocols ``realtime`` +
  ``openai-insecure-api-key.<key>``; ephemeral ``ek_`` secrets accepted);
* ``POST /v1/realtime/client_secrets`` — mints ``ek_`` secrets bound to a session configuration;
* ``POST /v1/realtime/calls`` — WebRTC: the SDP offer answered by an aiortc peer on loopback
  (:mod:`realtime_openai.emulator.webrtc`), and ``POST /v1/realtime/calls/{call_id}/hangup``.

Refusals follow the live server (captured 2026-09): the WebSocket is accepted, then an ``error`` event and
close **3000** for a bad key, **4000** for an unknown or missing model or the ``OpenAI-Beta`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import secrets
import time
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from realtime_core import ConfigurationError
from realtime_core.emulator import Fault
from realtime_core.errors import redact
from realtime_openai_protocol.client_events import new_id
from realtime_openai_protocol.emulator import OpenAIStyleEmulator, RequestError

from ..models import DEFAULT_MODEL, profile_of
from .client_secrets import mint_client_secret
from .ga_connection import GaConnection
from .http_answers import cors_middleware, http_error, preflight
from .schema import GaSessionSchema

if TYPE_CHECKING:
    from .webrtc import RtcConnection

__all__ = ["TEST_API_KEY", "OpenAIEmulator"]

TEST_API_KEY = "sk-emulator-0000-test-key"
"""The key :meth:`OpenAIEmulator.session_options` hands out (a test value, not a secret)."""


class OpenAIEmulator(OpenAIStyleEmulator):
    """A loopback OpenAI Realtime server driven by a :class:`~realtime_core.emulator.Scenario`.

    :param api_key: the standard key it accepts (ephemeral secrets it minted are accepted too).
    :param model: the model of a session minted without one.
    :param models: the models it accepts (default: every model realtime-openai knows, dated snapshots too);
        another gets ``invalid_model`` and close 4000, as on the live service.
    :param auth_failure: a bad key gets ``"close"`` (an ``error`` event, then close 3000, as captured),
        ``"event"`` (the error, then close 1008) or ``"http"`` (HTTP 401 at the upgrade).
    :param bad_request: a request it cannot serve (unknown/missing model, ``OpenAI-Beta``) gets ``"close"``
        (an ``error`` event, then close 4000, as captured) or ``"http"`` (HTTP 400 at the upgrade).
    :param server_vad_silence_ms: the ``silence_duration_ms`` the server fills in (doc 500, observed 200).
    :param model_change: ``"reject"`` or ``"accept"`` a ``session.update`` naming another model.
    :param webrtc_playout_speed: how much faster than real time reply audio plays out on a WebRTC call's
        track (1.0, as a real peer).
    :param webrtc_truncated_event: whether the server-side truncation of a WebRTC barge-in also sends
        ``conversation.item.truncated``.
    :param webrtc_ice_failure: answer calls but never complete ICE (for tests of connection failures).
    :param webrtc_max_message_size: the data channel message limit the answer advertises.
    :param options: the protocol's switches (:class:`~realtime_openai_protocol.emulator.OpenAIStyleEmulator`:
        ``transcription_timing``, ``transcription_usage``, ``obfuscation``, ``item_object``, ``rate_limits_at``...)
        and the framework's (``scenario``, ``tls``, ``latency``...).
    """

    provider = "openai"
    fault_kinds = OpenAIStyleEmulator.fault_kinds | {"go_away"}
    """``go_away`` closes with 1001 "going away": GA has no announcement, this is the closest the server does."""

    def __init__(
        self,
        *,
        api_key: str = TEST_API_KEY,
        model: str = DEFAULT_MODEL,
        models: Iterable[str] | None = None,
        auth_failure: Literal["close", "event", "http"] = "close",
        bad_request: Literal["close", "http"] = "close",
        server_vad_silence_ms: int = 200,
        model_change: Literal["reject", "accept"] = "reject",
        webrtc_playout_speed: float = 1.0,
        webrtc_truncated_event: bool = True,
        webrtc_ice_failure: bool = False,
        webrtc_max_message_size: int | None = None,
        schema: Any = None,
        **options: Any,
    ) -> None:
        for name, value, allowed in (("auth_failure", auth_failure, ("close", "event", "http")),
                                     ("bad_request", bad_request, ("close", "http")),
                                     ("model_change", model_change, ("reject", "accept"))):  # fmt: skip
            if value not in allowed:
                raise ConfigurationError(f"{name} must be one of {allowed}, got {value!r}")
        if not 0 < webrtc_playout_speed <= 100:
            raise ConfigurationError("webrtc_playout_speed must be in (0, 100]")
        rules = schema or GaSessionSchema(server_vad_silence_ms=server_vad_silence_ms, model_change=model_change)
        super().__init__(rules=rules, **options)
        self.api_key = api_key
        self.model = model
        self.models = frozenset(models) if models is not None else None
        self.auth_failure = auth_failure
        self.bad_request = bad_request
        self.webrtc_playout_speed = float(webrtc_playout_speed)
        self.webrtc_truncated_event = webrtc_truncated_event
        self.webrtc_ice_failure = webrtc_ice_failure
        self.webrtc_max_message_size = webrtc_max_message_size
        self.secrets: dict[str, tuple[float, dict[str, Any]]] = {}
        """Ephemeral client secrets minted: value → (expiry, the session bound to it)."""
        self._calls_by_id: dict[str, RtcConnection] = {}
        self._call_tasks: set[asyncio.Task[Any]] = set()
        self._calls_answered = 0
        self._websocket_sessions = 0

    def can_observe(self, name: str) -> bool:
        """As declared in ``observes``, except ``session_finished``: only a WebRTC call has a closing message
        (the hangup); the WebSocket protocol has none, so an emulator that served WebSocket sessions only
        does not claim to see one. And ``audio_in`` exactly is WebSocket-only (see below)."""
        if name == "session_finished" and self._websocket_sessions and not self._calls_answered:
            return False
        if name == "audio_in" and self._calls_answered:
            # a call's microphone track streams in real time and carries silence while the app sends nothing
            # (as a live mic does), so what arrives is not exactly what the app sent
            return False
        return super().can_observe(name)

    @property
    def schema(self) -> Any:
        """The session rules (:class:`GaSessionSchema`)."""
        return self.rules

    # ------------------------------------------------------------------ addresses and credentials
    @property
    def url(self) -> str:
        """The WebSocket endpoint (add ``?model=...``)."""
        return f"{self.ws_base_url}/v1/realtime"

    def session_options(self) -> dict[str, Any]:
        """``base_url``, ``api_key`` and ``ca_file`` for :class:`~realtime_openai.OpenAIRealtime`."""
        return {"base_url": f"{self.base_url}/v1", "api_key": self.api_key, "ca_file": self.ca_file}

    def urls(self) -> dict[str, str]:
        return {
            "websocket": f"{self.url}?model={self.model}",
            "rest": f"{self.base_url}/v1",
            "client_secrets": f"{self.base_url}/v1/realtime/client_secrets",
            "webrtc_calls": f"{self.base_url}/v1/realtime/calls",
        }

    def credentials(self) -> dict[str, str]:
        """The standard key, and every unexpired ephemeral secret minted so far."""
        now = time.time()
        minted = {f"client_secret_{i}": key for i, (key, (expiry, _)) in enumerate(self.secrets.items(), 1) if expiry > now}
        return {"api_key": self.api_key, **minted}

    def setup_routes(self, app: web.Application) -> None:
        app.middlewares.append(cors_middleware)
        app.router.add_get("/v1/realtime", self._websocket)
        app.router.add_post("/v1/realtime/client_secrets", self._client_secrets)
        app.router.add_post("/v1/realtime/calls", self._rtc_call)
        app.router.add_post("/v1/realtime/calls/{call_id}/hangup", self._rtc_hangup)
        for path in ("/v1/realtime/client_secrets", "/v1/realtime/calls", "/v1/realtime/calls/{call_id}/hangup"):
            app.router.add_route("OPTIONS", path, preflight)

    async def start(self) -> None:
        await super().start()
        if importlib.util.find_spec("aiortc") is not None:
            # load aiortc now, off the loop: a first call would otherwise wait 1-4 s for it inside the request
            await asyncio.to_thread(importlib.import_module, "realtime_openai.emulator.webrtc")

    async def _shutdown(self) -> None:
        calls = list(self._calls_by_id.values())
        await asyncio.gather(*(c.close(1001, "emulator shutting down") for c in calls), return_exceptions=True)
        await asyncio.gather(*(c.shutdown() for c in calls), return_exceptions=True)
        tasks = [t for t in self._call_tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await super()._shutdown()

    # ------------------------------------------------------------------ test helpers
    def connection(self, number: int | None = None) -> Any:
        """A live connection (the newest by default): WebSocket or WebRTC call.

        :raises LookupError: when there is none (with that number)."""
        live: dict[int, Any] = dict(self.open_connections)
        if not live:
            raise LookupError("no live connection")
        try:
            return live[number if number is not None else max(live)]
        except KeyError:
            raise LookupError(f"connection {number} is not live") from None

    async def inject(self, event: dict[str, Any] | str, connection: int | None = None) -> None:
        """Send a server event (a dict, or raw text for malformed frames) on a live connection."""
        conn = self.connection(connection)
        if isinstance(event, str):
            await conn.send_raw(event)
        else:
            await conn.send(event)

    async def expire(self, connection: int | None = None) -> None:
        """End a connection now as if it hit the session cap."""
        await self.connection(connection).expire(Fault(kind="expire"))

    async def partition(self, connection: int | None = None) -> None:
        """WebRTC: the network to a call dies silently (no close, no packet: the client must notice)."""
        conn = self.connection(connection)
        if not hasattr(conn, "partition"):
            raise TypeError("partition() applies to WebRTC calls")
        await conn.partition()

    # ------------------------------------------------------------------ WebRTC calls
    def call(self, call_id: str) -> RtcConnection | None:
        """The live WebRTC call with this id (the last segment of its ``Location``)."""
        return self._calls_by_id.get(call_id)

    @property
    def calls(self) -> list[RtcConnection]:
        """Live WebRTC calls, oldest first."""
        return list(self._calls_by_id.values())

    def spawn_call_task(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._call_tasks.add(task)
        task.add_done_callback(self._call_tasks.discard)
        return task

    def call_started(self, conn: RtcConnection) -> None:
        self._calls_by_id[conn.call_id] = conn
        self._calls_answered += 1

    def call_ended(self, conn: RtcConnection) -> None:
        self._calls_by_id.pop(conn.call_id, None)

    async def _rtc_call(self, request: web.Request) -> web.StreamResponse:
        from .webrtc import answer_call  # loaded at start() already when aiortc is installed

        return await answer_call(self, request)

    async def _rtc_hangup(self, request: web.Request) -> web.StreamResponse:
        from .webrtc import hangup_call

        return await hangup_call(self, request)

    # ------------------------------------------------------------------ auth
    def key_of(self, request: web.Request) -> tuple[str | None, list[str]]:
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:].strip(), offered
        for proto in offered:
            if proto.startswith("openai-insecure-api-key."):
                return proto[len("openai-insecure-api-key.") :], offered
        return None, offered

    def session_for_key(self, key: str | None) -> tuple[bool, dict[str, Any] | None]:
        """(valid, the session bound to an ephemeral secret)."""
        if key is None:
            return False, None
        if secrets.compare_digest(key, self.api_key):
            return True, None
        entry = self.secrets.get(key)
        if entry is not None and entry[0] > time.time():
            return True, entry[1]
        return False, None

    @staticmethod
    def bad_key_message(key: str | None) -> str:
        if not key:
            return "You didn't provide an API key. Provide it in the Authorization header (Bearer auth)."
        shown = redact(key[:3] + "-" + "*" * 4 + key[-4:]) if len(key) > 8 else "***"
        return f"Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys."

    def known_model(self, model: str) -> bool:
        if self.models is not None:
            return model in self.models
        try:
            profile_of(model)
        except ConfigurationError:
            return False
        return True

    def refusal(self, key: str | None, valid: bool, bound: dict[str, Any] | None, model: str | None,
                beta: bool) -> tuple[int, str, str, str | None] | None:  # fmt: skip
        """Why the session cannot start: (close code, error code, message, param), or None."""
        if not valid:
            return 3000, "invalid_api_key", self.bad_key_message(key), None
        if beta:
            return 4000, "beta_api_shape_disabled", "The beta Realtime API shape is disabled; drop the OpenAI-Beta header.", None
        if bound is None and not model:
            return 4000, "missing_model", "Missing required parameter: 'model'.", "model"
        if model and not self.known_model(model):
            return 4000, "invalid_model", f"The model '{model}' does not exist or you do not have access to it.", "model"
        return None

    # ------------------------------------------------------------------ WebSocket
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("call_id") or request.query.get("intent"):
            return http_error(400, "invalid_value", "This emulator implements realtime sessions by model only (no call_id or intent).")
        key, offered = self.key_of(request)
        valid, bound = self.session_for_key(key)
        model = request.query.get("model")
        refused = self.refusal(key, valid, bound, model, bool(request.headers.get("OpenAI-Beta")))
        if refused is not None:
            close_code, code, message, param = refused
            http = self.auth_failure == "http" if close_code == 3000 else self.bad_request == "http"
            if http:
                return http_error(401 if close_code == 3000 else 400, code, message, param)
            if close_code == 3000 and self.auth_failure == "event":
                close_code = 1008
            return await self._refuse(request, offered, RequestError(code, message, param), close_code)
        config = dict(bound) if bound is not None else self.schema.defaults(model or self.model)
        if model and bound is not None:
            config["model"] = model

        def connection(emu: OpenAIEmulator, req: web.Request, ws: web.WebSocketResponse, number: int) -> GaConnection:
            self._websocket_sessions += 1
            return GaConnection(emu, req, ws, number, config)

        protocols = ("realtime",) if "realtime" in offered else ()
        return await self.serve_websocket(request, connection, protocols=protocols, max_msg_size=32 * 1024 * 1024, compress=False)

    async def _refuse(self, request: web.Request, offered: list[str], error: RequestError, code: int) -> web.StreamResponse:
        """The live server's way: accept the upgrade, send the error, close with ``code``."""
        ws = web.WebSocketResponse(protocols=("realtime",) if "realtime" in offered else (), compress=False)
        await ws.prepare(request)
        self.track(ws)
        try:
            await ws.send_json({"event_id": new_id("event"), "type": "error", "error": error.payload()})
            with contextlib.suppress(Exception):
                await ws.close(code=code, message=(error.code or "").encode()[:120])
        finally:
            self.untrack(ws)
        return ws

    # ------------------------------------------------------------------ client secrets
    async def _client_secrets(self, request: web.Request) -> web.Response:
        key, _ = self.key_of(request)
        if key is None or not secrets.compare_digest(key, self.api_key):
            return http_error(401, "invalid_api_key", self.bad_key_message(key))
        return await mint_client_secret(self, request)
