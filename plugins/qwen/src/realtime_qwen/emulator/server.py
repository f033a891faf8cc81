"""The Qwen-Omni realtime emulator: an aiohttp server speaking DashScope's protocol on loopback.

Route (like ``dashscope-intl.aliyuncs.com``): ``GET /api-ws/v1/realtime?model=...`` — the WebSocket, with
``Authorization: Bearer <key>`` (HTTP 401 otherwise, or for a key configured as belonging to the other
region), HTTP 400 without ``?model=``, for an unknown model, or for a model served only on workspace hosts
when the request names no workspace (``X-DashScope-WorkSpace``). The model named in the URL selects the
profile (turbo, qwen3-omni-flash, qwen3.5 plus/flash, qwen3.8 flash) with its voices, defaults, options and
limits.

Built on realtime-openai-protocol's :class:`~realtime_openai_protocol.emulator.OpenAIStyleEmulator` (and so
on the core emulator framework: tasks, faults, the turn template, latency profiles, facts). Every server
event sent is kept in :attr:`server_events`, every client event in ``received``; the protocol-neutral facts
DashScope carries are noted (never ``state_restored``, ``truncate`` or ``say``: DashScope has none of them).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from aiohttp import web

from realtime_core import ConfigurationError
from realtime_core.emulator import AUDIO_ACCOUNTING, FACTS, FAULT_PHASES, FRAMEWORK_FAULT_KINDS
from realtime_openai_protocol.emulator import OpenAIStyleEmulator

from ..endpoints import REALTIME_PATH
from ..models import DEFAULT_MODEL, ModelProfile, resolve_model
from ..protocol import DASHSCOPE
from .connection import QwenConnection
from .schema import DashScopeSchema

__all__ = ["TEST_API_KEY", "QwenEmulator"]

TEST_API_KEY = "sk-emulator-qwen-0000-test"
"""The key :meth:`QwenEmulator.session_options` hands out (a test value, not a secret)."""


class QwenEmulator(OpenAIStyleEmulator):
    """A loopback DashScope Qwen-Omni realtime server driven by a :class:`~realtime_core.emulator.Scenario`.

    Switches (default: what the real service does, as far as it is known; protocol notes §1-§5):

    :param api_key: the key it accepts.
    :param wrong_region_keys: keys refused with HTTP 401, as the other region's keys are.
    :param model: the model of :meth:`urls` (a session names its own in ``?model=``).
    :param workspace_hosts: ``"require"`` a workspace (``X-DashScope-WorkSpace``) for the models served only on
        workspace hosts (qwen3.8: the regional hosts refuse them), or ``"accept"`` them without one.
    :param max_session_seconds: the session cap (7200 s); at the cap the socket closes with
        ``expire_close_code`` (the real code is undocumented; 1000 by default) and a reason naming the cap.
    :param idle_timeout_s: close with code 1007 after this long without a response (``idle_reason=
        "no_response"``, the default) or without user audio (``"no_input"``); 0 disables. 180 s on the
        real service (one relay measured 300 s); tests shorten it.
    :param cancel_response_done: whether ``response.cancel`` ends with ``response.done`` (None: as observed
        per model: not on qwen3.5/3.8, yes on the others). Barge-ins always end with one.
    :param transcription_timing: user transcripts ``"after_response_created"`` (as observed) or
        ``"before_response"``; ``transcription_delay_ms`` delays them further (they then land mid-reply).
    :param transcription_previews: stream ``text``/``stash`` previews before ``completed`` (None: on qwen3.5/3.8).
    :param transcription_extras: add ``language`` and ``emotion`` to transcription events (the transcriber
        detects both; not seen in Omni traffic yet).
    :param obfuscation: add ``obfuscation`` padding to transcription events (OpenAI does; no evidence for Qwen).
    :param transcription_failure: answer every transcription with ``...input_audio_transcription.failed`` and
        its ``error`` object instead of ``completed``.
    :param transcribe_manual_turns: send transcripts for manual commits (one relay saw none on flash models).
    :param usage_plugins: ``usage.plugins.search`` in ``response.done`` (None: when web search is on, as
        documented).
    :param session_finish: ``"accept"`` ``session.finish`` (then the socket closes after ``finish_close_after_s``
        unless the client closed it) or ``"reject"`` it ("invalid event type", reported on one model).
    :param finish_ack: answer ``session.finish`` with ``session.finished`` (None: per model; qwen3.8 documents
        none).
    :param max_image_b64_bytes: the image size limit (256 KB of base64).
    :param max_image_fps: refuse images arriving faster than this (None: accept; 1-2 per second advised).
    :param options: the protocol's (``transcription_usage``, ``item_object``...) and the framework's switches
        (``scenario``, ``tls``, ``latency``...).
    """

    provider = "qwen"
    output_sample_rate = 24000
    input_sample_rate: ClassVar[int] = 16000
    interrupt_facts: ClassVar[tuple[str, ...]] = ("cancel",)
    observes: ClassVar[frozenset[str]] = (frozenset(FACTS) - {"truncate", "say", "state_restored"}) | frozenset(AUDIO_ACCOUNTING)
    fault_kinds: ClassVar[frozenset[str]] = FRAMEWORK_FAULT_KINDS | {"expire", "go_away"}
    fault_phases: ClassVar[frozenset[str]] = frozenset(FAULT_PHASES)

    def __init__(
        self,
        *,
        api_key: str = TEST_API_KEY,
        wrong_region_keys: Iterable[str] = (),
        model: str = DEFAULT_MODEL,
        workspace_hosts: Literal["require", "accept"] = "require",
        max_session_seconds: float = 7200.0,
        expire_close_code: int = 1000,
        idle_timeout_s: float = 180.0,
        idle_reason: Literal["no_response", "no_input"] = "no_response",
        cancel_response_done: bool | None = None,
        transcription_timing: Literal["after_response_created", "before_response"] = "after_response_created",
        transcription_delay_ms: float = 0.0,
        transcription_previews: bool | None = None,
        transcription_extras: bool = False,
        obfuscation: bool = False,
        transcription_failure: bool = False,
        transcribe_manual_turns: bool = True,
        usage_plugins: bool | None = None,
        session_finish: Literal["accept", "reject"] = "accept",
        finish_ack: bool | None = None,
        finish_close_after_s: float = 1.0,
        max_image_b64_bytes: int = 256 * 1024,
        max_image_fps: float | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("item_object", True)
        super().__init__(
            rules=DashScopeSchema(), dialect=DASHSCOPE, max_session_seconds=max_session_seconds,
            expire_close_code=expire_close_code, transcription_timing=transcription_timing, obfuscation=obfuscation,
            assistant_item_done=False, **options,
        )  # fmt: skip
        for name, value, allowed in (
            ("idle_reason", idle_reason, ("no_response", "no_input")),
            ("session_finish", session_finish, ("accept", "reject")),
            ("workspace_hosts", workspace_hosts, ("require", "accept")),
        ):
            if value not in allowed:
                raise ConfigurationError(f"{name} must be one of {allowed}, got {value!r}")
        if idle_timeout_s < 0 or transcription_delay_ms < 0 or finish_close_after_s < 0:
            raise ConfigurationError("idle_timeout_s, transcription_delay_ms and finish_close_after_s must be >= 0")
        resolve_model(model)
        self.api_key = api_key
        self.model = model
        self.wrong_region_keys = frozenset(wrong_region_keys)
        self.workspace_hosts = workspace_hosts
        self.idle_timeout_s = float(idle_timeout_s)
        self.idle_reason = idle_reason
        self.cancel_response_done = cancel_response_done
        self.transcription_delay_ms = float(transcription_delay_ms)
        self.transcription_previews = transcription_previews
        self.transcription_extras = transcription_extras
        self.transcription_failure = transcription_failure
        self.transcribe_manual_turns = transcribe_manual_turns
        self.usage_plugins = usage_plugins
        self.session_finish = session_finish
        self.finish_ack = finish_ack
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
        return f"{self.ws_base_url}{REALTIME_PATH}"

    def urls(self) -> dict[str, str]:
        return {"websocket": f"{self.url}?model={self.model}"}

    def session_options(self) -> dict[str, Any]:
        """``base_url``, ``api_key`` and ``ca_file`` for :class:`~realtime_qwen.QwenRealtime`."""
        return {"base_url": self.url, "api_key": self.api_key, "ca_file": self.ca_file}

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get(REALTIME_PATH, self._websocket)

    @property
    def dashscope_schema(self) -> DashScopeSchema:
        return DashScopeSchema()

    # ------------------------------------------------------------------ behaviour switches per model
    def cancel_sends_done(self, profile: ModelProfile) -> bool:
        return profile.cancel_sends_done if self.cancel_response_done is None else self.cancel_response_done

    def transcription_deltas(self, profile: ModelProfile) -> bool:
        return profile.transcription_deltas if self.transcription_previews is None else self.transcription_previews

    def finish_acknowledged(self, profile: ModelProfile) -> bool:
        return profile.finish_acknowledged if self.finish_ack is None else self.finish_ack

    def usage_plugins_for(self, config: dict[str, Any]) -> bool:
        return bool(config.get("enable_search")) if self.usage_plugins is None else self.usage_plugins

    # ------------------------------------------------------------------ test helpers
    def connection(self, number: int | None = None) -> QwenConnection:
        """An open connection (the newest by default). :raises LookupError: when none is open."""
        conn = self.live_connection(number)
        assert isinstance(conn, QwenConnection)
        return conn

    async def inject(self, event: dict[str, Any] | str, connection: int | None = None) -> None:
        """Send a server event (a dict, or raw text for malformed frames) on an open connection."""
        conn = self.connection(connection)
        if isinstance(event, str):
            await conn.send_raw(event)
        else:
            await conn.send(event)

    # ------------------------------------------------------------------ WebSocket
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        model = request.query.get("model")
        auth = request.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.startswith("Bearer ") else None
        workspace = request.headers.get("X-DashScope-WorkSpace")
        record: dict[str, Any] = {"model": model, "workspace": workspace}
        self.handshakes.append(record)
        if not key or key in self.wrong_region_keys or not secrets.compare_digest(key, self.api_key):
            record["status"] = 401
            return web.json_response({"code": "InvalidApiKey", "message": "Invalid API-key provided."}, status=401)
        if not model:
            record["status"] = 400
            return web.json_response({"code": "InvalidParameter", "message": "Missing required query parameter: model"}, status=400)
        try:
            profile = resolve_model(model)
        except ConfigurationError:
            record["status"] = 400
            return web.json_response({"code": "InvalidParameter", "message": "Model not exist."}, status=400)
        if profile.workspace_only and not workspace and self.workspace_hosts == "require":
            record["status"] = 400  # the wording is not documented
            message = f"Model {model} is only served on workspace endpoints ({{workspace}}.{{region}}.maas.aliyuncs.com)."
            return web.json_response({"code": "InvalidParameter", "message": message}, status=400)
        record["status"] = 101
        config = self.rules.defaults(model)

        def connection(emu: QwenEmulator, req: web.Request, ws: web.WebSocketResponse, number: int) -> QwenConnection:
            return QwenConnection(emu, req, ws, number, config, profile=profile)

        return await self.serve_websocket(request, connection, max_msg_size=32 * 1024 * 1024, compress=False)
