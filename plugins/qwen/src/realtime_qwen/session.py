"""The Qwen-Omni realtime session: realtime-core's :class:`~realtime_core.Realtime` over DashScope's WebSocket.

The protocol layer is shared with realtime-openai (its event handler, client event builders, WebSocket
transport and the dialect-neutral session base :class:`~realtime_openai.dialect_session.DialectSession`:
sending, the setup handshake, deferred ``response.create``, text input, tool results), in the DashScope
dialect; this class adds what is Qwen's own: model profiles and their options, 16 kHz input,
images through ``input_image_buffer.append`` (only after audio), ``response.cancel`` on every interruption
(without relying on a ``response.done`` after it), ``session.finish`` on close, and session limits (idle
closes and the 120-minute cap) handled through core's reconnection. DashScope cannot resume a session: a
reconnect sends the same configuration to a new, empty conversation and reports ``state_restored=False``.
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
    RealtimeError,
    ReconnectContext,
    SecretStr,
    VideoFrameJpeg,
    resolve_api_key,
)
from realtime_core.errors import redact
from realtime_openai import protocol as p
from realtime_openai.dialect_session import DialectSession, EventSender

from .capabilities import MAX_SESSION_SECONDS, MAX_VIDEO_FPS, build_capabilities
from .config import INPUT_SAMPLE_RATE, QwenSessionConfig, SemanticVad, ServerVad, TurnDetection
from .dialect import DASHSCOPE
from .endpoints import check_workspace, realtime_url
from .handler import QwenEventHandler
from .link import QwenLink
from .models import DEFAULT_MODEL
from .video import MAX_IMAGE_BYTES, shrink_jpeg

__all__ = ["API_KEY_ENV", "QwenRealtime"]

log = logging.getLogger("realtime_qwen")
API_KEY_ENV: tuple[str, ...] = ("DASHSCOPE_API_KEY",)
_DEFAULT_VAD = ServerVad()


def _positive(name: str, value: object, *, zero_ok: bool = True, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not zero_ok):
        raise ConfigurationError(f"{name} must be a {'non-negative' if zero_ok else 'positive'} number, got {value!r}")
    if upper is not None and value > upper:
        raise ConfigurationError(f"{name} must be at most {upper:g}, got {value!r}")
    return float(value)


class QwenRealtime(DialectSession[QwenEventHandler]):
    """A realtime speech-to-speech session with Qwen-Omni on DashScope (Alibaba Cloud Model Studio).

    :param model: ``qwen3.5-omni-plus-realtime`` (default), ``qwen3.5-omni-flash-realtime``,
        ``qwen3-omni-flash-realtime``, ``qwen-omni-turbo-realtime``, or a dated snapshot of one.
    :param api_key: the DashScope key (region-bound); defaults to ``$DASHSCOPE_API_KEY``.
    :param voice: a voice of the model (default: Tina on qwen3.5, Cherry on qwen3-omni-flash, Chelsie on turbo).
    :param modality: ``"audio"`` (spoken replies with transcripts) or ``"text"`` (text replies).
    :param turn_detection: ``ServerVad(...)`` (default), ``SemanticVad(...)`` (qwen3.5), the strings
        ``"server_vad"``/``"semantic_vad"``, or ``None`` (or ``"manual"``) for push-to-talk turns.
    :param input_transcription: transcribe the user's speech (the model's fixed transcriber).
    :param enable_search: let qwen3.5 search the web (not together with tools); ``search_sources`` asks it
        to cite them.
    :param smooth_output: qwen3-omni-flash: ``True`` colloquial, ``False`` formal, ``"auto"``.
    :param temperature: ... ``seed``: sampling parameters (not on turbo); unset ones keep the model's defaults.
    :param session_extra: extra fields merged into the ``session`` object (sent as is).
    :param region: ``"intl"`` (Singapore, default) or ``"cn"`` (Beijing); the key must belong to it.
    :param workspace: a Model Studio workspace id: sent as ``X-DashScope-WorkSpace`` and, unless
        ``workspace_host=False``, selects the workspace host.
    :param base_url: an explicit endpoint (a relay or an emulator); overrides ``region``.
    :param ca_file: a CA certificate to trust in addition to the system ones (e.g. an emulator's).
    :param video_max_fps: frames per second :meth:`watch_video_track` may send (at most 2; 1 is
        recommended); 0 disables video.
    :param max_image_bytes: larger JPEG frames are re-encoded smaller before sending.
    :param video_prime_ms: DashScope refuses an image before any audio since the last commit; when no audio
        went out since, this much silence goes first. 0: such frames are skipped until the app sends audio.
    :param finish_on_close: end the session with ``session.finish`` (waiting up to ``finish_timeout`` for
        ``session.finished``) before closing the socket.
    :param max_session_seconds: the service's cap on one connection (120 minutes); within
        ``renew_margin_s`` of it the session reconnects at the next quiet moment (a new conversation with the
        same configuration), at the latest a quarter of the margin before the cap. 0 disables this.
    :param transcript_hold_s: hold a reply's transcript back this long at most, waiting for the user's
        transcript of the turn it answers (so the user's words come first); 0 disables.
    :param cancel_grace_s: after ``response.cancel``, how long a missing ``response.done`` is waited for.
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
        region: Literal["intl", "cn"] = "intl",
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
        min_append_ms: float = 50.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(turn_detection, str):
            choices: dict[str, TurnDetection | None] = {
                "server_vad": ServerVad(),
                "semantic_vad": SemanticVad(),
                "manual": None,
            }
            if turn_detection not in choices:
                raise ConfigurationError(
                    "turn_detection must be 'server_vad', 'semantic_vad', 'manual', ServerVad(...), "
                    f"SemanticVad(...) or None, got {turn_detection!r}"
                )
            turn_detection = choices[turn_detection]
        self._config = QwenSessionConfig(
            model=model,
            voice=voice,
            modality=modality,
            turn_detection=turn_detection,
            input_transcription=input_transcription,
            enable_search=enable_search,
            search_sources=search_sources,
            smooth_output=smooth_output,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            max_tokens=max_tokens,
            repetition_penalty=repetition_penalty,
            presence_penalty=presence_penalty,
            seed=seed,
            extra=dict(session_extra or {}),
        )
        self._video_max_fps = _positive("video_max_fps", video_max_fps, upper=MAX_VIDEO_FPS)
        if isinstance(max_image_bytes, bool) or not isinstance(max_image_bytes, int) or max_image_bytes < 1024:
            raise ConfigurationError(f"max_image_bytes must be an int >= 1024, got {max_image_bytes!r}")
        self._max_image_bytes = max_image_bytes
        self._video_prime_ms = _positive("video_prime_ms", video_prime_ms, upper=500)
        self._finish_on_close = bool(finish_on_close)
        self._finish_timeout = _positive("finish_timeout", finish_timeout)
        self._max_session_seconds = _positive("max_session_seconds", max_session_seconds)
        self._renew_margin_s = _positive("renew_margin_s", renew_margin_s)
        if self._max_session_seconds and self._renew_margin_s >= self._max_session_seconds:
            raise ConfigurationError("renew_margin_s must be smaller than max_session_seconds")
        self._transcript_hold_s = _positive("transcript_hold_s", transcript_hold_s, upper=60)
        self._cancel_grace_s = _positive("cancel_grace_s", cancel_grace_s, zero_ok=False, upper=60)
        self._min_append_ms = _positive("min_append_ms", min_append_ms, upper=500)
        self._workspace = check_workspace(workspace)
        self._region = region
        self._explicit_url = base_url is not None
        self._url = realtime_url(
            self._config.model, region=region, workspace=self._workspace, workspace_host=workspace_host, base_url=base_url
        )
        self._api_key = resolve_api_key(api_key, self.api_key_env, provider=self.provider_name)
        self._ca_file = ca_file
        self._link: QwenLink | None = None
        self._barge_rid: str | None = None
        self._renew_pending = False
        self._cap_timers: list[asyncio.TimerHandle] = []

    # ------------------------------------------------------------------ configuration
    @property
    def session_config(self) -> QwenSessionConfig:
        """The validated configuration (``instructions`` as currently set on the session)."""
        return replace(self._config, instructions=self.instructions)

    @property
    def url(self) -> str:
        """The WebSocket URL (it carries no secret)."""
        return self._url

    def _where(self) -> str:
        if self._explicit_url:
            return urlsplit(self._url).netloc
        return f"region={self._region!r} ({'Singapore' if self._region == 'intl' else 'Beijing'})"

    def build_session(self) -> dict[str, Any]:
        """The ``session`` object sent in ``session.update`` (again after every reconnect)."""
        return DASHSCOPE.session_payload(self.session_config, self.tools.schemas())

    def _build_capabilities(self) -> Capabilities:
        return build_capabilities(self._config, video_max_fps=self._video_max_fps)

    def __repr__(self) -> str:
        return (
            f"<QwenRealtime model={self._config.model} session_id={self.session_id} state={self.state} "
            f"url={redact(self._url)}>"
        )

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        link, handler = await self._open_connection()
        self._link, self._handler = link, handler
        self._emit_connected_event(handler.server_session, self.capabilities)
        handler.activate()
        self._arm_session_cap()

    async def _open_connection(self) -> tuple[QwenLink, QwenEventHandler]:
        handler = QwenEventHandler(self, transcript_hold_s=self._transcript_hold_s, cancel_grace_s=self._cancel_grace_s)
        assert self._api_key is not None
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        if self._workspace:
            headers["X-DashScope-WorkSpace"] = self._workspace
        link = QwenLink(
            self,
            self._url,
            headers=headers,
            ca_file=self._ca_file,
            open_timeout=self._core.connect_timeout,
            classify=handler.connection_closed,
            min_append_ms=self._min_append_ms,
        )
        handler.link = link
        try:
            try:
                await link.open(handler.handle)
            except AuthenticationError as exc:
                raise AuthenticationError(
                    f"{exc.message}. DashScope keys belong to one region (a Singapore key fails on the Beijing "
                    f"host and the other way round); this session connects to {self._where()}",
                    code=exc.code,
                    provider=self.provider_name,
                ) from None
            await self._send_session_update(link, handler)
        except BaseException:
            handler.dispose()
            with contextlib.suppress(Exception):
                await link.close()
            raise
        return link, handler

    async def close(self) -> None:
        self._cancel_cap_timers()
        link, self._link = self._link, None
        handler = self._handler
        if link is not None:
            if self._finish_on_close and handler is not None and link.is_open:
                await self._finish(link, handler, wait=True)
            await link.close()
        if handler is not None:
            handler.dispose(release_held=False)

    async def _finish(self, link: QwenLink, handler: QwenEventHandler, *, wait: bool) -> None:
        """``session.finish``, then (optionally) wait for ``session.finished``; failures only cut it short."""
        handler.closing = True
        try:
            await link.send({"type": "session.finish", "event_id": self._ids.next()})
            if wait:
                await asyncio.wait_for(asyncio.shield(handler.finished), self._finish_timeout)
        except (RealtimeError, TimeoutError):
            log.debug("qwen: session.finish was not acknowledged; closing anyway")

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        self._cancel_cap_timers()
        self._renew_pending = False
        old, old_handler = self._link, self._handler
        if not ctx.planned:  # the old socket is dead: let it go first
            self._link = None
            if old is not None:
                with contextlib.suppress(Exception):
                    await old.close()
            if old_handler is not None:
                self._retire(old_handler)
            old = old_handler = None
        # a planned renewal opens the new connection while the old one still works (make before break);
        # until the switch, close() still finds and closes the old one
        link, handler = await self._open_connection()
        self._link, self._handler = link, handler
        if old is not None:
            with contextlib.suppress(Exception):
                if self._finish_on_close and old_handler is not None and old.is_open:
                    await self._finish(old, old_handler, wait=False)
                await old.close()
        if old_handler is not None:
            self._retire(old_handler)
        handler.activate()
        self._arm_session_cap()
        return False  # DashScope cannot resume: the configuration is re-sent, the conversation is new

    def _retire(self, handler: QwenEventHandler) -> None:
        """A connection's handler is done: stop its timers; a reply it was still streaming ends, interrupted."""
        stranded = handler.active_response
        handler.dispose()
        if stranded is not None:
            self._emit_audio_output_done_event(stranded, interrupted=True)

    # ------------------------------------------------------------------ the 120-minute cap
    def _arm_session_cap(self) -> None:
        self._cancel_cap_timers()
        cap = self._max_session_seconds
        if not cap:
            return
        loop = asyncio.get_running_loop()
        margin = min(self._renew_margin_s, cap)
        self._cap_timers = [
            loop.call_later(cap - margin, self._cap_near),
            loop.call_later(cap - margin / 4, self._renew_now, "session cap"),
        ]

    def _cancel_cap_timers(self) -> None:
        for timer in self._cap_timers:
            timer.cancel()
        self._cap_timers = []

    def _cap_near(self) -> None:
        if self._quiet():
            self._renew_now("session cap")
        else:
            self._renew_pending = True  # at the end of the current reply (see _response_ended)

    def _quiet(self) -> bool:
        handler = self._handler
        return not self.responding and (handler is None or (handler.active_response is None and not handler.user_speaking))

    def _renew_now(self, reason: str) -> None:
        self._renew_pending = False
        self._cancel_cap_timers()
        self._core.renew(reason)

    def _response_ended(self) -> None:
        """Called by the handler after a response ended (``response.done``, or a cancel's grace ran out)."""
        if self._renew_pending and self._quiet():
            self._renew_now("session cap")

    # ------------------------------------------------------------------ sending
    def _event_sender(self) -> EventSender | None:
        return self._link

    # ------------------------------------------------------------------ input
    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        link = self._link
        if link is None:
            raise ConnectionFailedError("not connected", provider=self.provider_name)
        await link.send_audio(pcm)  # a dead socket raises ConnectionFailedError: core buffers and reconnects

    async def begin_user_turn(self) -> None:
        handler = self._handler
        if self.responding or (handler is not None and handler.active_response is not None):
            await self.interrupt()  # push-to-talk pressed while the agent talks: stop it
        link = self._link
        if self._config.turn_detection is None and link is not None:
            await link.flush_audio()
            await self._send(p.input_audio_buffer_clear(self._ids.next()))
            link.turn_reset()

    async def end_user_turn(self) -> None:
        link, handler = self._link, self._handler
        if link is None or handler is None:
            raise ConnectionFailedError("not connected", provider=self.provider_name)
        if self._config.turn_detection is None:
            await link.flush_audio()
            if link.uncommitted_ms <= 0:
                raise InvalidAudioError("end_user_turn() needs audio sent since begin_user_turn(); none was sent")
            event_id = self._ids.next()
            committed = handler.expect_commit(event_id)
            await self._send(p.input_audio_buffer_commit(event_id))
            link.turn_reset()
            # a response.create racing its commit was observed to be dropped: wait for the server's ack
            try:
                ok = await asyncio.wait_for(asyncio.shield(committed), 5.0)
            except TimeoutError:
                ok = True
            if not ok:
                return  # the server refused the commit; the error event says why
        await self._request_response()

    async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
        link = self._link
        if link is None or not link.is_open:
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
        if not link.audio_since_commit:
            if not self._video_prime_ms:
                return  # DashScope refuses images before audio: wait for the app's microphone
            await link.send_audio(PcmData.silence(self._video_prime_ms, INPUT_SAMPLE_RATE))
        await link.send_image(data)

    # ------------------------------------------------------------------ interruption
    def _barge_in_if_playing(self) -> None:
        """The server heard the user start talking: interrupt if the agent is generating or still heard."""
        handler = self._handler
        active = handler.active_response if handler is not None else None
        if self.responding or active is not None or self._playback_tail():
            self._barge_rid = active
            self._core.handle_barge_in()

    def _playback_tail(self) -> bool:
        """The last reply arrived faster than real time and is (by the app's report, or assuming real-time
        playback) still being heard."""
        handler = self._handler
        if handler is None or not handler.audio_items:
            return False
        resp = self._core.response(next(reversed(handler.audio_items)))
        return resp is not None and resp.still_playing

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        handler = self._handler
        if handler is None:
            return
        rid = handler.active_response
        if info.source == "server":
            rid, self._barge_rid = rid or self._barge_rid, None
        if rid is None or rid in handler.cancelled:
            return
        # no more of it reaches the app, whether or not the server ever sends its response.done
        self._emit_audio_output_done_event(rid, interrupted=True)
        handler.note_cancel(rid)
        await self._send(p.response_cancel(None, self._ids.next()))
