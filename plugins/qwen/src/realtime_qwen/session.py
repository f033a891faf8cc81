"""The Qwen-Omni realtime session: realtime-core's :class:`~realtime_core.Realtime` over DashScope's WebSocket.

The protocol machinery is realtime-openai-protocol's, by composition: a
:class:`~realtime_openai_protocol.ProtocolClient` sends (the setup handshake, ``response.create`` deferred
while a reply is generated, text, tool results), each connection gets a :class:`~realtime_qwen.handler.QwenEventHandler`
that reports server events through ``self._core``, and a :class:`~realtime_qwen.transport.QwenTransport`. The
session implements the handler's :class:`~realtime_qwen.handler.QwenHost` and what is Qwen's own: model
profiles and their options, images only after audio, one ``response.cancel`` per interrupted reply (without
relying on a ``response.done`` after it), ``session.finish`` on close, session limits (idle closes, the
120-minute cap) through core's reconnection. DashScope cannot resume a session: a reconnect sends the same
configuration to a new, empty conversation and reports ``state_restored=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from realtime_core import (
    AuthenticationError,
    Capabilities,
    ConfigurationError,
    ConnectionFailedError,
    InterruptInfo,
    InvalidAudioError,
    PcmData,
    Realtime,
    RealtimeError,
    ReconnectContext,
    SecretStr,
    ToolResult,
    VideoFrameJpeg,
    resolve_api_key,
)
from realtime_core.errors import redact
from realtime_openai_protocol import ProtocolClient, client_events

from .capabilities import MAX_SESSION_SECONDS, MAX_VIDEO_FPS, build_capabilities
from .config import INPUT_SAMPLE_RATE, QwenSessionConfig, SemanticVad, ServerVad, TurnDetection
from .endpoints import check_workspace, realtime_url, region_id
from .handler import QwenEventHandler
from .models import DEFAULT_MODEL
from .protocol import session_finish, session_payload
from .renewal import CapRenewal
from .transport import InputBuffer, QwenTransport, auth_headers
from .video import MAX_IMAGE_BYTES, shrink_jpeg

__all__ = ["API_KEY_ENV", "QwenRealtime"]

log = logging.getLogger("realtime_qwen")
API_KEY_ENV: tuple[str, ...] = ("DASHSCOPE_API_KEY",)
_DEFAULT_VAD = ServerVad()
_TURN_DETECTION: dict[str, TurnDetection | None] = {"server_vad": ServerVad(), "semantic_vad": SemanticVad(), "manual": None}


def _number(name: str, value: object, *, zero_ok: bool = True, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not zero_ok):
        raise ConfigurationError(f"{name} must be a {'non-negative' if zero_ok else 'positive'} number, got {value!r}")
    if upper is not None and value > upper:
        raise ConfigurationError(f"{name} must be at most {upper:g}, got {value!r}")
    return float(value)


class QwenRealtime(Realtime):
    """A realtime speech-to-speech session with Qwen-Omni on DashScope (Alibaba Cloud Model Studio).

    :param model: ``qwen3.5-omni-plus-realtime`` (default), ``qwen3.5-omni-flash-realtime``,
        ``qwen3.8-omni-flash-realtime`` (workspace hosts only: needs ``workspace``), ``qwen3-omni-flash-realtime``,
        ``qwen-omni-turbo-realtime``, or a dated snapshot of one.
    :param api_key: the DashScope key (region-bound); defaults to ``$DASHSCOPE_API_KEY``.
    :param voice: a voice of the model (default: Tina on qwen3.5/3.8, Cherry on qwen3-omni-flash, Chelsie on turbo).
    :param modality: ``"audio"`` (spoken replies with transcripts) or ``"text"`` (text replies).
    :param turn_detection: ``ServerVad(...)`` (default), ``SemanticVad(...)`` (qwen3.5/3.8), the strings
        ``"server_vad"``/``"semantic_vad"``, or ``None`` (or ``"manual"``) for push-to-talk turns.
    :param input_transcription: transcribe the user's speech (the model's fixed transcriber).
    :param enable_search: let qwen3.5/3.8 search the web (not together with tools).
    :param search_sources: with ``enable_search``, ask the model to cite its sources.
    :param smooth_output: qwen3-omni-flash: ``True`` colloquial, ``False`` formal, ``"auto"``.
    :param temperature: sampling temperature in [0, 2) (not on turbo; unset: the model's default).
    :param top_p: nucleus sampling in (0, 1] (not on turbo).
    :param top_k: top-k sampling, >= 0 (not on turbo).
    :param max_tokens: the longest reply in tokens (up to the model's limit).
    :param repetition_penalty: > 0 (not on turbo).
    :param presence_penalty: in [-2, 2] (not on turbo).
    :param seed: in [0, 2**31 - 1] (not on turbo).
    :param session_extra: extra fields merged into the ``session`` object (sent as is).
    :param region: ``"intl"`` (Singapore, default), ``"cn"`` (Beijing) or a region id (``cn-hongkong``,
        ``us-east-1``...); the key must belong to it.
    :param workspace: a Model Studio workspace id: sent as ``X-DashScope-WorkSpace`` and, unless
        ``workspace_host=False``, selects the workspace host.
    :param workspace_host: force (True) or avoid (False) the workspace host; None: when ``workspace`` is set.
    :param base_url: an explicit endpoint (a relay or an emulator); overrides ``region``.
    :param ca_file: a CA certificate to trust in addition to the system ones (e.g. an emulator's).
    :param video_max_fps: frames per second :meth:`watch_video_track` may send (at most 2; 1 is
        recommended); 0 disables video.
    :param max_image_bytes: larger JPEG frames are re-encoded smaller before sending.
    :param video_prime_ms: DashScope refuses an image before any audio since the last commit; when no audio
        went out since, this much silence goes first. 0: such frames are skipped until the app sends audio.
    :param finish_on_close: end the session with ``session.finish`` before closing the socket (waiting up to
        ``finish_timeout`` for ``session.finished`` on the models that send one).
    :param finish_timeout: seconds to wait for ``session.finished``.
    :param max_session_seconds: the service's cap on one connection (120 minutes); within
        ``renew_margin_s`` of it the session reconnects at the next quiet moment (a new conversation with the
        same configuration), at the latest a quarter of the margin before the cap. 0 disables this.
    :param renew_margin_s: see ``max_session_seconds``.
    :param transcript_hold_s: hold a reply's transcript back this long at most, waiting for the user's
        transcript of the turn it answers (so the user's words come first); 0 disables.
    :param cancel_grace_s: after ``response.cancel``, how long a missing ``response.done`` is waited for.
    :param response_timeout: seconds a reply may send nothing before it counts as lost (an error event, and
        the next reply is no longer held back); None: wait for ever.
    :param min_append_ms: microphone audio is coalesced into appends of at least this many ms.

    Core options (``instructions``, ``tools``, ``reconnect``, ``connect_timeout``, ``fps``...) are passed
    through to :class:`~realtime_core.Realtime`.
    """

    provider_name = "qwen"
    api_key_env: ClassVar[tuple[str, ...]] = API_KEY_ENV

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        api_key: str | SecretStr | None = None,
        voice: str | None = None,
        modality: Literal["audio", "text"] = "audio",
        turn_detection: TurnDetection | Literal["server_vad", "semantic_vad", "manual"] | None = _DEFAULT_VAD,
        input_transcription: bool = True,
        enable_search: bool = False,
        search_sources: bool = False,
        smooth_output: bool | Literal["auto"] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        max_tokens: int | None = None,
        repetition_penalty: float | None = None,
        presence_penalty: float | None = None,
        seed: int | None = None,
        session_extra: Mapping[str, Any] | None = None,
        region: str = "intl",
        workspace: str | None = None,
        workspace_host: bool | None = None,
        base_url: str | None = None,
        ca_file: str | None = None,
        video_max_fps: float = 1.0,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        video_prime_ms: float = 20.0,
        finish_on_close: bool = True,
        finish_timeout: float = 2.0,
        max_session_seconds: float = MAX_SESSION_SECONDS,
        renew_margin_s: float = 120.0,
        transcript_hold_s: float = 3.0,
        cancel_grace_s: float = 1.5,
        response_timeout: float | None = 30.0,
        min_append_ms: float = 50.0,
        **core_options: Any,
    ) -> None:
        super().__init__(**core_options)
        if isinstance(turn_detection, str):
            if turn_detection not in _TURN_DETECTION:
                raise ConfigurationError(
                    "turn_detection must be 'server_vad', 'semantic_vad', 'manual', ServerVad(...), "
                    f"SemanticVad(...) or None, got {turn_detection!r}"
                )
            turn_detection = _TURN_DETECTION[turn_detection]
        self._config = QwenSessionConfig(
            model=model, voice=voice, modality=modality, turn_detection=turn_detection,
            input_transcription=input_transcription, enable_search=enable_search, search_sources=search_sources,
            smooth_output=smooth_output, temperature=temperature, top_p=top_p, top_k=top_k, max_tokens=max_tokens,
            repetition_penalty=repetition_penalty, presence_penalty=presence_penalty, seed=seed,
            extra=dict(session_extra or {}),
        )  # fmt: skip
        self._video_max_fps = _number("video_max_fps", video_max_fps, upper=MAX_VIDEO_FPS)
        if isinstance(max_image_bytes, bool) or not isinstance(max_image_bytes, int) or max_image_bytes < 1024:
            raise ConfigurationError(f"max_image_bytes must be an int >= 1024, got {max_image_bytes!r}")
        self._max_image_bytes = max_image_bytes
        self._video_prime_ms = _number("video_prime_ms", video_prime_ms, upper=500)
        self._finish_on_close = bool(finish_on_close)
        self._finish_timeout = _number("finish_timeout", finish_timeout)
        cap = _number("max_session_seconds", max_session_seconds)
        margin = _number("renew_margin_s", renew_margin_s)
        if cap and margin >= cap:
            raise ConfigurationError("renew_margin_s must be smaller than max_session_seconds")
        self._transcript_hold_s = _number("transcript_hold_s", transcript_hold_s, upper=60)
        self._cancel_grace_s = _number("cancel_grace_s", cancel_grace_s, zero_ok=False, upper=60)
        self._response_timeout = None if response_timeout is None else _number("response_timeout", response_timeout, zero_ok=False)
        self._min_append_ms = _number("min_append_ms", min_append_ms, upper=500)
        self._workspace = check_workspace(workspace)
        self._region = region_id(region)
        self._explicit_url = base_url is not None
        self._url = realtime_url(
            self._config.model, region=self._region, workspace=self._workspace, workspace_host=workspace_host, base_url=base_url
        )
        self._api_key = resolve_api_key(api_key, self.api_key_env, provider=self.provider_name)
        self._ca_file = ca_file
        self._client = ProtocolClient(self._core)
        self._transport: QwenTransport | None = None
        self._handler: QwenEventHandler | None = None  # the current connection's (the client's, typed)
        self._opening: QwenTransport | None = None
        self._cap = CapRenewal(self._core, max_seconds=cap, margin_s=margin, quiet=self._quiet)

    # ------------------------------------------------------------------ configuration
    @property
    def model(self) -> str:
        return self._config.model

    @property
    def session_config(self) -> QwenSessionConfig:
        """The validated configuration (``instructions`` as currently set on the session)."""
        return replace(self._config, instructions=self.instructions)

    @property
    def url(self) -> str:
        """The WebSocket URL (it carries no secret)."""
        return self._url

    @property
    def server_session(self) -> dict[str, Any]:
        """The session as the server last described it (``session.created`` / ``session.updated``)."""
        return self._client.server_session

    def build_session(self) -> dict[str, Any]:
        """The ``session`` object sent in ``session.update`` (again after every reconnect)."""
        return session_payload(self.session_config, self.tools.schemas())

    def _build_capabilities(self) -> Capabilities:
        return build_capabilities(self._config, video_max_fps=self._video_max_fps)

    def __repr__(self) -> str:
        return f"<QwenRealtime model={self._config.model} session_id={self.session_id} state={self.state} url={redact(self._url)}>"

    # ------------------------------------------------------------------ the handler's host (QwenHost)
    @property
    def interrupts_on_speech(self) -> bool:
        """Whether the server's turn detection cuts the agent off when the user speaks."""
        return self._config.interrupt_response

    def response_slot_free(self) -> None:
        """The server finished its response: send the ``response.create`` that waited."""
        self._client.send_deferred_soon()

    def response_ended(self) -> None:
        """A response ended: a renewal waiting for a quiet moment may go."""
        self._cap.response_ended()

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        transport, handler = await self._open_connection()
        self._attach(transport, handler)
        self._emit_connected_event(handler.server_session, self.capabilities)
        handler.activate()
        self._cap.arm()

    def _attach(self, transport: QwenTransport, handler: QwenEventHandler) -> None:
        self._transport, self._handler = transport, handler
        self._client.attach(transport, handler)

    async def _open_connection(self) -> tuple[QwenTransport, QwenEventHandler]:
        """A new connection, set up. Until it is, it is :attr:`_opening`, so ``close()`` during ``connect()``
        or a renewal (core cancels those) releases it whether or not its socket opened yet."""
        buffer = InputBuffer()
        handler = QwenEventHandler(
            self._core, self, buffer=buffer, transcribing=self._config.input_transcription,
            transcript_hold_s=self._transcript_hold_s, cancel_grace_s=self._cancel_grace_s,
            response_timeout=self._response_timeout,
        )  # fmt: skip
        assert self._api_key is not None
        transport = self._opening = QwenTransport(
            self._core, self._url, headers=auth_headers(self._api_key, self._workspace), buffer=buffer,
            ca_file=self._ca_file, classify=handler.connection_closed, min_append_ms=self._min_append_ms,
        )  # fmt: skip
        try:
            try:
                await transport.open(handler.handle)
            except AuthenticationError as exc:
                raise AuthenticationError(
                    f"{exc.message}. DashScope keys belong to one region (a Singapore key fails on the Beijing "
                    f"host and the other way round); this session connects to {self._where()}",
                    code=exc.code,
                    provider=self.provider_name,
                ) from None
            await self._client.set_up(transport, handler, self.build_session())
        except BaseException:
            handler.close(drop_held=True)
            with contextlib.suppress(Exception):
                await transport.close()
            raise
        finally:
            if self._opening is transport:
                self._opening = None
        return transport, handler

    def _where(self) -> str:
        return urlsplit(self._url).netloc if self._explicit_url else f"region {self._region!r}"

    async def close(self) -> None:
        self._cap.cancel()
        handler = self._handler
        self._client.detach()
        self._handler = None
        current, opening = self._transport, self._opening
        self._transport = self._opening = None
        if current is not None and current.is_open:
            with contextlib.suppress(RealtimeError):
                await current.flush_audio()  # close() is a barrier: every frame sent before it, then finish
        if current is not None and handler is not None and handler.ready and current.is_open and self._finish_on_close:
            await self._finish(current, handler, wait=self._config.profile.finish_acknowledged)
        if handler is not None:
            handler.close(drop_held=True)
        for transport in (current, opening):
            if transport is not None:
                await transport.close()

    async def _finish(self, transport: QwenTransport, handler: QwenEventHandler, *, wait: bool) -> None:
        """``session.finish``, then (optionally) wait for ``session.finished``; failures only cut it short."""
        handler.closing = True
        try:
            await self._client.send_on(transport, handler, session_finish(self._client.ids.next()))
            if wait:
                await asyncio.wait_for(asyncio.shield(handler.finished), self._finish_timeout)
        except (RealtimeError, TimeoutError):
            log.debug("qwen: session.finish was not acknowledged; closing anyway")

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        self._cap.cancel()
        old, old_handler = self._transport, self._handler
        if not ctx.planned:  # the old socket is dead: let it go first
            self._client.detach()
            self._transport = self._handler = None
            if old is not None:
                with contextlib.suppress(Exception):
                    await old.close()
            if old_handler is not None:
                self._retire(old_handler)
            old = old_handler = None
        # a planned renewal opens the new connection while the old one still works (make before break)
        transport, handler = await self._open_connection()
        self._attach(transport, handler)
        if old is not None:
            with contextlib.suppress(Exception):
                if self._finish_on_close and old_handler is not None and old.is_open:
                    await self._finish(old, old_handler, wait=False)
                await old.close()
        if old_handler is not None:
            self._retire(old_handler)
        handler.activate()
        self._cap.arm()
        return False  # DashScope cannot resume: the configuration is re-sent, the conversation is new

    def _retire(self, handler: QwenEventHandler) -> None:
        """A connection's handler is done: stop its timers; a reply it was still streaming ends, interrupted."""
        stranded = handler.active_response
        handler.close()
        if stranded is not None:
            self._emit_audio_output_done_event(stranded, interrupted=True)

    def _quiet(self) -> bool:
        handler = self._handler
        return not self._core.responding and (handler is None or (handler.active_response is None and not handler.user_speaking))

    # ------------------------------------------------------------------ input
    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        transport = self._transport
        if transport is None:
            raise ConnectionFailedError("not connected", provider=self.provider_name)  # core keeps the chunk
        transport.audio_going_out(pcm)
        try:
            await transport.send_audio(pcm)
        except ConnectionFailedError:
            # the receive loop reports the loss and core reconnects; what the transport could not send it
            # handed back to core, which replays it on the new connection (or reports it lost)
            log.debug("qwen: audio not sent, the connection is closing")

    async def simple_response(self, text: str) -> None:
        await self._client.send_user_text(text)

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        await self._client.send_tool_results(results)

    async def begin_user_turn(self) -> None:
        handler = self._handler
        if self.responding or (handler is not None and handler.active_response is not None):
            await self.interrupt()  # push-to-talk pressed while the agent talks: stop it
        transport = self._transport
        if self._config.turn_detection is None and transport is not None:
            await transport.flush_audio()
            await self._client.send(client_events.input_audio_buffer_clear(self._client.ids.next()))
            transport.buffer.turn_reset()

    async def end_user_turn(self) -> None:
        transport, handler = self._transport, self._handler
        if transport is None or handler is None:
            raise ConnectionFailedError("not connected", provider=self.provider_name)
        if self._config.turn_detection is None:
            await transport.flush_audio()
            if transport.buffer.uncommitted_ms <= 0:
                raise InvalidAudioError("end_user_turn() needs audio sent since begin_user_turn(); none was sent")
            event_id = self._client.ids.next()
            committed = handler.expect_commit(event_id)
            await self._client.send(client_events.input_audio_buffer_commit(event_id))
            transport.buffer.turn_reset()
            # a response.create racing its commit was observed to be dropped: wait for the server's ack
            try:
                ok = await asyncio.wait_for(asyncio.shield(committed), 5.0)
            except TimeoutError:
                ok = True
            if not ok:
                return  # the server refused the commit; the error event says why
        await self._client.request_response()

    async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
        transport = self._transport
        if transport is None or not transport.is_open:
            return
        data = frame.data
        if len(data) > self._max_image_bytes:
            smaller = await asyncio.to_thread(shrink_jpeg, data, self._max_image_bytes)
            if smaller is None:
                raise ConfigurationError(
                    f"a {len(data)} byte video frame could not be brought under {self._max_image_bytes} bytes; skipped",
                    provider=self.provider_name,
                )
            data = smaller
        if not transport.buffer.audio_since_commit:
            if not self._video_prime_ms:
                return  # DashScope refuses images before audio: wait for the app's microphone
            prime = PcmData.silence(self._video_prime_ms, INPUT_SAMPLE_RATE)
            transport.audio_going_out(prime)
            await transport.send_audio(prime)
        await transport.send_image(data)

    # ------------------------------------------------------------------ interruption
    async def _on_interrupt(self, info: InterruptInfo) -> None:
        handler, transport = self._handler, self._transport
        if handler is None or transport is None or not transport.is_open:
            return
        rid = handler.cancel_target(barge_in=info.source == "server")
        if rid is None:
            return  # nothing generating, or its cancel went out already: one cancel per reply
        # no more of it reaches the app, whether or not the server ever sends its response.done
        self._emit_audio_output_done_event(rid, interrupted=True)
        await self._client.send(client_events.response_cancel(None, self._client.ids.next()))
