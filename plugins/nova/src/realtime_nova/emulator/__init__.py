"""A loopback emulator of Amazon Bedrock's Nova Sonic stream (``InvokeModelWithBidirectionalStream``).

It serves HTTP/2 over TLS (ALPN ``h2``) on 127.0.0.1 with a certificate from a CA made at run time, so the
real AWS SDK and its awscrt transport talk to it unchanged (the client trusts the CA through
``ca_file=``; cleartext HTTP/2 is not possible with that client). It checks the request's SigV4
signature and every event's signature chain against its test credentials, decodes the event-stream
framing and the Nova events, enforces the protocol's order and fields, and answers per
:class:`~realtime_core.emulator.Scenario` with the model's real output sequence.

Settings marked [?] in the protocol notes are open questions about the real service; they are options
here rather than guesses baked in.
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
from realtime_core.emulator import EmulatorServer, Scenario
from realtime_core.errors import ConfigurationError

from ..models import STREAM_LIMIT_SECONDS, model_info
from .conversation import NovaStreamHandler
from .http2 import H2ServerConnection
from .sigv4 import AuthFailure, RequestAuth, verify_request

__all__ = ["NovaEmulator"]

log = logging.getLogger("realtime_nova.emulator")
_PATH = re.compile(r"^/model/(?P<model>[^/?]+)/invoke-with-bidirectional-stream(?:\?.*)?$")
_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_AUDIO_KEEP_SECONDS = 120.0


class NovaEmulator(EmulatorServer):
    """The Nova Sonic emulator.

    :param scenario: what the fake model does (default: echo).
    :param tls: accepted for the common emulator signature; the emulator always serves TLS because AWS's
        client cannot speak cleartext HTTP/2.
    :param region: the region the credential scope must name.
    :param access_key_id: / :param secret_access_key: / :param session_token: the test credentials the
        signatures are checked against (``session_options()`` hands them to the session).
    :param stream_limit_s: the stream time limit (Bedrock: 480 s); tests compress it to cross it quickly.
    :param idle_timeout_s: end a stream that received no input event for this long (None: never).
    :param response_headers: [?] when the 200 response headers go out: ``"immediate"`` or at the
        ``"first_event"`` (which also allows HTTP errors for faults on the first message).
    :param completion_per_turn: [?] ``completionStart``/``completionEnd`` around every turn instead of
        once per prompt.
    :param end_stream_on_exception: [?] end the stream after a Scenario ``error`` fault's in-stream
        exception. Whether Bedrock always ends a stream after an exception event is not documented; the
        emulator does for protocol violations, the idle timeout and the stream limit either way.
    :param user_stop_reason: [?] stop reason of the USER transcript block.
    :param sentence_segments: speak multi-sentence replies as one SPECULATIVE/AUDIO/FINAL group per
        sentence, as Nova does (False: one group per reply).
    :param barge_in: ``"streaming"``: user speech cuts a reply while its audio is being sent;
        ``"playback"``: at any time until the reply is complete.
    :param input_sample_rates: [?] accepted ``audioInputConfiguration.sampleRateHertz`` values.
    :param nova1_turn_detection: [?] accept ``turnDetectionConfiguration`` from Nova Sonic 1 too.
    :param nova1_text_replies: [?] make Nova Sonic 1 answer interactive text (the real one does not).
    :param double_encode_tool_arguments: [?] send ``toolUse.content`` JSON-encoded twice (a reported quirk).
    :param malformed: what a ``malformed`` fault sends: ``"json"`` (a chunk whose Nova JSON is broken) or
        ``"crc"`` (a frame with a bad checksum, which ends the stream for the SDK).
    :param verify_signatures: check SigV4 on the request and on every event.
    :param capture_wire: keep the raw request and response bodies (``wire_in``/``wire_out``) for tests.
    """

    provider: ClassVar[str] = "nova"
    output_sample_rate: ClassVar[int] = 24000
    interrupt_facts: ClassVar[tuple[str, ...]] = ()  # Nova has no cancel or truncate message

    ACCESS_KEY_ID: ClassVar[str] = "AKIDNOVAEMULATOR0001"
    # Fixed test credentials of the emulator, not secrets of anything real.
    SECRET_ACCESS_KEY: ClassVar[str] = "nova-emulator-test-secret-0123456789abcdef"  # noqa: S105
    SESSION_TOKEN: ClassVar[str] = "nova-emulator-test-session-token"  # noqa: S105

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        tls: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int = 20000,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        stream_limit_s: float = STREAM_LIMIT_SECONDS,
        idle_timeout_s: float | None = 60.0,
        response_headers: Literal["immediate", "first_event"] = "immediate",
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
        if response_headers not in ("immediate", "first_event"):
            raise ConfigurationError("response_headers must be 'immediate' or 'first_event'")
        if barge_in not in ("streaming", "playback"):
            raise ConfigurationError("barge_in must be 'streaming' or 'playback'")
        if malformed not in ("json", "crc"):
            raise ConfigurationError("malformed must be 'json' or 'crc'")
        super().__init__(scenario=scenario, tls=True, host=host, port=port, log_limit=log_limit)
        self.region = region
        self.access_key_id = access_key_id or self.ACCESS_KEY_ID
        self._secret = secret_access_key or self.SECRET_ACCESS_KEY
        self._token = session_token if session_token is not None else self.SESSION_TOKEN
        self.stream_limit_s = float(stream_limit_s)
        self.idle_timeout_s = idle_timeout_s
        self.response_headers = response_headers
        self.completion_per_turn = completion_per_turn
        self.end_stream_on_exception = end_stream_on_exception
        self.user_stop_reason = user_stop_reason
        self.sentence_segments = sentence_segments
        self.barge_in = barge_in
        self.input_sample_rates = tuple(input_sample_rates)
        self.nova1_turn_detection = nova1_turn_detection
        self.nova1_text_replies = nova1_text_replies
        self.double_encode_tool_arguments = double_encode_tool_arguments
        self.malformed = malformed
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
        """TLS connections accepted (streams are multiplexed on them)."""
        self.stall_until: dict[int, float] = {}
        self.streams: dict[int, NovaStreamHandler] = {}
        """Open streams by number."""
        self.models: dict[int, str] = {}
        """The model id each stream asked for."""
        self._audio: dict[int, list[np.ndarray]] = {}
        self._audio_rate: dict[int, int] = {}
        self._audio_frames: dict[int, int] = {}
        self._http_failures: list[tuple[int, str, str]] = []
        self._server: asyncio.Server | None = None
        self._connections: set[H2ServerConnection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._serving: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ EmulatorServer
    async def _serve(self) -> int:
        ssl = self.server_ssl_context(alpn=["h2"])
        self._server = await asyncio.start_server(self._on_client, self.host, self.port, ssl=ssl)
        return int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self._connections):
            conn.abort()
        # Connection handlers end by themselves once their socket is aborted (cancelling them trips an
        # asyncio streams callback); wait for them briefly.
        serving = [t for t in self._serving if not t.done()]
        if serving:
            await asyncio.wait(serving, timeout=2.0)
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for handler in list(self.streams.values()):
            handler.on_connection_lost()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    def session_options(self) -> dict[str, Any]:
        """Options that point a ``NovaRealtime`` at this emulator (endpoint, test credentials, the CA,
        and the stream limit so the session renews before it)."""
        return {
            "endpoint_uri": self.base_url,
            "region": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": SecretStr(self._secret),
            "aws_session_token": SecretStr(self._token) if self._token else None,
            "ca_file": self.ca_file,
            "stream_limit_s": self.stream_limit_s,
        }

    @property
    def url(self) -> str:
        return f"{self.base_url}/model/<modelId>/invoke-with-bidirectional-stream"

    # ------------------------------------------------------------------ test helpers
    def fail_next_streams(
        self,
        status: int = 429,
        error_type: str = "ThrottlingException",
        message: str = "Too many requests",
        *,
        count: int = 1,
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
        if not chunks:
            return PcmData.silence(0, rate)
        return PcmData(np.concatenate(chunks), rate, 1)

    def violation(self, connection: int, message: str) -> None:
        self.violations.append((connection, message))
        self.record("emulator.violation", {"message": message}, connection)
        log.info("nova emulator: protocol violation on stream %d: %s", connection, message)

    # ------------------------------------------------------------------ used by the stream handlers
    def add_audio(self, connection: int, pcm: PcmData) -> None:
        self.audio_received_ms += pcm.duration_ms
        chunks = self._audio.setdefault(connection, [])
        self._audio_rate[connection] = pcm.sample_rate
        chunks.append(pcm.samples)
        frames = self._audio_frames.get(connection, 0) + pcm.frames
        limit = int(_AUDIO_KEEP_SECONDS * pcm.sample_rate)
        while frames > limit and len(chunks) > 1:
            frames -= chunks.pop(0).size
        self._audio_frames[connection] = frames

    def stream_ended(self, handler: NovaStreamHandler) -> None:
        self.streams.pop(handler.number, None)
        self.stall_until.pop(handler.number, None)
        self.record("stream.ended", {}, handler.number)  # lets tests wait until a stream is fully read

    async def http_error_after_open(self, handler: NovaStreamHandler, status: int, message: str | None) -> None:
        """A pre-stream error for a stream whose headers were held back (``response_headers='first_event'``)."""
        error_type = _STATUS_TYPES.get(status, "InternalServerException")
        handler.ended = True
        self.stream_ended(handler)
        handler.conn.forget(handler.stream_id)
        await self._send_error(handler.conn, handler.stream_id, status, error_type, message or f"emulated {error_type}")

    # ------------------------------------------------------------------ connections and requests
    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            # Never fall back to HTTP/1.1: the SDK would buffer the whole request and hang.
            self.record("http.rejected", {"reason": "ALPN did not select h2"}, 0)
            writer.close()
            return
        self.tcp_connections += 1
        conn = H2ServerConnection(reader, writer, self._route)
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

    def _route(self, conn: H2ServerConnection, stream_id: int, headers: dict[str, str]) -> NovaStreamHandler | None:
        number = self.new_connection()
        summary = {
            "method": headers.get(":method"),
            "path": headers.get(":path"),
            "content-type": headers.get("content-type"),
            "x-amz-content-sha256": headers.get("x-amz-content-sha256"),
            "user-agent": headers.get("user-agent"),
            "has_security_token": "x-amz-security-token" in headers,
        }
        self.record("http.request", summary, number)
        try:
            model_id, auth = self._check_request(headers)
        except AuthFailure as exc:
            self.record("http.error", {"status": exc.status, "type": exc.error_type, "message": exc.message}, number)
            self._spawn(self._send_error(conn, stream_id, exc.status, exc.error_type, exc.message))
            return None
        if self._http_failures:
            status, error_type, message = self._http_failures.pop(0)
            self.record("http.error", {"status": status, "type": error_type, "message": message}, number)
            self._spawn(self._send_error(conn, stream_id, status, error_type, message))
            return None
        handler = NovaStreamHandler(
            self, conn, stream_id=stream_id, number=number, model_id=model_id, model=model_info(model_id), auth=auth
        )
        self.streams[number] = handler
        self.models[number] = model_id
        return handler

    def _check_request(self, headers: dict[str, str]) -> tuple[str, RequestAuth | None]:
        if headers.get(":method") != "POST":
            raise AuthFailure(405, "UnknownOperationException", "only POST is supported")
        match = _PATH.match(headers.get(":path", ""))
        if match is None:
            raise AuthFailure(404, "UnknownOperationException", "Unknown operation")
        if headers.get("content-type") != "application/vnd.amazon.eventstream":
            raise AuthFailure(400, "ValidationException", "content-type must be application/vnd.amazon.eventstream")
        if headers.get("x-amz-content-sha256") != "STREAMING-AWS4-HMAC-SHA256-EVENTS":
            raise AuthFailure(
                400, "ValidationException", "x-amz-content-sha256 must be STREAMING-AWS4-HMAC-SHA256-EVENTS"
            )
        auth: RequestAuth | None = None
        if self.verify_signatures:
            auth = verify_request(
                method="POST",
                path=headers[":path"],
                headers=headers,
                secret_for=lambda akid: self._secret if akid == self.access_key_id else None,
                session_token_for=lambda akid: self._token or None,
                region=self.region,
            )
        model_id = unquote(match["model"])
        try:
            model_info(model_id)
        except ConfigurationError:
            raise AuthFailure(400, "ValidationException", "The provided model identifier is invalid.") from None
        return model_id, auth

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_error(
        self, conn: H2ServerConnection, stream_id: int, status: int, error_type: str, message: str
    ) -> None:
        """A restJson1 error response before the stream starts."""
        conn.send_headers(
            stream_id,
            [
                (":status", str(status)),
                ("content-type", "application/json"),
                ("x-amzn-errortype", f"{error_type}:{_ERROR_NAMESPACE}"),
                ("x-amzn-requestid", str(uuid.uuid4())),
            ],
        )
        await conn.send_data(stream_id, json.dumps({"message": message}).encode(), end_stream=True)
        conn.forget(stream_id)


_STATUS_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelStreamErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
