"""A loopback emulator of Amazon Bedrock's Nova Sonic stream (``InvokeModelWithBidirectionalStream``).

It serves HTTP/2 over TLS (ALPN ``h2``) on 127.0.0.1 with a certificate from a CA made at run time, so the
real AWS SDK and its awscrt transport talk to it unchanged (the client trusts the CA through ``ca_file=``;
cleartext HTTP/2 is not possible with that client). It checks the request's SigV4 signature and every
event's signature chain against its test credentials (long-term keys, or with a session token), and each
HTTP/2 stream is one :class:`~realtime_nova.emulator.connection.NovaConnection` on the core emulator
framework (turn template, faults, facts, latency profiles).

Switches marked [?] are open questions about the real service; the others choose among orderings and
fields the real service was seen to send, defaulting to what it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar, Literal
from urllib.parse import unquote

import numpy as np

from realtime_core.audio import PcmData
from realtime_core.credentials import SecretStr
from realtime_core.emulator import AUDIO_ACCOUNTING, FAULT_PHASES, FRAMEWORK_FAULT_KINDS, EmulatorServer
from realtime_core.errors import ConfigurationError

from ..models import STREAM_LIMIT_SECONDS, model_info
from .connection import NovaConnection
from .http2 import H2ServerConnection
from .output import ERROR_NAMESPACE
from .sigv4 import AuthFailure, RequestAuth, verify_request

__all__ = ["NovaEmulator"]

log = logging.getLogger("realtime_nova.emulator")
_PATH = re.compile(r"^/model/(?P<model>[^/?]+)/invoke-with-bidirectional-stream(?:\?.*)?$")
_AUDIO_KEEP_SECONDS = 120.0


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigurationError(f"{option} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


class NovaEmulator(EmulatorServer):
    """The Nova Sonic emulator.

    :param scenario: what the fake model does (default: echo).
    :param tls: accepted for the common emulator signature; the emulator always serves TLS because AWS's
        client cannot speak cleartext HTTP/2.
    :param latency: the latency profile (``"none"``, ``"realistic"`` or a :class:`LatencyProfile`).
    :param region: the region the credential scope must name.
    :param access_key_id: the test access key id the signatures are checked against.
    :param secret_access_key: its secret key.
    :param session_token: the session token a client *may* send (temporary credentials); long-term keys
        come without one, and Bedrock accepts both.
    :param require_session_token: refuse requests without the session token (temporary credentials only).
    :param stream_limit_s: the stream time limit (Bedrock: 480 s); tests compress it to cross it quickly.
    :param idle_timeout_s: end a stream that received no input event for this long (None: never).
    :param final_text: ``"after_audio"`` (the real service): a reply's FINAL text blocks come after all its
        audio, the first ending ``END_TURN`` and the next ones ``PARTIAL_TURN``; ``"interleaved"``: each
        sentence's FINAL text right after its audio.
    :param split_user_transcript: deliver one utterance's transcript as two USER text blocks, as the real
        service sometimes does (False: one block).
    :param usage_timing: ``"interleaved"`` (the real service): a usage event with the turn's input tokens
        at its start (before ``completionStart`` on the first turn), one with the output after the reply;
        ``"after_reply"``: one usage event after the reply.
    :param audio_output_role: ``audioOutput`` events carry ``role`` (the real service does).
    :param output_audio_config: the AUDIO ``contentStart``'s ``audioOutputConfiguration``: ``"minimal"``
        (the real service: no ``voiceId``/``audioType``) or ``"full"``.
    :param response_headers: [?] when the 200 response headers go out: ``"after_setup"`` (once
        ``promptStart`` was accepted, so setup failures are HTTP errors) or ``"immediate"``.
    :param completion_per_turn: [?] ``completionStart``/``completionEnd`` around every turn instead of once
        per prompt.
    :param end_stream_on_exception: [?] end the stream after a Scenario ``error`` fault's in-stream
        exception (the emulator always does for protocol violations, the idle timeout and the stream limit).
    :param user_stop_reason: [?] stop reason of the USER transcript blocks.
    :param sentence_segments: speak multi-sentence replies as one SPECULATIVE/AUDIO/FINAL group per sentence.
    :param barge_in: ``"streaming"``: user speech cuts a reply while its audio is being sent; ``"playback"``:
        also while the client is presumably still playing it.
    :param input_sample_rates: [?] accepted ``audioInputConfiguration.sampleRateHertz`` values.
    :param nova1_turn_detection: [?] accept ``turnDetectionConfiguration`` from Nova Sonic 1 too.
    :param nova1_text_replies: [?] make Nova Sonic 1 answer interactive text (the real one does not).
    :param double_encode_tool_arguments: [?] send ``toolUse.content`` JSON-encoded twice (a reported quirk).
    :param malformed: what a ``malformed`` fault breaks: ``"json"`` (the Nova JSON inside a valid chunk, per
        the fault's ``variant``) or ``"crc"`` (the event-stream framing, which ends the stream for the SDK).
    :param verify_signatures: check SigV4 on the request and on every event.
    :param capture_wire: keep the raw request and response bodies (``wire_in``/``wire_out``) for tests.
    """

    provider: ClassVar[str] = "nova"
    output_sample_rate: ClassVar[int] = 24000
    interrupt_facts: ClassVar[tuple[str, ...]] = ()  # Nova has no cancel or truncate message
    observes: ClassVar[frozenset[str]] = frozenset(
        {"session_configured", "text_in", "response_requested", "tool_result", "barge_in", "state_restored",
         "response_sent", "session_finished", "client_closed"}
    ) | frozenset(AUDIO_ACCOUNTING)  # fmt: skip
    fault_kinds: ClassVar[frozenset[str]] = FRAMEWORK_FAULT_KINDS | {"expire", "go_away"}
    fault_phases: ClassVar[frozenset[str]] = frozenset(FAULT_PHASES)

    ACCESS_KEY_ID: ClassVar[str] = "AKIDNOVAEMULATOR0001"
    # Fixed test credentials of the emulator, not secrets of anything real.
    SECRET_ACCESS_KEY: ClassVar[str] = "nova-emulator-test-secret-0123456789abcdef"  # noqa: S105
    SESSION_TOKEN: ClassVar[str] = "nova-emulator-test-session-token"  # noqa: S105

    def __init__(
        self,
        *,
        scenario: Any = None,
        tls: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int = 20000,
        latency: Any = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        require_session_token: bool = False,
        stream_limit_s: float = STREAM_LIMIT_SECONDS,
        idle_timeout_s: float | None = 60.0,
        final_text: Literal["after_audio", "interleaved"] = "after_audio",
        split_user_transcript: bool = True,
        usage_timing: Literal["interleaved", "after_reply"] = "interleaved",
        audio_output_role: bool = True,
        output_audio_config: Literal["minimal", "full"] = "minimal",
        response_headers: Literal["after_setup", "immediate"] = "after_setup",
        completion_per_turn: bool = False,
        end_stream_on_exception: bool = False,
        user_stop_reason: str = "PARTIAL_TURN",
        sentence_segments: bool = True,
        barge_in: Literal["streaming", "playback"] = "streaming",
        input_sample_rates: Iterable[int] = (8000, 16000, 24000),
        nova1_turn_detection: bool = False,
        nova1_text_replies: bool = False,
        double_encode_tool_arguments: bool = False,
        malformed: Literal["json", "crc"] = "json",
        verify_signatures: bool = True,
        capture_wire: bool = False,
    ) -> None:
        if stream_limit_s <= 0:
            raise ConfigurationError("stream_limit_s must be positive")
        super().__init__(scenario=scenario, tls=True, host=host, port=port, log_limit=log_limit, latency=latency)
        self.region = region
        self.access_key_id = access_key_id or self.ACCESS_KEY_ID
        self._secret = secret_access_key or self.SECRET_ACCESS_KEY
        self._token = session_token if session_token is not None else self.SESSION_TOKEN
        self.require_session_token = require_session_token
        self.stream_limit_s = float(stream_limit_s)
        self.idle_timeout_s = idle_timeout_s
        self.final_text = _choice("final_text", final_text, ("after_audio", "interleaved"))
        self.split_user_transcript = split_user_transcript
        self.usage_timing = _choice("usage_timing", usage_timing, ("interleaved", "after_reply"))
        self.audio_output_role = audio_output_role
        self.output_audio_config = _choice("output_audio_config", output_audio_config, ("minimal", "full"))
        self.response_headers = _choice("response_headers", response_headers, ("after_setup", "immediate"))
        self.completion_per_turn = completion_per_turn
        self.end_stream_on_exception = end_stream_on_exception
        self.user_stop_reason = user_stop_reason
        self.sentence_segments = sentence_segments
        self.barge_in = _choice("barge_in", barge_in, ("streaming", "playback"))
        self.input_sample_rates = tuple(input_sample_rates)
        self.nova1_turn_detection = nova1_turn_detection
        self.nova1_text_replies = nova1_text_replies
        self.double_encode_tool_arguments = double_encode_tool_arguments
        self.malformed = _choice("malformed", malformed, ("json", "crc"))
        self.verify_signatures = verify_signatures
        self.capture_wire = capture_wire
        self.wire_in: dict[int, bytearray] = {}
        """Raw request bodies per stream (with ``capture_wire``)."""
        self.wire_out: dict[int, bytearray] = {}
        """Raw response bodies per stream (with ``capture_wire``)."""
        self.violations: list[tuple[int, str]] = []
        """Protocol violations seen, as ``(stream number, message)``; a correct client leaves it empty."""
        self.signatures_verified = 0
        self.tcp_connections = 0
        """TLS connections that negotiated HTTP/2 (streams are multiplexed on them)."""
        self.streams: dict[int, NovaConnection] = {}
        """Open streams by number."""
        self.models: dict[int, str] = {}
        """The model id each stream asked for."""
        self._audio: dict[int, list[np.ndarray]] = {}
        self._audio_rate: dict[int, int] = {}
        self._http_failures: list[tuple[int, str, str]] = []
        self._server: asyncio.Server | None = None
        self._connections: set[H2ServerConnection] = set()
        self._serving: set[asyncio.Task[Any]] = set()
        self._streams_running: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ EmulatorServer
    async def _serve(self) -> int:
        ssl = self.server_ssl_context(alpn=["h2"])
        self._server = await asyncio.start_server(self._on_client, self.host, self.port, ssl=ssl)
        return int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        running = [t for t in self._streams_running if not t.done()]
        if running:
            await asyncio.wait(running, timeout=2.0)
        for conn in list(self._connections):
            conn.abort()
        # Connection handlers end by themselves once their socket is aborted (cancelling them trips an
        # asyncio streams callback); wait for them briefly.
        serving = [t for t in self._serving if not t.done()]
        if serving:
            await asyncio.wait(serving, timeout=2.0)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    def session_options(self) -> dict[str, Any]:
        """Options that point a ``NovaRealtime`` at this emulator: the endpoint, long-term test keys (add
        ``aws_session_token`` for temporary ones), the CA, and the stream limit so the session renews in time."""
        options: dict[str, Any] = {
            "endpoint_uri": self.base_url,
            "region": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": SecretStr(self._secret),
            "ca_file": self.ca_file,
            "stream_limit_s": self.stream_limit_s,
        }
        if self.require_session_token:
            options["aws_session_token"] = SecretStr(self._token)
        return options

    def credentials(self) -> dict[str, str]:
        """Every secret the emulator accepts, unmasked (fixed test values): the secret key, and the session
        token a client may add. The access key id that goes with them (not a secret: it travels in every
        request's Authorization header) is in :meth:`session_options` and :attr:`access_key_id`."""
        return {"aws_secret_access_key": self._secret, "aws_session_token": self._token}

    @property
    def url(self) -> str:
        return f"{self.base_url}/model/<modelId>/invoke-with-bidirectional-stream"

    def urls(self) -> dict[str, str]:
        return {"endpoint": self.base_url, "operation": self.url}

    # ------------------------------------------------------------------ test helpers
    def fail_next_streams(
        self, status: int = 429, error_type: str = "ThrottlingException", message: str = "Too many requests", *, count: int = 1
    ) -> None:
        """Answer the next ``count`` requests with an HTTP error before any stream starts."""
        self._http_failures.extend([(status, error_type, message)] * count)

    def received_audio(self, connection: int | None = None) -> PcmData:
        """Input audio received (on one stream, or the last stream that got any), as one PcmData."""
        if connection is None:
            if not self._audio:
                return PcmData.silence(0, 16000)
            connection = max(self._audio)
        chunks = self._audio.get(connection, [])
        rate = self._audio_rate.get(connection, 16000)
        return PcmData(np.concatenate(chunks), rate, 1) if chunks else PcmData.silence(0, rate)

    def keep_audio(self, connection: int, pcm: PcmData) -> None:
        chunks = self._audio.setdefault(connection, [])
        self._audio_rate[connection] = pcm.sample_rate
        chunks.append(pcm.samples)
        limit = int(_AUDIO_KEEP_SECONDS * pcm.sample_rate)
        while sum(c.size for c in chunks) > limit and len(chunks) > 1:
            chunks.pop(0)

    def violation(self, connection: int, message: str) -> None:
        self.violations.append((connection, message))
        self.record("emulator.violation", {"message": message}, connection)
        log.info("nova emulator: protocol violation on stream %d: %s", connection, message)

    def stream_ended(self, conn: NovaConnection) -> None:
        self.streams.pop(conn.number, None)
        self.record("stream.ended", {}, conn.number)  # lets tests wait until a stream is fully read

    # ------------------------------------------------------------------ connections and requests
    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            # Never fall back to HTTP/1.1: the SDK would buffer the whole request and hang.
            self.record("http.rejected", {"reason": "ALPN did not select h2"}, 0)
            writer.close()
            return
        self.tcp_connections += 1
        conn = H2ServerConnection(reader, writer, self._route, number=self.tcp_connections)
        self._connections.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
        try:
            await conn.serve()
        finally:
            self._connections.discard(conn)
            if task is not None:
                self._serving.discard(task)

    def _route(self, conn: H2ServerConnection, stream_id: int, headers: dict[str, str]) -> NovaConnection | None:
        method, path = headers.get(":method"), headers.get(":path", "")
        match = _PATH.match(path)
        if method != "POST" or match is None:  # a liveness probe or a stray request: not a stream
            self._spawn(_send_error(conn, stream_id, 404, "UnknownOperationException", "Unknown operation"))
            return None
        number = self.new_connection()
        self.record("http.request", {"method": method, "path": path, "content-type": headers.get("content-type"),
                                     "x-amz-content-sha256": headers.get("x-amz-content-sha256"),
                                     "user-agent": headers.get("user-agent"),
                                     "has_security_token": "x-amz-security-token" in headers,
                                     "tcp_connection": conn.number}, number)  # fmt: skip
        try:
            model_id, auth = self._check_request(headers, unquote(match["model"]))
            if self._http_failures:
                raise AuthFailure(*self._http_failures.pop(0))
        except AuthFailure as exc:
            self.record("http.error", {"status": exc.status, "type": exc.error_type, "message": exc.message}, number)
            self._spawn(_send_error(conn, stream_id, exc.status, exc.error_type, exc.message))
            return None
        stream = NovaConnection(
            self, conn, stream_id=stream_id, number=number, model_id=model_id, model=model_info(model_id), auth=auth
        )
        self.streams[number] = stream
        self.models[number] = model_id
        task = asyncio.get_running_loop().create_task(stream.run(), name=f"emulator-nova-{number}")
        self._streams_running.add(task)
        task.add_done_callback(self._streams_running.discard)
        return stream

    def _check_request(self, headers: dict[str, str], model_id: str) -> tuple[str, RequestAuth | None]:
        if headers.get("content-type") != "application/vnd.amazon.eventstream":
            raise AuthFailure(400, "ValidationException", "content-type must be application/vnd.amazon.eventstream")
        if headers.get("x-amz-content-sha256") != "STREAMING-AWS4-HMAC-SHA256-EVENTS":
            raise AuthFailure(400, "ValidationException", "x-amz-content-sha256 must be STREAMING-AWS4-HMAC-SHA256-EVENTS")
        auth: RequestAuth | None = None
        if self.verify_signatures:
            auth = verify_request(
                method="POST",
                path=headers[":path"],
                headers=headers,
                secret_for=lambda akid: self._secret if akid == self.access_key_id else None,
                session_token_for=lambda akid: self._token or None,
                require_session_token=self.require_session_token,
                region=self.region,
            )
        try:
            model_info(model_id)
        except ConfigurationError:
            raise AuthFailure(400, "ValidationException", "The provided model identifier is invalid.") from None
        return model_id, auth

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._streams_running.add(task)
        task.add_done_callback(self._streams_running.discard)


async def _send_error(conn: H2ServerConnection, stream_id: int, status: int, error_type: str, message: str) -> None:
    """A restJson1 error response before any stream starts."""
    conn.send_headers(stream_id, [(":status", str(status)), ("content-type", "application/json"),
                                  ("x-amzn-errortype", f"{error_type}:{ERROR_NAMESPACE}"),
                                  ("x-amzn-requestid", str(uuid.uuid4()))])  # fmt: skip
    await conn.send_data(stream_id, json.dumps({"message": message}).encode(), end_stream=True)
    conn.forget(stream_id)
