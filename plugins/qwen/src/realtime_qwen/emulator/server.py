"""The Qwen-Omni realtime emulator: an aiohttp server speaking DashScope's protocol on loopback.

Route (like ``dashscope-intl.aliyuncs.com``): ``GET /api-ws/v1/realtime?model=...`` — the WebSocket, with
``Authorization: Bearer <key>`` (HTTP 401 otherwise, or for a key configured as belonging to the other
region), HTTP 400 without ``?model=`` or for an unknown model. The model named in the URL selects the profile
(turbo, qwen3-omni-flash, qwen3.5 plus/flash) with its voices, defaults, options and limits.

The open points of the protocol notes are constructor switches (see :class:`QwenEmulator`). Every server
event sent is kept in :attr:`server_events`, every client event in ``received``; the protocol-neutral facts
(:data:`realtime_core.emulator.FACTS`) DashScope carries are noted: ``response_requested``, ``cancel``,
``tool_result``, ``text_in``, ``video_frame``, ``barge_in``, ``session_finished``. Never ``state_restored``
(DashScope cannot resume) nor ``truncate`` (it has no truncation).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any, ClassVar, Literal, cast

from aiohttp import web

from realtime_core import ConfigurationError
from realtime_core.emulator import Scenario
from realtime_openai.emulator import OpenAIEmulator

from ..dialect import DASHSCOPE
from ..endpoints import REALTIME_PATH
from ..models import DEFAULT_MODEL, ModelProfile, resolve_model
from .connection import QwenConnection
from .schema import DashScopeSchema

__all__ = ["TEST_API_KEY", "QwenEmulator"]

TEST_API_KEY = "sk-emulator-qwen-0000-test"
"""The key :meth:`QwenEmulator.session_options` hands out (a test value, not a secret)."""


class QwenEmulator(OpenAIEmulator):
    """A loopback DashScope Qwen-Omni realtime server driven by a :class:`~realtime_core.emulator.Scenario`.

    :param api_key: the key it accepts.
    :param wrong_region_keys: keys refused with HTTP 401, as the other region's keys are.
    :param max_session_seconds: the session cap (7200 s); at the cap the socket closes with
        ``expire_close_code`` (the real code is undocumented; 1000 by default) and a reason naming the cap.
    :param idle_timeout_s: close with code 1007 after this long without a response (``idle_reason=
        "no_response"``, the default) or without user audio (``"no_input"``); 0 disables. 180 s on the
        real service (one relay measured 300 s); tests shorten it.
    :param cancel_response_done: whether ``response.cancel`` ends with ``response.done`` (None: as observed
        per model: not on qwen3.5, yes on the others). Barge-ins always end with one.
    :param transcription_timing: user transcripts ``"after_response_created"`` (as observed) or
        ``"before_response"``; ``transcription_delay_ms`` delays them further (they then land mid-reply).
    :param transcription_previews: stream ``text``/``stash`` previews before ``completed`` (None: on qwen3.5).
    :param transcribe_manual_turns: send transcripts for manual commits (one relay saw none on flash models).
    :param session_finish: ``"accept"`` ``session.finish`` (``session.finished``, then the socket closes after
        ``finish_close_after_s`` unless the client closed it) or ``"reject"`` it ("invalid event type").
    :param max_image_b64_bytes: the image size limit (256 KB of base64).
    :param max_image_fps: refuse images arriving faster than this (None: accept; 1-2 per second advised).
    """

    provider = "qwen"
    output_sample_rate = 24000
    input_sample_rate: ClassVar[int] = 16000
    ws_path: ClassVar[str] = REALTIME_PATH
    interrupt_facts = ("cancel",)

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int = 20000,
        api_key: str = TEST_API_KEY,
        wrong_region_keys: Iterable[str] = (),
        model: str = DEFAULT_MODEL,
        max_session_seconds: float = 7200.0,
        expire_close_code: int = 1000,
        idle_timeout_s: float = 180.0,
        idle_reason: Literal["no_response", "no_input"] = "no_response",
        cancel_response_done: bool | None = None,
        transcription_timing: Literal["after_response_created", "before_response"] = "after_response_created",
        transcription_delay_ms: float = 0.0,
        transcription_previews: bool | None = None,
        transcribe_manual_turns: bool = True,
        session_finish: Literal["accept", "reject"] = "accept",
        finish_close_after_s: float = 1.0,
        max_image_b64_bytes: int = 256 * 1024,
        max_image_fps: float | None = None,
    ) -> None:
        super().__init__(
            scenario=scenario,
            tls=tls,
            host=host,
            port=port,
            log_limit=log_limit,
            api_key=api_key,
            model=model,
            max_session_seconds=max_session_seconds,
            expire_close_code=expire_close_code,
            transcription_timing=transcription_timing,
            obfuscation=False,
            dialect=DASHSCOPE,
            schema=DashScopeSchema(),
        )
        if idle_reason not in ("no_response", "no_input"):
            raise ConfigurationError(f"idle_reason must be 'no_response' or 'no_input', got {idle_reason!r}")
        if session_finish not in ("accept", "reject"):
            raise ConfigurationError(f"session_finish must be 'accept' or 'reject', got {session_finish!r}")
        if idle_timeout_s < 0 or transcription_delay_ms < 0 or finish_close_after_s < 0:
            raise ConfigurationError("idle_timeout_s, transcription_delay_ms and finish_close_after_s must be >= 0")
        resolve_model(model)
        self.wrong_region_keys = frozenset(wrong_region_keys)
        self.idle_timeout_s = float(idle_timeout_s)
        self.idle_reason = idle_reason
        self.cancel_response_done = cancel_response_done
        self.transcription_delay_ms = float(transcription_delay_ms)
        self.transcription_previews = transcription_previews
        self.transcribe_manual_turns = transcribe_manual_turns
        self.session_finish = session_finish
        self.finish_close_after_s = float(finish_close_after_s)
        self.max_image_b64_bytes = int(max_image_b64_bytes)
        self.max_image_fps = max_image_fps
        self.idle_closes = 0
        """Connections closed for idleness."""
        self.handshakes: list[dict[str, Any]] = []
        """Per accepted or refused upgrade: the model, the workspace header and the outcome (never the key)."""

    # ------------------------------------------------------------------ addresses
    @property
    def url(self) -> str:
        """The WebSocket endpoint (add ``?model=...``)."""
        return f"{self.ws_base_url}{self.ws_path}"

    def session_options(self) -> dict[str, Any]:
        """``base_url``, ``api_key`` and ``ca_file`` for :class:`~realtime_qwen.QwenRealtime`."""
        return {"base_url": self.url, "api_key": self.api_key, "ca_file": self.ca_file}

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get(self.ws_path, self._websocket)

    @property
    def dashscope_schema(self) -> DashScopeSchema:
        return cast(DashScopeSchema, self.schema)

    # ------------------------------------------------------------------ behaviour switches per model
    def cancel_sends_done(self, profile: ModelProfile) -> bool:
        return profile.cancel_sends_done if self.cancel_response_done is None else self.cancel_response_done

    def transcription_deltas(self, profile: ModelProfile) -> bool:
        return profile.transcription_deltas if self.transcription_previews is None else self.transcription_previews

    def note_idle_close(self, connection: int) -> None:
        self.idle_closes += 1

    # ------------------------------------------------------------------ test helpers
    def connection(self, number: int | None = None) -> QwenConnection:
        """A live connection (the newest by default)."""
        return cast(QwenConnection, super().connection(number))

    # ------------------------------------------------------------------ WebSocket
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        model = request.query.get("model")
        auth = request.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.startswith("Bearer ") else None
        record: dict[str, Any] = {"model": model, "workspace": request.headers.get("X-DashScope-WorkSpace")}
        self.handshakes.append(record)
        if not key or key in self.wrong_region_keys or not secrets.compare_digest(key, self.api_key):
            record["status"] = 401
            return web.json_response({"code": "InvalidApiKey", "message": "Invalid API-key provided."}, status=401)
        if not model:
            record["status"] = 400
            return web.json_response(
                {"code": "InvalidParameter", "message": "Missing required query parameter: model"}, status=400
            )
        try:
            profile = resolve_model(model)
        except ConfigurationError:
            record["status"] = 400
            return web.json_response({"code": "InvalidParameter", "message": "Model not exist."}, status=400)
        record["status"] = 101
        ws = web.WebSocketResponse(max_msg_size=32 * 1024 * 1024, compress=False)
        await ws.prepare(request)
        self.track(ws)
        try:
            number = self.new_connection()
            conn = QwenConnection(self, ws, request, number, self.schema.defaults(model), profile=profile)
            self._live[number] = conn
            try:
                await conn.run()
            finally:
                self._live.pop(number, None)
        finally:
            self.untrack(ws)
        return ws
