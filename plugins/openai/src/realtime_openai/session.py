"""The OpenAI Realtime session: realtime-core's :class:`~realtime_core.Realtime` over the GA protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from realtime_core import (
    Capabilities,
    ConfigurationError,
    ConnectionFailedError,
    HistoryItem,
    InterruptInfo,
    InvalidAudioError,
    PcmData,
    ReconnectContext,
    SecretStr,
    VideoFrameJpeg,
    resolve_api_key,
)
from realtime_core.errors import ProtocolError, RealtimeError, redact

from . import protocol as p
from .calls import CallsClient, calls_url
from .capabilities import TRANSPORTS, available_transports, build_capabilities
from .config import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    SAMPLE_RATE,
    InputTranscription,
    SemanticVad,
    ServerVad,
    SessionConfig,
    TurnDetection,
)
from .dialect import GA, Dialect
from .dialect_session import DialectSession, EventSender
from .handler import ServerEventHandler
from .transport import RealtimeTransport, WebSocketRealtimeTransport
from .webrtc_protocol import PlayoutTracker, WebRtcEventHandler, WebRtcOptions, shrink_jpeg

__all__ = ["OpenAIRealtime"]

log = logging.getLogger("realtime_openai")
API_KEY_ENV: tuple[str, ...] = ("OPENAI_API_KEY",)
_MIN_COMMIT_MS = 100.0  # the server refuses to commit less
_DEFAULT_VAD = ServerVad()


class OpenAIRealtime(DialectSession[ServerEventHandler]):
    """A realtime speech-to-speech session with OpenAI's Realtime API (GA protocol).

    :param model: ``gpt-realtime`` (default), ``gpt-realtime-mini``...
    :param api_key: a standard key or an ephemeral ``ek_`` client secret; defaults to ``$OPENAI_API_KEY``.
    :param voice: ``marin`` (default), ``cedar``, ``alloy``... or a custom ``voice_...`` id.
    :param modality: ``"audio"`` (spoken replies with transcripts) or ``"text"`` (text replies).
    :param turn_detection: ``ServerVad(...)`` (default), ``SemanticVad(...)``, the strings
        ``"server_vad"``/``"semantic_vad"``, or ``None`` for manual turns (``end_user_turn()``).
    :param input_transcription: model name or :class:`InputTranscription` for user transcripts
        (default ``gpt-4o-mini-transcribe``); ``None`` turns them off.
    :param noise_reduction: ``"near_field"``, ``"far_field"`` or ``None``.
    :param tool_choice: ``"auto"``, ``"none"``, ``"required"`` or ``{"type": "function", "name": ...}``.
    :param max_output_tokens: 1-4096 or ``"inf"``.
    :param speed: speaking rate, 0.25-1.5.
    :param session_extra: extra fields merged into the ``session`` object (sent as is).
    :param base_url: the REST base URL (``https://api.openai.com/v1``); the WebSocket URL is derived from it.
    :param ca_file: a CA certificate to trust in addition to the system ones (e.g. the emulator's).
    :param organization: sent as ``OpenAI-Organization``.
    :param project: sent as ``OpenAI-Project``.
    :param transport: ``"websocket"`` (JSON events and base64 PCM over one socket) or ``"webrtc"`` (aiortc:
        events on a data channel, Opus audio on media tracks, 48 kHz both ways; needs the
        ``realtime-openai[webrtc]`` extra). Same session class, same events.
    :param webrtc: :class:`~realtime_openai.WebRtcOptions` for the WebRTC transport (ICE servers, media
        watchdog).
    :param say_mode: ``"off"`` (default: ``say()`` is unsupported) or ``"instructions"``: ``say(text)``
        asks the model, through per-response instructions, to read ``text`` verbatim. The model follows
        such instructions well but nothing guarantees word-for-word output, hence opt-in.
    :param video_max_fps: upper bound for :meth:`watch_video_track` (frames go as ``input_image``
        items); 0 disables video input.
    :param image_detail: ``auto``, ``low`` or ``high`` for video frames.
    :param min_append_ms: microphone audio is coalesced into appends of at least this many ms (it never
        waits longer than that); 0 sends every chunk as it comes.
    :param max_replay_items: how many history items a reconnect replays at most.
    :param dialect: protocol variant (GA); for plugins that reuse this session with another dialect.

    Core options (``instructions``, ``tools``, ``reconnect``, ``connect_timeout``...) are passed through
    to :class:`~realtime_core.Realtime`.
    """

    provider_name = "openai"
    api_key_env: ClassVar[tuple[str, ...]] = API_KEY_ENV
    """Environment variables the key is read from."""
    wire_sample_rate: ClassVar[int] = SAMPLE_RATE
    """PCM rate on the wire in both directions (a dialect with other rates overrides it)."""

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        api_key: str | SecretStr | None = None,
        voice: str = "marin",
        modality: Literal["audio", "text"] = "audio",
        turn_detection: TurnDetection | Literal["server_vad", "semantic_vad"] | None = _DEFAULT_VAD,
        input_transcription: InputTranscription | str | None = DEFAULT_TRANSCRIPTION_MODEL,
        noise_reduction: Literal["near_field", "far_field"] | None = None,
        tool_choice: str | Mapping[str, Any] = "auto",
        max_output_tokens: int | Literal["inf"] = "inf",
        speed: float | None = None,
        session_extra: Mapping[str, Any] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        ca_file: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        transport: str = "websocket",
        say_mode: Literal["off", "instructions"] = "off",
        video_max_fps: float = 1.0,
        image_detail: Literal["auto", "low", "high"] = "auto",
        min_append_ms: float = 50.0,
        max_replay_items: int = 100,
        dialect: Dialect = GA,
        webrtc: WebRtcOptions | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if transport not in TRANSPORTS:
            raise ConfigurationError(
                f"transport {transport!r} is not available; use one of {', '.join(TRANSPORTS)}",
                provider=self.provider_name,
            )
        if transport not in available_transports():
            raise ConfigurationError(
                f"transport {transport!r} needs aiortc: pip install 'realtime-openai[webrtc]'",
                provider=self.provider_name,
            )
        if webrtc is not None and not isinstance(webrtc, WebRtcOptions):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"webrtc must be a WebRtcOptions, got {type(webrtc).__name__}")
        if say_mode not in ("off", "instructions"):
            raise ConfigurationError(f"say_mode must be 'off' or 'instructions', got {say_mode!r}")
        if image_detail not in ("auto", "low", "high"):
            raise ConfigurationError(f"image_detail must be auto, low or high, got {image_detail!r}")
        if isinstance(video_max_fps, bool) or not isinstance(video_max_fps, (int, float)) or video_max_fps < 0:
            raise ConfigurationError(f"video_max_fps must be >= 0, got {video_max_fps!r}")
        if (
            isinstance(min_append_ms, bool)
            or not isinstance(min_append_ms, (int, float))
            or not 0 <= min_append_ms <= 500
        ):
            raise ConfigurationError(f"min_append_ms must be between 0 and 500, got {min_append_ms!r}")
        if isinstance(turn_detection, str):
            vad_types: dict[str, TurnDetection] = {"server_vad": ServerVad(), "semantic_vad": SemanticVad()}
            if turn_detection not in vad_types:
                raise ConfigurationError(
                    f"turn_detection must be 'server_vad', 'semantic_vad', ServerVad(...), SemanticVad(...) or None, got {turn_detection!r}"
                )
            turn_detection = vad_types[turn_detection]
        if isinstance(input_transcription, str):
            input_transcription = InputTranscription(model=input_transcription)
        self._config = SessionConfig(
            model=model,
            voice=voice,
            modality=modality,
            turn_detection=turn_detection,
            input_transcription=input_transcription,
            noise_reduction=noise_reduction,
            tool_choice=tool_choice,
            max_output_tokens=max_output_tokens,
            speed=speed,
            extra=dict(session_extra or {}),
        )
        self._api_key = resolve_api_key(api_key, self.api_key_env, provider=self.provider_name)
        self._url = self.realtime_url(base_url, model)
        self._calls_url = calls_url(base_url)
        self._webrtc = webrtc or WebRtcOptions()
        self._ca_file = ca_file
        self._organization = organization
        self._project = project
        self._transport_name = transport
        self._say_mode = say_mode
        self._video_max_fps = float(video_max_fps)
        self._image_detail = image_detail
        self._min_append_ms = float(min_append_ms)
        self._max_replay_items = max_replay_items
        self._dialect = dialect
        self._transport: RealtimeTransport | None = None
        self._uncommitted_ms = 0.0
        self._truncated: set[str] = set()

    # ------------------------------------------------------------------ configuration
    @property
    def session_config(self) -> SessionConfig:
        """The validated configuration (``instructions`` as currently set on the session)."""
        return replace(self._config, instructions=self.instructions)

    def build_session(self) -> dict[str, Any]:
        """The ``session`` object this session sends in ``session.update`` (also usable to mint a
        client secret with the same configuration, see :func:`realtime_openai.create_client_secret`).

        Over WebRTC the audio formats are left out: the media is Opus on the tracks, and ``audio/pcm``
        describes the WebSocket's base64 audio only."""
        session = self._dialect.session_payload(self.session_config, self.tools.schemas())
        if self._transport_name == "webrtc":
            audio = session.get("audio")
            for side in audio.values() if isinstance(audio, dict) else ():
                if isinstance(side, dict):
                    side.pop("format", None)
        return session

    def _build_capabilities(self) -> Capabilities:
        return build_capabilities(
            self._config,
            transport=self._transport_name,
            say=self._say_mode == "instructions",
            video_max_fps=self._video_max_fps,
        )

    def __repr__(self) -> str:
        return (
            f"<OpenAIRealtime model={self._config.model} session_id={self.session_id} state={self.state} "
            f"url={redact(self._url)}>"
        )

    @staticmethod
    def realtime_url(base_url: str, model: str) -> str:
        """The WebSocket URL for ``model`` under ``base_url`` (``https://host/v1`` → ``wss://host/v1/realtime?model=``)."""
        return _realtime_url(base_url, model)

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        transport, handler = await self._open_connection()
        self._transport, self._handler = transport, handler
        self._emit_connected_event(handler.server_session, self.capabilities)
        handler.activate()

    async def _open_connection(self) -> tuple[RealtimeTransport, ServerEventHandler]:
        handler = self._make_handler()
        transport = self._make_transport(handler)
        try:
            await transport.open(handler.handle)
            await self._send_session_update(transport, handler)
        except BaseException:
            with contextlib.suppress(Exception):
                await transport.close()
            raise
        return transport, handler

    @property
    def transport_name(self) -> str:
        """``"websocket"`` or ``"webrtc"``."""
        return self._transport_name

    def _make_handler(self) -> ServerEventHandler:
        """The protocol layer of one connection (WebRTC adds the output audio buffer's events)."""
        if self._transport_name == "webrtc":
            playout = PlayoutTracker(self, drain_timeout=self._webrtc.drain_timeout)
            return WebRtcEventHandler(self, self._dialect, playout=playout)
        return ServerEventHandler(self, self._dialect, output_rate=self.wire_sample_rate)

    def _make_transport(self, handler: ServerEventHandler) -> RealtimeTransport:
        assert self._api_key is not None
        if self._transport_name == "webrtc":
            from .webrtc import WebRtcRealtimeTransport  # lazy: aiortc loads only for WebRTC sessions

            assert isinstance(handler, WebRtcEventHandler)
            calls = CallsClient(
                self._calls_url,
                self._api_key,
                ca_file=self._ca_file,
                organization=self._organization,
                project=self._project,
                timeout=self._core.connect_timeout,
            )
            return WebRtcRealtimeTransport(
                self,
                handler=handler,
                calls=calls,
                session_config=None if calls.ephemeral else self.build_session(),
                options=self._webrtc,
            )
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        if self._organization:
            headers["OpenAI-Organization"] = self._organization
        if self._project:
            headers["OpenAI-Project"] = self._project
        return WebSocketRealtimeTransport(
            self,
            self._url,
            headers=headers,
            ca_file=self._ca_file,
            open_timeout=self._core.connect_timeout,
            classify=handler.connection_closed,
            sample_rate=self.wire_sample_rate,
            min_append_ms=self._min_append_ms,
        )

    async def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        old, self._transport = self._transport, None
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close()
        transport, handler = await self._open_connection()
        self._transport, self._handler = transport, handler
        self._uncommitted_ms = 0.0
        try:
            restored = await self._replay(ctx.history, transport, handler)
        except RealtimeError as exc:
            if isinstance(exc, ConnectionFailedError):
                raise
            self._emit_error_event(exc, context="history replay")
            restored = False
        handler.activate()
        return restored

    async def _replay(
        self, history: tuple[HistoryItem, ...], transport: RealtimeTransport, handler: ServerEventHandler
    ) -> bool:
        """Re-create the conversation on a new connection; True once the server accepted every item."""
        items = [item for item in (_history_item(h) for h in history[-self._max_replay_items :]) if item is not None]
        if not items:
            return False
        waiters: list[asyncio.Future[None]] = []
        for item in items:
            item_id = p.new_id("item")
            event_id = self._ids.next()
            waiters.append(handler.expect_item(item_id, event_id))
            await self._send_on(transport, handler, p.item_create({**item, "id": item_id}, event_id))
        await asyncio.gather(*waiters)
        return True

    # ------------------------------------------------------------------ sending
    def _event_sender(self) -> EventSender | None:
        return self._transport

    # ------------------------------------------------------------------ input
    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            await transport.send_audio(pcm)
        except ConnectionFailedError:
            # The receive loop reports the loss and core reconnects; what the transport could not send
            # it handed back to core (Realtime._unsent_audio), which replays it on the new connection.
            log.debug("openai: audio not sent, the connection is closing")
            return
        self._uncommitted_ms += pcm.duration_ms

    async def say(self, text: str) -> None:
        await self._request_response({"instructions": p.say_instructions(text), "tool_choice": "none"})

    async def begin_user_turn(self) -> None:
        if self.responding:
            await self.interrupt()  # push-to-talk pressed while the agent talks: stop it
        if self._config.turn_detection is None and self._transport is not None:
            await self._transport.flush_audio()
            await self._send(p.input_audio_buffer_clear(self._ids.next()))
            self._uncommitted_ms = 0.0

    async def end_user_turn(self) -> None:
        if self._config.turn_detection is None:
            if self._transport is not None:
                await self._transport.flush_audio()
            if self._uncommitted_ms < _MIN_COMMIT_MS:
                raise InvalidAudioError(
                    f"end_user_turn() needs at least {_MIN_COMMIT_MS:g} ms of audio since the last turn; "
                    f"only {self._uncommitted_ms:.0f} ms were sent"
                )
            await self._send(p.input_audio_buffer_commit(self._ids.next()))
            self._uncommitted_ms = 0.0
        await self._request_response()

    async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
        data = frame.data
        limit = getattr(self._transport, "max_message_size", 0)
        budget = (limit - 1024) * 3 // 4  # base64 grows it by a third; the event around it is small
        if limit and len(data) > budget:
            # a data channel message has a size limit (the server's SDP says which): re-encode smaller
            caps = self.capabilities
            shrunk = await asyncio.to_thread(
                shrink_jpeg, data, budget, max_width=caps.video_max_width, max_height=caps.video_max_height
            )
            if shrunk is None:
                raise ProtocolError(
                    f"a {len(data)}-byte video frame does not fit the data channel's {limit}-byte messages; "
                    "lower video resolution",
                    provider=self.provider_name,
                )
            data = shrunk
        item = p.image_item(data, frame.mime_type, detail=self._image_detail)
        await self._send(p.item_create(item, self._ids.next()))

    # ------------------------------------------------------------------ interruption
    def _barge_in_if_playing(self) -> None:
        """The server heard the user start talking: interrupt if the agent is (still) being heard."""
        handler = self._handler
        playing = isinstance(handler, WebRtcEventHandler) and handler.playout.active
        if self.responding or playing or self._playback_tail() is not None:
            self._core.handle_barge_in()

    def _playback_tail(self) -> tuple[str, float, float] | None:
        """The last audio response if the app reported it is still playing it: (id, heard, received).

        Audio arrives faster than real time, so a response is often complete while the user still hears
        it. Only the app knows; with :meth:`report_playback` it tells us, and a barge-in then truncates
        that response too.
        """
        handler = self._handler
        if handler is None or not handler.audio_items:
            return None
        rid = next(reversed(handler.audio_items))
        resp = self._core.response(rid)
        if resp is None or resp.interrupted or rid in self._truncated or not resp.playback_reported:
            return None
        heard = resp.heard_ms
        received = resp.received_ms
        return (rid, heard, received) if heard + 1.0 < received else None

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        handler = self._handler
        if handler is None:
            return
        if isinstance(handler, WebRtcEventHandler):
            await self._interrupt_webrtc(info, handler)
            return
        rid, heard, received = info.response_id, info.heard_ms, info.received_ms
        if rid is None:
            tail = self._playback_tail()
            if tail is not None:
                rid, heard, received = tail
        if info.source == "local" and handler.active_response is not None:
            await self._send(p.response_cancel(handler.active_response, self._ids.next()))
        if rid is None or heard is None or not self.capabilities.truncation:
            return
        item_id = handler.audio_items.get(rid)
        if item_id is None or rid in self._truncated:
            return
        self._truncated.add(rid)
        if len(self._truncated) > 256:
            self._truncated.clear()
        end_ms = int(min(heard, received if received is not None else heard))  # floor: never past the audio
        await self._send(p.item_truncate(item_id, end_ms, self._ids.next()))

    async def _interrupt_webrtc(self, info: InterruptInfo, handler: WebRtcEventHandler) -> None:
        """WebRTC: the server plays the audio and knows what was heard. Stop attributing the track's audio
        (what is still in flight is stale); on a local interrupt cancel the generation and have the server
        clear its output buffer, which also truncates the item at what was played. On a server barge-in
        the server already did both."""
        cut = handler.playout.cut()
        if info.source != "local":
            return
        if handler.active_response is not None:
            await self._send(p.response_cancel(handler.active_response, self._ids.next()))
        if cut is not None:  # the server is still playing (or about to play) it
            await self._send(p.output_audio_buffer_clear(self._ids.next()))


def _realtime_url(base_url: str, model: str) -> str:
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://", "ws://", "wss://")):
        raise ConfigurationError(f"base_url must be an http(s):// or ws(s):// URL, got {redact(str(base_url))!r}")
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") + "/realtime"
    query = "&".join(q for q in (parts.query, urlencode({"model": model})) if q)
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def _history_item(item: HistoryItem) -> dict[str, Any] | None:
    if item.kind == "tool_call" and item.call_id and item.tool_name:
        return p.function_call_item(item.call_id, item.tool_name, json.dumps(item.data or {}))
    if item.kind == "tool_result" and item.call_id:
        return p.function_call_output_item(item.call_id, json.dumps(item.data, default=str))
    if item.kind == "message" and item.text and item.role in ("user", "assistant", "system"):
        return p.message_item(item.role, item.text)
    return None
