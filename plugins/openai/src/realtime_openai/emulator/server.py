"""The OpenAI Realtime emulator: an aiohttp server speaking the GA protocol on loopback.

Routes (like ``api.openai.com``):

* ``GET /v1/realtime?model=...`` — the WebSocket (Bearer key, or the browser subprotocols
  ``realtime`` + ``openai-insecure-api-key.<key>``; ephemeral ``ek_`` secrets accepted);
* ``POST /v1/realtime/client_secrets`` — mints ``ek_`` secrets bound to a session configuration;
* ``POST /v1/realtime/calls`` — WebRTC: the SDP offer (raw with an ``ek_`` key, or multipart ``sdp`` +
  ``session``) answered by an aiortc peer on loopback (see :mod:`realtime_openai.emulator.webrtc`), and
  ``POST /v1/realtime/calls/{call_id}/hangup``.

Open points of the protocol notes are constructor switches rather than baked-in guesses (see
:class:`OpenAIEmulator`). Every server event sent is kept in :attr:`OpenAIEmulator.server_events` (for
fidelity checks against the official SDK's models), every client event in ``received``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from aiohttp import web

from realtime_core import ConfigurationError
from realtime_core.emulator import Scenario, WebEmulator
from realtime_core.errors import redact
from realtime_openai_protocol import GA, Dialect

from ..models import DEFAULT_MODEL
from ..protocol import new_id
from .connection import EmulatedConnection
from .schema import GaSessionSchema
from .wire import RequestError

if TYPE_CHECKING:
    from .webrtc import RtcConnection

__all__ = ["TEST_API_KEY", "OpenAIEmulator"]

TEST_API_KEY = "sk-emulator-0000-test-key"
"""The key :meth:`OpenAIEmulator.session_options` hands out (a test value, not a secret)."""


def _http_error(
    status: int, code: str | None, message: str, param: str | None = None, kind: str = "invalid_request_error"
) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": code}}, status=status)


class OpenAIEmulator(WebEmulator):
    """A loopback OpenAI Realtime server driven by a :class:`~realtime_core.emulator.Scenario`.

    :param api_key: the standard key it accepts (ephemeral secrets it minted are accepted too).
    :param model: default model when the URL names none... it always needs one, like the real API.
    :param max_session_seconds: session cap; at expiry it sends ``session_expired`` and closes
        (3600 s on GA; tests shorten it).
    :param auth_failure: a bad key gets HTTP 401 at the upgrade (``"http"``) or an ``error`` event
        ``invalid_api_key`` after it (``"event"``); the real behaviour is unverified.
    :param expire_close_code: close code after ``session_expired`` (unverified; 1000 by default).
    :param rate_limits_at: ``rate_limits.updated`` at the ``"end"`` (after ``response.done``, as
        captures suggest) or the ``"start"`` of each response (as a docstring says).
    :param assistant_item_done: whether assistant items get ``conversation.item.done`` (unverified).
    :param content_part_types: ``"audio"`` (``audio``/``text`` part types, as captured) or
        ``"output_audio"`` (``output_audio``/``output_text``, as some newer fixtures show).
    :param transcription_timing: input transcripts ``"after_response_created"`` (interleaved, as
        observed) or ``"before_response"``.
    :param truncate_error_code: the code of the "truncate past the end" error (unverified).
    :param server_vad_silence_ms: the ``silence_duration_ms`` the server fills in (doc 500, observed 200).
    :param model_change: ``"reject"`` or ``"accept"`` a ``session.update`` naming another model.
    :param obfuscation: add ``obfuscation`` strings to transcript deltas (as the real server does).
    :param transcription_usage: the ``usage`` on ``input_audio_transcription.completed``: ``"tokens"`` (as
        captured from gpt-4o-mini-transcribe), ``"duration"`` (the schema's other shape) or ``"none"``.
    :param commit_error_delay_ms: delay before ``input_audio_buffer_commit_empty`` (observed ~150 ms).
    :param webrtc_playout_speed: how much faster than real time reply audio plays out on a WebRTC call's
        track (1.0, as a real peer; tests speed it up: the protocol does not care, the client attributes
        frames by the data channel's ``output_audio_buffer.*`` events).
    :param webrtc_truncated_event: whether the server-side truncation of a WebRTC barge-in also sends
        ``conversation.item.truncated`` (unverified).
    :param webrtc_ice_failure: answer calls but never complete ICE (for tests of connection failures).
    :param webrtc_max_message_size: the data channel message limit the answer advertises (default:
        aiortc's 262144; the real server's is unknown, and clients must respect whatever it says).
    :param dialect: the event names (GA by default).
    :param schema: the session rules (:class:`GaSessionSchema` by default). ``dialect``, ``schema``,
        :attr:`ws_path` and :attr:`input_sample_rate` are where a variant of the protocol (the beta names
        and flat session of DashScope's Qwen-Omni, say) plugs in.
    """

    provider = "openai"
    output_sample_rate = 24000
    input_sample_rate: ClassVar[int] = 24000
    """Rate of ``input_audio_buffer.append`` audio (a dialect with another rate overrides it)."""
    ws_path: ClassVar[str] = "/v1/realtime"
    interrupt_facts = ("cancel", "truncate")

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int = 20000,
        api_key: str = TEST_API_KEY,
        model: str = DEFAULT_MODEL,
        max_session_seconds: float = 3600.0,
        auth_failure: Literal["http", "event"] = "http",
        expire_close_code: int = 1000,
        rate_limits_at: Literal["end", "start"] = "end",
        assistant_item_done: bool = True,
        content_part_types: Literal["audio", "output_audio"] = "audio",
        transcription_timing: Literal["after_response_created", "before_response"] = "after_response_created",
        truncate_error_code: str = "invalid_value",
        server_vad_silence_ms: int = 200,
        model_change: Literal["reject", "accept"] = "reject",
        obfuscation: bool = True,
        transcription_usage: Literal["tokens", "duration", "none"] = "tokens",
        commit_error_delay_ms: float = 0.0,
        webrtc_playout_speed: float = 1.0,
        webrtc_truncated_event: bool = True,
        webrtc_ice_failure: bool = False,
        webrtc_max_message_size: int | None = None,
        dialect: Dialect = GA,
        schema: GaSessionSchema | None = None,
    ) -> None:
        super().__init__(scenario=scenario, tls=tls, host=host, port=port, log_limit=log_limit)
        choices: dict[str, tuple[object, tuple[object, ...]]] = {
            "auth_failure": (auth_failure, ("http", "event")),
            "rate_limits_at": (rate_limits_at, ("end", "start")),
            "content_part_types": (content_part_types, ("audio", "output_audio")),
            "transcription_timing": (transcription_timing, ("after_response_created", "before_response")),
            "model_change": (model_change, ("reject", "accept")),
            "transcription_usage": (transcription_usage, ("tokens", "duration", "none")),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigurationError(f"{name} must be one of {allowed}, got {value!r}")
        if max_session_seconds <= 0:
            raise ConfigurationError("max_session_seconds must be positive")
        if not 0 < webrtc_playout_speed <= 100:
            raise ConfigurationError("webrtc_playout_speed must be in (0, 100]")
        self.api_key = api_key
        self.model = model
        self.max_session_seconds = float(max_session_seconds)
        self.auth_failure = auth_failure
        self.expire_close_code = int(expire_close_code)
        self.rate_limits_at = rate_limits_at
        self.assistant_item_done = assistant_item_done
        self.content_part_types = content_part_types
        self.transcription_timing = transcription_timing
        self.truncate_error_code = truncate_error_code
        self.obfuscation = obfuscation
        self.transcription_usage = transcription_usage
        self.commit_error_delay_ms = float(commit_error_delay_ms)
        self.webrtc_playout_speed = float(webrtc_playout_speed)
        self.webrtc_truncated_event = webrtc_truncated_event
        self.webrtc_ice_failure = webrtc_ice_failure
        self.webrtc_max_message_size = webrtc_max_message_size
        self.dialect = dialect
        self.schema = schema or GaSessionSchema(server_vad_silence_ms=server_vad_silence_ms, model_change=model_change)
        self.server_events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=log_limit)
        """``(connection, event)`` for every server event sent, oldest first."""
        self.responses_total = 0
        self._live: dict[int, EmulatedConnection] = {}
        self._calls_by_id: dict[str, RtcConnection] = {}
        self._call_tasks: set[asyncio.Task[Any]] = set()
        self._secrets: dict[str, tuple[float, dict[str, Any]]] = {}
        self._texts: dict[str, int] = {}
        self._calls: dict[str, int] = {}

    # ------------------------------------------------------------------ addresses
    @property
    def url(self) -> str:
        """The WebSocket endpoint (add ``?model=...``)."""
        return f"{self.ws_base_url}{self.ws_path}"

    def session_options(self) -> dict[str, Any]:
        """``base_url``, ``api_key`` and ``ca_file`` for :class:`~realtime_openai.OpenAIRealtime`."""
        return {"base_url": f"{self.base_url}/v1", "api_key": self.api_key, "ca_file": self.ca_file}

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get(self.ws_path, self._websocket)
        app.router.add_post("/v1/realtime/client_secrets", self._client_secrets)
        app.router.add_post("/v1/realtime/calls", self._rtc_call)
        app.router.add_post("/v1/realtime/calls/{call_id}/hangup", self._rtc_hangup)

    async def _shutdown(self) -> None:
        calls = list(self._calls_by_id.values())
        for conn in calls:
            await conn.close(1001, "emulator shutting down")
        for conn in calls:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await conn.ended.wait()
            await conn.teardown()
        tasks = [t for t in self._call_tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await super()._shutdown()

    # ------------------------------------------------------------------ test helpers
    def server_events_of(self, connection: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Server events sent (on one connection, of one type)."""
        return [
            e
            for c, e in self.server_events
            if (connection is None or c == connection) and (kind is None or e["type"] == kind)
        ]

    def connection(self, number: int | None = None) -> EmulatedConnection:
        """A live connection (the newest by default)."""
        if not self._live:
            raise LookupError("no live connection")
        return self._live[number if number is not None else max(self._live)]

    async def inject(self, event: dict[str, Any] | str, connection: int | None = None) -> None:
        """Send a server event (a dict, or raw text for malformed frames) on a live connection."""
        conn = self.connection(connection)
        if isinstance(event, str):
            await conn.send_raw(event)
        else:
            await conn.send(event)

    async def expire(self, connection: int | None = None) -> None:
        """End a connection now as if it hit the session cap."""
        await self.connection(connection).expire()

    async def partition(self, connection: int | None = None) -> None:
        """WebRTC: the network to a call dies silently (no close, no packet: the client must notice)."""
        from .webrtc import RtcConnection

        conn = self.connection(connection)
        if not isinstance(conn, RtcConnection):
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
        self._live[conn.number] = conn

    def call_ended(self, conn: RtcConnection) -> None:
        self._calls_by_id.pop(conn.call_id, None)
        if self._live.get(conn.number) is conn:
            del self._live[conn.number]

    async def _rtc_call(self, request: web.Request) -> web.StreamResponse:
        from .webrtc import answer_call  # lazy: aiortc loads on the first call only

        return await answer_call(self, request)

    async def _rtc_hangup(self, request: web.Request) -> web.StreamResponse:
        from .webrtc import hangup_call

        return await hangup_call(self, request)

    # ------------------------------------------------------------------ used by connections
    def log_server_event(self, connection: int, event: dict[str, Any]) -> None:
        self.server_events.append((connection, event))

    def part_type(self, audio: bool) -> str:
        if self.content_part_types == "output_audio":
            return "output_audio" if audio else "output_text"
        return self.dialect.audio_part if audio else self.dialect.text_part

    def remember_text(self, text: str, connection: int) -> None:
        if text:
            self._texts[text] = min(connection, self._texts.get(text, connection))

    def seen_text(self, text: object, connection: int) -> bool:
        return isinstance(text, str) and self._texts.get(text, connection) < connection

    def remember_call(self, call_id: str, connection: int) -> None:
        self._calls[call_id] = min(connection, self._calls.get(call_id, connection))

    def seen_call(self, call_id: object, connection: int) -> bool:
        return isinstance(call_id, str) and self._calls.get(call_id, connection) < connection

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
        entry = self._secrets.get(key)
        if entry is not None and entry[0] > time.time():
            return True, entry[1]
        return False, None

    @staticmethod
    def bad_key_message(key: str | None) -> str:
        if not key:
            return "You didn't provide an API key. Provide it in the Authorization header (Bearer auth)."
        shown = redact(key[:3] + "-" + "*" * 4 + key[-4:]) if len(key) > 8 else "***"
        return f"Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys."

    # ------------------------------------------------------------------ WebSocket
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        key, offered = self.key_of(request)
        if request.headers.get("OpenAI-Beta"):
            return _http_error(
                400,
                "unsupported_protocol",
                "This emulator speaks the GA Realtime protocol only; drop the OpenAI-Beta header.",
            )
        model = request.query.get("model")
        if request.query.get("call_id") or request.query.get("intent"):
            return _http_error(
                400, "invalid_value", "This emulator implements realtime sessions by model only (no call_id or intent)."
            )
        valid, bound = self.session_for_key(key)
        if not valid and self.auth_failure == "http":
            return _http_error(401, "invalid_api_key", self.bad_key_message(key))
        if bound is None and not model and valid:
            return _http_error(400, "missing_required_parameter", "Missing required parameter: 'model'.", "model")
        ws = web.WebSocketResponse(
            protocols=("realtime",) if "realtime" in offered else (),
            max_msg_size=32 * 1024 * 1024,
            compress=False,
        )
        await ws.prepare(request)
        self.track(ws)
        try:
            if not valid:  # auth_failure == "event"
                payload = RequestError("invalid_api_key", self.bad_key_message(key), None).payload()
                await ws.send_json({"event_id": new_id("event"), "type": "error", "error": payload})
                await ws.close(code=1008, message=b"invalid api key")
                return ws
            config = dict(bound) if bound is not None else self.schema.defaults(model or self.model)
            if model and bound is not None:
                config["model"] = model
            number = self.new_connection()
            conn = EmulatedConnection(self, ws, request, number, config)
            self._live[number] = conn
            try:
                await conn.run()
            finally:
                self._live.pop(number, None)
        finally:
            self.untrack(ws)
        return ws

    # ------------------------------------------------------------------ client secrets
    async def _client_secrets(self, request: web.Request) -> web.Response:
        key, _ = self.key_of(request)
        if key is None or not secrets.compare_digest(key, self.api_key):
            return _http_error(401, "invalid_api_key", self.bad_key_message(key))
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return _http_error(400, "invalid_json", "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _http_error(400, "invalid_type", "Invalid type for body: expected an object.")
        for name in body:  # pyright: ignore[reportUnknownVariableType]
            if name not in ("expires_after", "session"):
                return _http_error(400, "unknown_parameter", f"Unknown parameter: '{name}'.", str(name))  # pyright: ignore[reportUnknownArgumentType]
        seconds = 600
        expires_after = body.get("expires_after")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if expires_after is not None:
            if not isinstance(expires_after, dict) or expires_after.get("anchor", "created_at") != "created_at":  # pyright: ignore[reportUnknownMemberType]
                return _http_error(
                    400,
                    "invalid_value",
                    "Invalid 'expires_after': anchor must be 'created_at'.",
                    "expires_after.anchor",
                )
            seconds = expires_after.get("seconds", 600)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if isinstance(seconds, bool) or not isinstance(seconds, int) or not 10 <= seconds <= 7200:
                return _http_error(
                    400,
                    "invalid_value",
                    "Invalid 'expires_after.seconds': expected an integer between 10 and 7200.",
                    "expires_after.seconds",
                )
        session: Any = body.get("session") or {"type": "realtime"}  # pyright: ignore[reportUnknownMemberType]
        model = session.get("model") if isinstance(session, dict) else None  # pyright: ignore[reportUnknownMemberType]
        base = self.schema.defaults(model if isinstance(model, str) else self.model)
        try:
            config = self.schema.apply_update(base, session, audio_produced=False)
        except RequestError as exc:
            return _http_error(400, exc.code, exc.message, exc.param)
        value = "ek_" + secrets.token_hex(16)
        expires_at = int(time.time()) + int(seconds)  # pyright: ignore[reportUnknownArgumentType]
        self._secrets[value] = (float(expires_at), config)
        return web.json_response(
            {"value": value, "expires_at": expires_at, "session": self.schema.echo(config, new_id("sess"), 0)}
        )
