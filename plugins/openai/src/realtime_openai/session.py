"""The OpenAI Realtime session: realtime-core's :class:`~realtime_core.Realtime` over the GA protocol.

The protocol machinery is realtime-openai-protocol's, by composition: a
:class:`~realtime_openai_protocol.ProtocolClient` sends (setup handshake, deferred ``response.create``, one
cancel per reply), and each connection gets a handler (:mod:`.handler`) that reports server events through
``self._core``. The session implements the handler's :class:`~realtime_openai_protocol.ProtocolHost`
(:attr:`interrupts_on_speech`, :meth:`response_slot_free`) and what is OpenAI's own: options, the GA
session object, the transports, history replay, truncation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Literal

from realtime_core import (
    Capabilities,
    ConfigurationError,
    ConnectionFailedError,
    HistoryItem,
    InterruptInfo,
    InvalidAudioError,
    PcmData,
    Realtime,
    ReconnectContext,
    SecretStr,
    ToolResult,
    VideoFrameJpeg,
    resolve_api_key,
)
from realtime_core.errors import ProtocolError, RealtimeError, redact
from realtime_openai_protocol import ProtocolClient, RealtimeTransport, ServerEventHandler

from . import protocol as p
from .calls import CallsClient, calls_url
from .capabilities import build_capabilities
from .config import (
    DEFAULT_BASE_URL,
    DEFAULT_TRANSCRIPTION_MODEL,
    SAMPLE_RATE,
    InputTranscription,
    ServerVad,
    SessionConfig,
    TurnDetection,
    check_session_options,
    turn_detection_of,
)
from .handler import WebRtcEventHandler, make_handler
from .models import DEFAULT_MODEL, check_model_options
from .transport import auth_headers, websocket_transport
from .webrtc_protocol import PlayoutTracker, WebRtcOptions, shrink_jpeg

__all__ = ["OpenAIRealtime"]

log = logging.getLogger("realtime_openai")
API_KEY_ENV: tuple[str, ...] = ("OPENAI_API_KEY",)
_MIN_COMMIT_MS = 100.0  # the server refuses to commit less
_DEFAULT_VAD = ServerVad()


class OpenAIRealtime(Realtime):
    """A realtime speech-to-speech session with OpenAI's Realtime API (GA protocol).

    :param model: ``gpt-realtime-2.1`` (default), ``gpt-realtime-2.1-mini``, ``gpt-realtime-2``... (see
        :data:`realtime_openai.MODELS`; dated snapshots of those too).
    :param api_key: a standard key or an ephemeral ``ek_`` client secret; defaults to ``$OPENAI_API_KEY``.
    :param voice: ``marin`` (default), ``cedar``, ``alloy``... or a custom ``voice_...`` id.
    :param modality: ``"audio"`` (spoken replies with transcripts) or ``"text"`` (text replies).
    :param turn_detection: ``ServerVad(...)`` (default), ``SemanticVad(...)``, the strings
        ``"server_vad"``/``"semantic_vad"``, or ``None`` for manual turns (``end_user_turn()``).
    :param input_transcription: model name or :class:`InputTranscription` for user transcripts
        (default ``gpt-transcribe``); ``None`` turns them off.
    :param noise_reduction: ``"near_field"``, ``"far_field"`` or ``None``.
    :param tool_choice: ``"auto"``, ``"none"``, ``"required"`` or ``{"type": "function", "name": ...}``.
    :param max_output_tokens: 1-4096 or ``"inf"``.
    :param speed: speaking rate, 0.25-1.5.
    :param reasoning_effort: ``minimal``, ``low``, ``medium``, ``high`` or ``xhigh`` (reasoning models only:
        the gpt-realtime-2 family); None leaves the server's default.
    :param parallel_tool_calls: whether the model may call several tools at once (reasoning models only);
        None leaves the server's default.
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
    :param max_replay_items: how many history items a reconnect replays at most (a capped replay reports
        ``state_restored=False``).
    :param response_timeout: seconds a reply may send nothing before it counts as lost (an error event,
        and the next reply is no longer held back); None: wait for ever.

    Core options (``instructions``, ``tools``, ``reconnect``, ``connect_timeout``...) are passed through
    to :class:`~realtime_core.Realtime`.
    """

    provider_name = "openai"
    api_key_env: ClassVar[tuple[str, ...]] = API_KEY_ENV
    """Environment variables the key is read from."""
    wire_sample_rate: ClassVar[int] = SAMPLE_RATE
    """PCM rate on the WebSocket in both directions."""

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
        reasoning_effort: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None,
        parallel_tool_calls: bool | None = None,
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
        response_timeout: float | None = 30.0,
        webrtc: WebRtcOptions | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_session_options(
            transport=transport, webrtc=webrtc, say_mode=say_mode, image_detail=image_detail,
            video_max_fps=video_max_fps, min_append_ms=min_append_ms, max_replay_items=max_replay_items,
            response_timeout=response_timeout,
        )  # fmt: skip
        if isinstance(input_transcription, str):
            input_transcription = InputTranscription(model=input_transcription)
        self._config = SessionConfig(
            model=model,
            voice=voice,
            modality=modality,
            turn_detection=turn_detection_of(turn_detection),
            input_transcription=input_transcription,
            noise_reduction=noise_reduction,
            tool_choice=tool_choice,
            max_output_tokens=max_output_tokens,
            speed=speed,
            reasoning_effort=reasoning_effort,
            parallel_tool_calls=parallel_tool_calls,
            extra=dict(session_extra or {}),
        )
        check_model_options(self._config)
        self._api_key = resolve_api_key(api_key, self.api_key_env, provider=self.provider_name)
        self._url = p.realtime_url(base_url, model)
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
        self._response_timeout = response_timeout
        self._client = ProtocolClient(self._core)
        self._transport: RealtimeTransport | None = None
        self._uncommitted_ms = 0.0
        self._truncated: set[str] = set()

    # ------------------------------------------------------------------ configuration
    @property
    def model(self) -> str:
        return self._config.model

    @property
    def session_config(self) -> SessionConfig:
        """The validated configuration (``instructions`` as currently set on the session)."""
        return replace(self._config, instructions=self.instructions)

    @property
    def server_session(self) -> dict[str, Any]:
        """The session as the server last described it (``session.created`` / ``session.updated``)."""
        return self._client.server_session

    @property
    def transport_name(self) -> str:
        """``"websocket"`` or ``"webrtc"``."""
        return self._transport_name

    def build_session(self) -> dict[str, Any]:
        """The ``session`` object this session sends in ``session.update`` (also usable to mint a client
        secret with the same configuration, see :func:`realtime_openai.create_client_secret`). Over WebRTC
        the audio formats are left out: the media is Opus on the tracks."""
        return p.session_payload(
            self.session_config, self.tools.schemas(), audio_formats=self._transport_name != "webrtc"
        )

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
        return p.realtime_url(base_url, model)

    # ------------------------------------------------------------------ the handler's host (ProtocolHost)
    @property
    def interrupts_on_speech(self) -> bool:
        """Whether the server's turn detection cuts the agent off when the user speaks (for the handler)."""
        return self._config.interrupt_response

    def response_slot_free(self) -> None:
        """The server finished its response: send the ``response.create`` that waited (for the handler)."""
        self._client.send_deferred_soon()

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        transport, handler = await self._open_connection()
        self._emit_connected_event(handler.server_session, self.capabilities)
        handler.activate()
        self._client.attach(transport, handler)

    async def _open_connection(self) -> tuple[RealtimeTransport, ServerEventHandler]:
        """A new connection, set up. The transport is the session's from the start, so ``close()`` during
        ``connect()`` (core cancels this) releases it, whether or not its socket opened yet."""
        handler = self._make_handler()
        transport = self._transport = self._make_transport(handler)
        try:
            await transport.open(handler.handle)
            await self._client.set_up(transport, handler, self.build_session())
        except BaseException:
            handler.close()
            if self._transport is transport:
                self._transport = None
            with contextlib.suppress(Exception):
                await transport.close()
            raise
        return transport, handler

    def _make_handler(self) -> ServerEventHandler:
        playout = None
        if self._transport_name == "webrtc":
            playout = PlayoutTracker(self._core, drain_timeout=self._webrtc.drain_timeout)
        return make_handler(
            self._core, self, output_rate=self.wire_sample_rate, response_timeout=self._response_timeout, playout=playout
        )

    def _make_transport(self, handler: ServerEventHandler) -> RealtimeTransport:
        assert self._api_key is not None
        if isinstance(handler, WebRtcEventHandler):
            try:
                from .webrtc import WebRtcRealtimeTransport  # lazy: aiortc loads only for WebRTC sessions
            except ImportError as exc:
                raise ConfigurationError(
                    f"transport='webrtc' needs the webrtc extra ({exc.name} is missing): "
                    "pip install 'realtime-openai[webrtc]'"
                ) from None

            calls = CallsClient(
                self._calls_url,
                self._api_key,
                ca_file=self._ca_file,
                organization=self._organization,
                project=self._project,
                timeout=self._core.connect_timeout,
            )
            return WebRtcRealtimeTransport(
                self._core,
                handler=handler,
                calls=calls,
                session_config=None if calls.ephemeral else self.build_session(),
                options=self._webrtc,
            )
        headers = auth_headers(self._api_key, organization=self._organization, project=self._project)
        return websocket_transport(
            self._core, self._url, headers, ca_file=self._ca_file, classify=handler.connection_closed,
            min_append_ms=self._min_append_ms,
        )  # fmt: skip

    async def close(self) -> None:
        self._client.detach()
        transport, self._transport = self._transport, None
        handler = self._client.handler
        if handler is not None:
            handler.close()
        if transport is not None:
            await transport.close()

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        self._client.detach()
        old, self._transport = self._transport, None
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close()
        transport, handler = await self._open_connection()
        self._uncommitted_ms = 0.0
        try:
            restored = await self._replay(ctx.history, transport, handler)
        except RealtimeError as exc:
            if isinstance(exc, ConnectionFailedError):
                raise
            self._emit_error_event(exc, context="history replay")
            restored = False
        handler.activate()
        self._client.attach(transport, handler)
        return restored

    async def _replay(
        self, history: tuple[HistoryItem, ...], transport: RealtimeTransport, handler: ServerEventHandler
    ) -> bool:
        """Re-create the conversation on a new connection. True only when the server accepted every item
        of the history: a replay capped at ``max_replay_items`` (or with items that cannot be replayed) is
        partial, and says so (contract 10.2)."""
        items = [p.history_item(h) for h in history]
        kept = [item for item in items[-self._max_replay_items :] if item is not None]
        if not kept:
            return False
        waiters: list[asyncio.Future[None]] = []
        for item in kept:
            item_id = p.new_id("item")
            event_id = self._client.ids.next()
            waiters.append(handler.expect_item(item_id, event_id))
            await self._client.send_on(transport, handler, p.item_create({**item, "id": item_id}, event_id))
        await transport.wait(asyncio.gather(*waiters))
        return len(kept) == len(items)

    # ------------------------------------------------------------------ input
    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            await transport.send_audio(pcm)
        except ConnectionFailedError:
            # The receive loop reports the loss and core reconnects; what the transport could not send
            # it handed back to core, which replays it on the new connection.
            log.debug("openai: audio not sent, the connection is closing")
            return
        self._uncommitted_ms += pcm.duration_ms

    async def simple_response(self, text: str) -> None:
        await self._client.send_user_text(text)

    async def say(self, text: str) -> None:
        await self._client.request_response({"instructions": p.say_instructions(text), "tool_choice": "none"})

    async def begin_user_turn(self) -> None:
        if self.responding:
            await self.interrupt()  # push-to-talk pressed while the agent talks: stop it
        if self._config.turn_detection is None and self._transport is not None:
            await self._transport.flush_audio()
            await self._client.send(p.input_audio_buffer_clear(self._client.ids.next()))
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
            await self._client.send(p.input_audio_buffer_commit(self._client.ids.next()))
            self._uncommitted_ms = 0.0
        await self._client.request_response()

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        await self._client.send_tool_results(results)

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
        await self._client.send(p.item_create(item, self._client.ids.next()))

    # ------------------------------------------------------------------ interruption
    async def _on_interrupt(self, info: InterruptInfo) -> None:
        handler = self._client.handler
        if handler is None or self._transport is None:
            return
        if isinstance(handler, WebRtcEventHandler):
            await self._interrupt_webrtc(info, handler)
            return
        if info.source == "local":
            await self._client.cancel_response()  # once per reply, however often interrupt() is called
        await self._truncate_at_heard(info, handler)

    async def _truncate_at_heard(self, info: InterruptInfo, handler: ServerEventHandler) -> None:
        """Tell the server how much of the cut reply the user heard (``conversation.item.truncate``), once."""
        rid, heard, received = info.response_id, info.heard_ms, info.received_ms
        if rid is None or heard is None or not self.capabilities.truncation:
            return
        item_id = handler.audio_items.get(rid)
        if item_id is None or rid in self._truncated:
            return
        self._truncated.add(rid)
        if len(self._truncated) > 256:
            self._truncated.clear()
        end_ms = int(min(heard, received if received is not None else heard))  # floor: never past the audio
        await self._client.send(p.item_truncate(item_id, end_ms, self._client.ids.next()))

    async def _interrupt_webrtc(self, info: InterruptInfo, handler: WebRtcEventHandler) -> None:
        """WebRTC: the server plays the audio and knows what it played. Stop attributing the track's audio
        (what is still in flight is stale); on a local interrupt cancel the generation, truncate the item at
        what the app heard (it may play the audio later than the track delivered it: ``report_playback``),
        then have the server clear its output buffer, which truncates at what was played, never further
        than the first truncate. On a server barge-in the server already did both."""
        cut = handler.playout.cut()
        if info.source != "local":
            return
        await self._client.cancel_response()
        if cut is not None:  # the server is still playing (or about to play) it
            await self._truncate_at_heard(info, handler)
            await self._client.send(p.output_audio_buffer_clear(self._client.ids.next()))
