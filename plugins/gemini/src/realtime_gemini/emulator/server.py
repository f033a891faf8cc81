"""The loopback Gemini Live server: :class:`GeminiEmulator`."""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from realtime_core.emulator import (
    AUDIO_ACCOUNTING,
    FAULT_PHASES,
    FRAMEWORK_FAULT_KINDS,
    PlannedToolCall,
    ScenarioPlayer,
    ToolCallSpec,
    WebEmulator,
)

from ..models import known_models
from .connection import GeminiConnection
from .profiles import Profile, Traffic
from .setup import Route
from .store import Conversation, HandleStore

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["DEFAULT_API_KEY", "DEFAULT_EPHEMERAL_TOKEN", "DEFAULT_VERTEX_TOKEN", "GeminiEmulator", "match_route"]

# /ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent (one or more leading
# slashes: the official SDK joins its base URL and path into "//ws/...").
_DEV = re.compile(
    r"^/+ws/google\.ai\.generativelanguage\.(v1beta|v1alpha)\.GenerativeService\.(BidiGenerateContent|BidiGenerateContentConstrained)$"
)
_VERTEX = re.compile(r"^/+ws/google\.cloud\.aiplatform\.(v1|v1beta1)\.LlmBidiService/BidiGenerateContent$")
_DEV_PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}"

# Test credentials the emulator accepts by default (not secrets: nothing real accepts them).
DEFAULT_API_KEY = "emulator-key"
DEFAULT_EPHEMERAL_TOKEN = "auth_tokens/emulator-token"  # noqa: S105
DEFAULT_VERTEX_TOKEN = "emulator-access-token"  # noqa: S105

# Every model of the plugin's catalogue (the current ones and the peers' defaults among them).
EMULATED_MODELS: tuple[str, ...] = known_models()


def match_route(path: str) -> Route | None:
    m = _DEV.match(path)
    if m is not None:
        version, method = m.groups()
        if method == "BidiGenerateContentConstrained":
            return Route("constrained", version) if version == "v1alpha" else None
        return Route("developer", version)
    m = _VERTEX.match(path)
    if m is not None:
        return Route("vertex", m.group(1))
    return None


class _GeminiPlayer(ScenarioPlayer):
    """Generated tool call ids look like the Developer API's (``function-call-<uint64>``)."""

    _next = 14336847574026984983

    def _call(self, spec: ToolCallSpec) -> PlannedToolCall:
        if spec.call_id:
            return PlannedToolCall(spec.call_id, spec.name, dict(spec.arguments))
        self._next = (self._next * 6364136223846793005 + 1442695040888963407) % 2**64
        return PlannedToolCall(f"function-call-{self._next}", spec.name, dict(spec.arguments))


class GeminiEmulator(WebEmulator):
    """A Gemini Live server on 127.0.0.1 that speaks the real protocol at the real paths.

    It accepts the Developer API (v1beta, v1alpha), the ephemeral-token constrained endpoint and the
    Vertex AI path; checks credentials and ``setup`` the way the server does (errors are close frames
    with the server's wording); plays the :class:`~realtime_core.emulator.Scenario` as model turns with
    energy VAD or manual activity; interrupts on barge-in; calls tools; issues resumption handles and
    restores their conversation on a new connection; sends ``goAway`` and enforces it.

    :param scenario: what the fake model does (default: echo the user's speech).
    :param tls: serve ``wss://`` with a certificate from the run-time CA (:attr:`ca_file`); the official
        SDK always uses TLS.
    :param latency: ``"none"``, ``"realistic"`` or a :class:`~realtime_core.emulator.LatencyProfile`.
    :param profile: ``"auto"`` (per model), a family (``"2.5"``, ``"3.1"``, ``"3.8"``, ``"3.8-thinking"``,
        ``"transcribe"``) or a :class:`Profile` (see :mod:`realtime_gemini.emulator.profiles`).
    :param traffic: the fields real traffic carries (:class:`Traffic`; default: what the service sends).
    :param api_key: the key clients must send (None: any non-empty key).
    :param ephemeral_token: the token the constrained endpoint accepts (None: any).
    :param vertex_token: the bearer token the Vertex path accepts (None: any).
    :param frames: ``"binary"`` (what the real server sends) or ``"text"`` frames.
    :param known_models: model ids that exist (None: any); others close with 1008 "not found".
    :param max_message_bytes: the largest client frame accepted; a bigger one closes with 1009.
    :param default_modality: what an unset ``responseModalities`` means (sources disagree).
    :param resumption_update_on_setup: send a handle right after ``setupComplete`` (unverified).
    :param resumption_update_during_tool: send ``{"resumable": false}`` while a tool call is pending.
    :param handle_ttl_s: how long handles stay valid.
    :param concurrent_resume: ``"allow"`` resuming a handle while its old connection is still open, or
        ``"reject"`` it (1008 "session not found") - the real behaviour is unknown.
    :param session_lifetime_s: send ``goAway`` this long after each connection opens (None: never).
    :param go_away_time_left_s: the ``timeLeft`` of that goAway; the connection is cut when it runs out.
    :param fault_go_away_time_left_s: ``timeLeft`` of a Scenario ``go_away`` fault without ``delay_ms``.
    :param go_away_close: at the deadline, ``"1008"`` (close frame) or ``"drop"`` (no close frame).
    :param turn_complete_delay: ``"none"``, or ``"playback"`` to hold ``turnComplete`` until the reply
        would have finished playing in real time (as the real server does).
    :param late_interrupt: send a lone ``interrupted`` when speech starts while the last reply would
        still be playing.
    :param vertex_omit_call_ids: leave ``id`` out of tool calls on the Vertex path (as often observed).
    :param unknown_tool_response: ``"close"`` (1007) or ``"ignore"`` a toolResponse for no pending call.
    :param reject_upgrades: HTTP statuses to answer the next upgrades with (e.g. ``[429]``), one each.
    """

    provider: ClassVar[str] = "gemini"
    output_sample_rate: ClassVar[int] = 24000
    interrupt_facts: ClassVar[tuple[str, ...]] = ()
    """Gemini has no cancel or truncate message: a local interrupt tells the server nothing, so there is
    nothing to observe (``cancel`` and ``truncate`` are not in :attr:`observes` either)."""
    observes: ClassVar[frozenset[str]] = frozenset(
        {
            "session_configured", "text_in", "response_requested", "tool_result", "video_frame", "state_restored",
            "barge_in", "response_sent", "session_finished", "client_closed",
        }
    ) | frozenset(AUDIO_ACCOUNTING)  # fmt: skip
    fault_kinds: ClassVar[frozenset[str]] = FRAMEWORK_FAULT_KINDS | {"expire", "go_away"}
    fault_phases: ClassVar[frozenset[str]] = frozenset(FAULT_PHASES)
    default_latency: ClassVar[str | None] = None
    """The latency preset of an emulator made without ``latency=`` whose scenario names none (None: no
    latency); a test suite sets it to run all its tests under ``"realistic"`` latency too."""

    def __init__(
        self,
        *,
        profile: Literal["auto", "2.5", "3.1", "3.8", "3.8-thinking", "transcribe"] | Profile = "auto",
        traffic: Traffic | None = None,
        api_key: str | None = DEFAULT_API_KEY,
        ephemeral_token: str | None = DEFAULT_EPHEMERAL_TOKEN,
        vertex_token: str | None = DEFAULT_VERTEX_TOKEN,
        frames: Literal["binary", "text"] = "binary",
        known_models: tuple[str, ...] | None = EMULATED_MODELS,
        max_message_bytes: int = 32 * 1024 * 1024,
        default_modality: Literal["AUDIO", "TEXT"] = "AUDIO",
        resumption_update_on_setup: bool = False,
        resumption_update_during_tool: bool = True,
        handle_ttl_s: float = 7200.0,
        concurrent_resume: Literal["allow", "reject"] = "allow",
        session_lifetime_s: float | None = None,
        go_away_time_left_s: float = 50.0,
        fault_go_away_time_left_s: float = 3.0,
        go_away_close: Literal["1008", "drop"] = "1008",
        turn_complete_delay: Literal["none", "playback"] = "none",
        late_interrupt: bool = False,
        vertex_omit_call_ids: bool = True,
        unknown_tool_response: Literal["close", "ignore"] = "close",
        reject_upgrades: list[int] | None = None,
        **harness: Any,
    ) -> None:
        scenario = harness.get("scenario")
        if "latency" not in harness and (scenario is None or scenario.latency is None):
            harness["latency"] = self.default_latency
        super().__init__(**harness)
        self.player = _GeminiPlayer(self.scenario, self.output_sample_rate, latency=self.latency)
        self.profile = profile
        self.traffic = traffic or Traffic()
        self.api_key = api_key
        self.ephemeral_token = ephemeral_token
        self.vertex_token = vertex_token
        self.frames = frames
        self.known_models = known_models
        self.max_message_bytes = max_message_bytes
        self.default_modality = default_modality
        self.resumption_update_on_setup = resumption_update_on_setup
        self.resumption_update_during_tool = resumption_update_during_tool
        self.handles = HandleStore(handle_ttl_s)
        self.concurrent_resume = concurrent_resume
        self.session_lifetime_s = session_lifetime_s
        self.go_away_time_left_s = go_away_time_left_s
        self.fault_go_away_time_left_s = fault_go_away_time_left_s
        self.go_away_close = go_away_close
        self.turn_complete_delay = turn_complete_delay
        self.late_interrupt = late_interrupt
        self.vertex_omit_call_ids = vertex_omit_call_ids
        self.unknown_tool_response = unknown_tool_response
        self.reject_upgrades: deque[int] = deque(reject_upgrades or ())

        self.conversations: list[Conversation] = []
        """Every conversation, in order of creation (a resumed connection starts a restored copy)."""
        self.live_conversations: dict[str, set[int]] = {}
        self.connection_conversation: dict[int, Conversation] = {}
        self.setups: dict[int, dict[str, Any]] = {}
        """The normalized (camelCase) setup of each connection."""
        self.closes: list[tuple[int, int, str]] = []
        """Every close the server initiated: (connection, code, reason); 1006: dropped without a close frame."""

    # ------------------------------------------------------------------ addresses and credentials
    def session_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"api_key": self.api_key or DEFAULT_API_KEY, "base_url": self.ws_base_url}
        if self.ca_file:
            options["ca_file"] = self.ca_file
        return options

    @property
    def url(self) -> str:
        return self.ws_base_url + _DEV_PATH.format(version="v1beta", method="BidiGenerateContent")

    def urls(self) -> dict[str, str]:
        base = self.ws_base_url
        return {
            "websocket (API key)": self.url,
            "websocket (ephemeral token)": base
            + _DEV_PATH.format(version="v1alpha", method="BidiGenerateContentConstrained"),
            "websocket (Vertex AI)": base + "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent",
            "base URL (google-genai HttpOptions.base_url)": self.base_url + "/",
        }

    def credentials(self) -> dict[str, str]:
        """Every credential accepted, unmasked (fixed test values): the key (``x-goog-api-key`` or
        ``?key=``), the ephemeral token (``Authorization: Token`` or ``?access_token=``), the Vertex token."""
        found = {
            "api_key": self.api_key or "(any non-empty key)",
            "ephemeral_token": self.ephemeral_token or "(any non-empty token)",
            "vertex_access_token": self.vertex_token or "(any non-empty token)",
        }
        return found

    # ------------------------------------------------------------------ inspection
    @property
    def sent(self) -> deque[tuple[int, Any]]:
        """``(connection, message)`` for the last server messages (a hostile frame as its raw text)."""
        return self.sent_log

    def sent_messages(self, connection: int | None = None) -> list[Any]:
        return [m for c, m in self.sent_log if connection is None or c == connection]

    def conversation(self, connection: int) -> Conversation:
        """The conversation a connection served."""
        return self.connection_conversation[connection]

    def connection(self, number: int | None = None) -> GeminiConnection:
        """An open connection (the newest by default)."""
        conn = self.live_connection(number)
        assert isinstance(conn, GeminiConnection)
        return conn

    async def go_away_all(self, time_left: float) -> None:
        """Send ``goAway`` on every open connection now (and enforce it)."""
        for conn in list(self.open_connections.values()):
            if isinstance(conn, GeminiConnection):
                await conn.announce_go_away(time_left)

    async def drop_all(self) -> None:
        """Cut every open connection without a close frame."""
        for conn in list(self.open_connections.values()):
            await conn.close(1006, "dropped")

    # ------------------------------------------------------------------ serving
    def setup_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        route = match_route(request.path)
        if route is None:
            return web.Response(status=404, text="Not Found")
        if self.reject_upgrades:
            status = self.reject_upgrades.popleft()
            return web.Response(
                status=status, text="Resource has been exhausted (e.g. check quota)." if status == 429 else "Error"
            )

        def connect(emu: GeminiEmulator, req: web.Request, ws: web.WebSocketResponse, number: int) -> GeminiConnection:
            return GeminiConnection(emu, req, ws, number, route)

        # the upgrade always succeeds: credentials are checked after the first message, as the server does
        return await self.serve_websocket(
            request, connect, max_msg_size=self.max_message_bytes, autoping=True, heartbeat=None, compress=False
        )
