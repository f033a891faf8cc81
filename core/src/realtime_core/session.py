# pyright: reportPrivateUsage=false
"""The :class:`Realtime` base class every provider session extends.

A provider plugin implements the abstract methods with the seeds' names (``connect``,
``simple_audio_response``, ``close``; optionally ``simple_response``, ``say``, ``begin_user_turn`` /
``end_user_turn``) plus a few protected hooks (``_on_interrupt``, ``_send_tool_results``,
``_send_video_frame``, ``_reconnect``). Core wraps the public methods when the subclass is defined, so
every provider gets the same behaviour for free:

* capability guards (:class:`UnsupportedCapability` before anything is sent) and state checks;
* the plugin hooks around each method, and the event hooks for observers;
* input audio resampled to the provider's rate with one streaming resampler per session;
* event stamping (session id, provider, timestamp, epoch), the epoch rule for interruptions, exactly one
  done event per response, time-to-first-audio metrics, conversation history;
* tool execution in background tasks with timeouts, results sent together per batch;
* reconnection with backoff, audio buffered during the gap and replayed, ``state_restored`` reported.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import contextvars
import enum
import functools
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

from .audio import PcmData, Resampler
from .capabilities import Capabilities
from .errors import (
    ConfigurationError,
    ConnectionFailedError,
    InvalidAudioError,
    ProviderError,
    RealtimeError,
    SessionClosedError,
    ToolExecutionError,
    ToolTimeoutError,
    UnsupportedCapability,
)
from .events import (
    HOOK_NAMES,
    RateLimit,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioInputEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeConnectedEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeEvent,
    RealtimeInterruptedEvent,
    RealtimeMetricsEvent,
    RealtimeRateLimitsEvent,
    RealtimeReconnectedEvent,
    RealtimeResponseEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeToolCallStartedEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechStoppedEvent,
    RealtimeUserSpeechTranscriptionEvent,
    TranscriptMode,
    UserTranscriptEvent,
)
from .plugins import get_plugin_manager, plugin_generation
from .reconnect import AudioGapBuffer, HistoryItem, ReconnectContext, ReconnectPolicy
from .stream import EventStream
from .tools import Tool, ToolCall, ToolFunc, ToolRegistry, ToolResult
from .video import VideoFrameJpeg, VideoSampler, VideoTrack

__all__ = ["InterruptInfo", "Realtime", "SessionState"]

log = logging.getLogger("realtime_core.session")
E = TypeVar("E", bound=RealtimeEvent)
_T = TypeVar("_T")

# (id(session), method) pairs whose core wrapper is running in this context: lets a subclass of a
# provider override a method and call super() without core's logic running twice.
_ACTIVE: contextvars.ContextVar[frozenset[tuple[int, str]]] = contextvars.ContextVar(
    "realtime_active", default=frozenset()
)
_MAX_TRACKED_RESPONSES = 256
_MAX_HISTORY = 500


class SessionState(enum.StrEnum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class InterruptInfo:
    """What a plugin's :meth:`Realtime._on_interrupt` needs to tell its provider.

    :ivar source: ``"local"`` (the app called ``interrupt()``) or ``"server"`` (provider barge-in).
    :ivar response_id: the response that was playing, if any.
    :ivar heard_ms: how much of it counts as heard: ``min(played, received)``; never past the audio that
        actually arrived, so a truncate built from it is always valid.
    :ivar received_ms: how much audio of that response arrived.
    :ivar epoch: the new epoch.
    :ivar generating: True if the provider was still sending the response (cancel it); False if all its
        audio had arrived and only playback was cut (truncate, but there is nothing to cancel).
    """

    source: str
    response_id: str | None
    heard_ms: float | None
    received_ms: float | None
    epoch: int
    generating: bool = True


class _Response:
    __slots__ = (
        "created_at",
        "done",
        "first_audio_at",
        "interrupted",
        "played_ms",
        "received_frames",
        "response_id",
        "sample_rate",
        "ttfa_ms",
    )

    def __init__(self, response_id: str) -> None:
        self.response_id = response_id
        self.created_at = time.monotonic()
        self.first_audio_at: float | None = None
        self.received_frames = 0
        self.sample_rate = 0
        self.done = False
        self.interrupted = False
        self.played_ms: float | None = None
        self.ttfa_ms: float | None = None

    @property
    def received_ms(self) -> float:
        return self.received_frames * 1000.0 / self.sample_rate if self.sample_rate else 0.0

    def heard_ms(self, now: float) -> float:
        if self.first_audio_at is None:
            return 0.0
        played = self.played_ms if self.played_ms is not None else (now - self.first_audio_at) * 1000.0
        return max(0.0, min(played, self.received_ms))


def _wrap(name: str, core: Callable[..., Awaitable[Any]]) -> Callable[[Callable[..., Any]], Any]:
    def decorator(impl: Callable[..., Any]) -> Any:
        @functools.wraps(impl)
        async def wrapper(self: Realtime, *args: Any, **kwargs: Any) -> Any:
            key = (id(self), name)
            active = _ACTIVE.get()
            if key in active:
                return await impl(self, *args, **kwargs)
            token = _ACTIVE.set(active | {key})
            try:
                return await core(self, impl, *args, **kwargs)
            finally:
                _ACTIVE.reset(token)

        wrapper.__realtime_wrapped__ = True  # type: ignore[attr-defined]
        return wrapper

    return decorator


def _as_error(exc: BaseException | str | None, provider: str, default: type[RealtimeError]) -> RealtimeError:
    if isinstance(exc, RealtimeError):
        if exc.provider is None:
            exc.provider = provider
        return exc
    if exc is None:
        return default("connection lost", provider=provider)
    if isinstance(exc, str):
        return default(exc, provider=provider)
    err = default(f"{type(exc).__name__}: {exc}", provider=provider)
    err.__cause__ = exc
    return err


class Realtime(abc.ABC):
    """A realtime speech-to-speech session with one provider.

    :param fps: video frames per second sent by :meth:`watch_video_track` (capped at the provider's limit).
    :param instructions: system instructions for the model.
    :param tools: callables (or :class:`~realtime_core.Tool` objects) the model may call.
    :param reconnect: the :class:`~realtime_core.ReconnectPolicy` (``ReconnectPolicy.disabled()`` to turn
        reconnection off).
    :param connect_timeout: seconds before ``connect()`` fails with :class:`ConnectionFailedError`.
    :param close_timeout: seconds ``close()`` waits for the provider to finish.
    :param tool_timeout: default seconds a tool may run before the model is told it timed out.
    :param event_buffer: events each :meth:`events` consumer may fall behind by (see
        :mod:`realtime_core.stream` for the overflow policy).

    Use it as an async context manager, read events with ``async for event in session.events()`` or
    ``@session.on(EventType)`` handlers, send audio with :meth:`simple_audio_response`.
    """

    provider_name: ClassVar[str] = "unknown"
    """The provider's registered name (``"openai"``, ``"gemini"``...)."""

    _WRAPPED: ClassVar[dict[str, Callable[..., Awaitable[Any]]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, core in Realtime._WRAPPED.items():
            impl = cls.__dict__.get(name)
            if impl is not None and not getattr(impl, "__realtime_wrapped__", False):
                setattr(cls, name, _wrap(name, core)(impl))

    def __init__(
        self,
        *,
        fps: float = 1,
        instructions: str | None = None,
        tools: Iterable[Tool | ToolFunc] = (),
        reconnect: ReconnectPolicy | None = None,
        connect_timeout: float = 10.0,
        close_timeout: float = 5.0,
        tool_timeout: float = 30.0,
        event_buffer: int = 1000,
    ) -> None:
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps <= 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"fps must be a positive number, got {fps!r}")
        if connect_timeout <= 0 or tool_timeout <= 0 or close_timeout <= 0:
            raise ConfigurationError("timeouts must be positive")
        if event_buffer < 1:
            raise ConfigurationError("event_buffer must be at least 1")
        self._session_id = str(uuid.uuid4())
        self._fps = float(fps)
        self.instructions = instructions
        self.tools = ToolRegistry(tools)
        self._reconnect_policy = reconnect if reconnect is not None else ReconnectPolicy()
        self._connect_timeout = float(connect_timeout)
        self._close_timeout = float(close_timeout)
        self._tool_timeout = float(tool_timeout)
        self._event_buffer = event_buffer
        self._capabilities: Capabilities | None = None

        self._state = SessionState.NEW
        self._epoch = 0
        self._connected_emitted = False
        self._disconnected_emitted = False
        self._events_closed = False
        self._last_connected_event: RealtimeConnectedEvent | None = None
        self._connected_evt: asyncio.Event | None = None
        self._closed_evt: asyncio.Event | None = None

        self._streams: list[EventStream] = []
        self._handlers: list[tuple[type[RealtimeEvent], Callable[[Any], Any]]] = []
        self._handler_stream: EventStream | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._hook_gen = -1
        self._event_hooks: dict[type[RealtimeEvent], list[tuple[Callable[..., Any], tuple[str, ...]]]] = {}
        self._method_hooks: dict[str, list[tuple[Callable[..., Any], tuple[str, ...]]]] = {}

        self._tasks: set[asyncio.Task[Any]] = set()
        self._tool_tasks: dict[str, asyncio.Task[ToolResult]] = {}
        self._cancelled_calls: set[str] = set()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._gap = AudioGapBuffer(self._reconnect_policy.buffer_audio_ms)
        self._input_resampler: Resampler | None = None
        self._video: VideoSampler | None = None

        self._responses: OrderedDict[str, _Response] = OrderedDict()
        self._stale: OrderedDict[str, None] = OrderedDict()
        self._active: _Response | None = None
        self._last_audio: _Response | None = None
        self._turn_end_at: float | None = None
        self._history: list[HistoryItem] = []
        self._history_responses: set[str] = set()

    # ================================================================== abstract provider surface
    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection, configure the session and call :meth:`_emit_connected_event`.

        Core wraps it: a timeout (``connect_timeout``) and OS errors become :class:`ConnectionFailedError`,
        the configuration is checked against the capabilities first, and calling it again while connected
        does nothing.
        """

    @abc.abstractmethod
    async def simple_audio_response(self, pcm: PcmData, participant: Any = None) -> None:
        """Send a chunk of microphone audio.

        Apps may pass any rate and channel count; core resamples to ``capabilities.input_sample_rate``
        mono before the provider's implementation receives it. While reconnecting, audio is buffered and
        sent once the connection is back.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection. Core makes it idempotent, stops video, cancels owned tasks and emits
        exactly one :class:`RealtimeDisconnectedEvent` with ``was_clean=True``."""

    async def simple_response(self, text: str) -> None:
        """Send a text message from the user and have the model reply (``capabilities.text_input``)."""
        raise UnsupportedCapability("text_input", f"{self.provider_name} does not take text input")

    async def say(self, text: str) -> None:
        """Have the agent speak ``text`` verbatim (``capabilities.say``)."""
        raise UnsupportedCapability("say", f"{self.provider_name} cannot speak scripted text faithfully")

    async def begin_user_turn(self) -> None:
        """Manual turn-taking: the user starts speaking (``capabilities.manual_turns``)."""

    async def end_user_turn(self) -> None:
        """Manual turn-taking: the user finished; the model should reply (``capabilities.manual_turns``)."""
        raise UnsupportedCapability("manual_turns", f"{self.provider_name} does not support manual turns")

    # ---------------------------------------------------------------- protected provider hooks
    def _build_capabilities(self) -> Capabilities:
        """Return the capabilities of this session *as configured*. Override in every provider."""
        return Capabilities()

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        """Tell the provider about an interruption (cancel the response, truncate at ``info.heard_ms``).

        Called after core has already incremented the epoch, emitted the interruption events and started
        dropping the interrupted response's output.
        """

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        """Send the results of one batch of tool calls (all calls of a response, together)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _send_tool_results to use tools")

    async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
        """Send one JPEG frame per the provider's protocol (``capabilities.video_input``)."""
        raise UnsupportedCapability("video_input", f"{self.provider_name} does not take video")

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        """Open a new connection after a drop (or before a planned limit) and restore what is possible.

        :return: True only if the conversation state was restored (resumption handle, history replay).
        :raises RealtimeError: with ``recoverable=False`` to stop retrying.
        """
        raise UnsupportedCapability("reconnection", f"{self.provider_name} cannot reconnect")

    # ================================================================== public properties
    @property
    def session_id(self) -> str:
        """A uuid4 identifying this session in events and logs."""
        return self._session_id

    @property
    def fps(self) -> float:
        """Video frames per second requested for :meth:`watch_video_track`."""
        return self._fps

    @property
    def epoch(self) -> int:
        """Incremented by every interruption; output events of older epochs are never delivered."""
        return self._epoch

    @property
    def connected(self) -> bool:
        """True while the session can send and receive (False while reconnecting)."""
        return self._state is SessionState.CONNECTED

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def capabilities(self) -> Capabilities:
        """What this session supports, derived from its configuration."""
        caps = self._capabilities
        if caps is None:
            caps = self._capabilities = self._build_capabilities()
        return caps

    @property
    def history(self) -> tuple[HistoryItem, ...]:
        """The conversation so far as core saw it (final transcripts, text input, tool traffic)."""
        return tuple(self._history)

    @property
    def responding(self) -> bool:
        """True while a response is in progress (audio arrived, no done event yet)."""
        return self._active is not None and not self._active.done

    @property
    def agent_audible(self) -> bool:
        """True while the user may still be hearing the agent: a response is streaming, or its audio has
        all arrived but (by reported or estimated real-time playback) is still playing. Plugins use it to
        decide whether user speech is a barge-in."""
        if self.responding:
            return True
        last = self._last_audio
        return last is not None and not last.interrupted and last.heard_ms(time.monotonic()) < last.received_ms - 1.0

    @property
    def current_response_id(self) -> str | None:
        active = self._active
        return active.response_id if active is not None and not active.done else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider_name} session_id={self._session_id} state={self._state}>"

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ================================================================== events: consumption
    def events(
        self, *, maxsize: int | None = None, types: Iterable[type[RealtimeEvent]] | None = None
    ) -> EventStream:
        """A new async iterator over events from now on (bounded; see :mod:`realtime_core.stream`).

        If the session is already connected, the stream starts with its :class:`RealtimeConnectedEvent`,
        so the first event a consumer sees is always the connected one.
        """
        stream = EventStream(
            maxsize=maxsize or self._event_buffer, is_stale=self._is_stale, on_close=self._drop_stream, types=types
        )
        if self._events_closed:
            stream.end()
            return stream
        if self._last_connected_event is not None and self._state in (
            SessionState.CONNECTED,
            SessionState.RECONNECTING,
        ):
            stream.push(self._last_connected_event)
        self._streams.append(stream)
        return stream

    def on(
        self, event_type: type[E] = RealtimeEvent, handler: Callable[[E], Any] | None = None  # type: ignore[assignment]
    ) -> Any:
        """Register a sync or async handler for ``event_type`` (and its subclasses)::

            @session.on(RealtimeAudioOutputEvent)
            async def play(event): ...

        Handlers run one at a time, in emission order, in a task owned by the session; exceptions are
        logged, never propagated into the provider's receive loop.
        """

        def register(fn: Callable[[E], Any]) -> Callable[[E], Any]:
            self._handlers.append((event_type, fn))
            self._ensure_dispatcher()
            return fn

        return register(handler) if handler is not None else register

    def off(self, handler: Callable[[Any], Any]) -> None:
        """Remove a handler registered with :meth:`on`."""
        self._handlers = [(t, h) for t, h in self._handlers if h is not handler]

    def report_playback(self, response_id: str, played_ms: float) -> None:
        """Tell core how much of ``response_id`` the user has actually heard (for truncation).

        Without it, core assumes real-time playback from the first chunk; truncation always uses
        ``min(played, received)``.
        """
        resp = self._responses.get(response_id)
        if resp is not None:
            resp.played_ms = max(0.0, float(played_ms))

    def register_tool(self, func: Tool | ToolFunc, **kwargs: Any) -> Tool:
        """Add a tool before :meth:`connect` (tools are part of the session configuration)."""
        if self._state is not SessionState.NEW:
            raise ConfigurationError("register tools before connect(); they are sent with the session setup")
        return self.tools.register(func, **kwargs)

    # ================================================================== interruption
    async def interrupt(self) -> None:
        """Cut the agent off now.

        Increments :attr:`epoch` first, so no output event emitted before this call is delivered after it;
        emits :class:`RealtimeInterruptedEvent` and, if a response was playing, agent-speech-stopped and
        audio-done with ``interrupted=True``; then tells the provider (cancel/truncate per protocol).
        """
        self._require("interruption", "interrupt()")
        info = self._begin_interrupt("local")
        if self._state is SessionState.CONNECTED:
            try:
                await self._on_interrupt(info)
            except RealtimeError as exc:
                self._emit_error_event(exc, context="interrupt")

    def _handle_barge_in(self) -> InterruptInfo:
        """For plugins: the provider detected the user talking over the agent.

        Produces exactly the same events as :meth:`interrupt` and calls :meth:`_on_interrupt` with
        ``source="server"`` in an owned task.
        """
        info = self._begin_interrupt("server")
        if self._state is SessionState.CONNECTED:
            self._spawn(self._safe_on_interrupt(info), name="realtime-barge-in")
        return info

    async def _safe_on_interrupt(self, info: InterruptInfo) -> None:
        try:
            await self._on_interrupt(info)
        except RealtimeError as exc:
            self._emit_error_event(exc, context="interrupt")

    def _begin_interrupt(self, source: str) -> InterruptInfo:
        self._epoch += 1
        now = time.monotonic()
        resp = self._active if self._active is not None and not self._active.done else None
        generating = resp is not None
        if resp is None:
            # all audio may have arrived (faster than real time) while the app is still playing it
            last = self._last_audio
            if last is not None and not last.interrupted and last.heard_ms(now) < last.received_ms - 1.0:
                resp = last
        heard = resp.heard_ms(now) if resp is not None else None
        received = resp.received_ms if resp is not None else None
        rid = resp.response_id if resp is not None else None
        self._emit(
            RealtimeInterruptedEvent.model_construct(
                **self._stamp(), source=source, response_id=rid, heard_ms=heard
            )
        )
        if resp is not None:
            if generating:
                self._finish_response(resp, interrupted=True)
            else:  # its done event is already out: only stop any stragglers and remember the cut
                resp.interrupted = True
                self._stale[resp.response_id] = None
        for stream in self._streams:
            stream.purge_stale()
        self._call_method_hook("realtime_interrupt", source=source, response_id=rid)
        return InterruptInfo(
            source=source,
            response_id=rid,
            heard_ms=heard,
            received_ms=received,
            epoch=self._epoch,
            generating=generating,
        )

    # ================================================================== video
    async def watch_video_track(self, track: VideoTrack) -> None:
        """Sample ``track`` (an aiortc ``MediaStreamTrack``) at :attr:`fps` and send JPEG frames.

        The latest frame wins (no backlog); frames are scaled to the provider's limits and encoded off the
        event loop. Watching a new track replaces the previous one.
        """
        self._require("video_input", "watch_video_track()")
        if self._state not in (SessionState.CONNECTED, SessionState.RECONNECTING):
            raise SessionClosedError("connect() the session before watching a video track", provider=self.provider_name)
        await self.stop_watching_video_track()
        caps = self.capabilities
        fps = min(self._fps, caps.video_max_fps) if caps.video_max_fps else self._fps
        self._video = VideoSampler(
            track,
            fps=fps,
            on_frame=self._deliver_video_frame,
            max_width=caps.video_max_width,
            max_height=caps.video_max_height,
        )
        self._video.start()

    async def stop_watching_video_track(self) -> None:
        """Stop sending video; no frame is sent after this returns."""
        sampler, self._video = self._video, None
        if sampler is not None:
            await sampler.stop()

    async def _deliver_video_frame(self, frame: VideoFrameJpeg) -> None:
        if self._state is not SessionState.CONNECTED:
            return  # frames are snapshots: skipping one during a reconnect loses nothing that matters
        replaced = self._call_method_hook("realtime_video_frame", first=True, session=self, frame=frame)
        if replaced is not None:
            frame = replaced
        try:
            await self._send_video_frame(frame)
        except RealtimeError as exc:
            self._emit_error_event(exc, context="video")

    # ================================================================== emitters (seed names)
    def _stamp(self, user_metadata: Any = None) -> dict[str, Any]:
        return {
            "session_id": self._session_id,
            "provider": self.provider_name,
            "timestamp": time.time(),
            "epoch": self._epoch,
            "user_metadata": user_metadata,
        }

    def _emit_connected_event(
        self, session_config: dict[str, Any] | None = None, capabilities: Capabilities | None = None
    ) -> None:
        """The connection is ready. Ignored after the first call per ``connect()`` (reconnects emit
        :class:`RealtimeReconnectedEvent` instead)."""
        if self._connected_emitted or self._events_closed:
            return
        if capabilities is not None:
            self._capabilities = capabilities
        self._connected_emitted = True
        self._disconnected_emitted = False
        if self._state is SessionState.CONNECTING:
            self._set_state(SessionState.CONNECTED)
        event = RealtimeConnectedEvent.model_construct(
            **self._stamp(), session_config=dict(session_config or {}), capabilities=self.capabilities
        )
        self._last_connected_event = event
        self._emit(event)

    def _emit_disconnected_event(self, reason: str = "", was_clean: bool = True) -> None:
        """The connection ended. ``was_clean=False`` is treated as a lost connection (core reconnects if
        it can); ``close()`` emits the clean one itself, so plugins rarely need to call this."""
        if not was_clean:
            self._connection_lost(reason=reason or "connection lost")
            return
        if self._disconnected_emitted or not self._connected_emitted:
            return
        self._disconnected_emitted = True
        self._emit(
            RealtimeDisconnectedEvent.model_construct(
                **self._stamp(), reason=reason, was_clean=True, will_reconnect=False, error=None
            )
        )

    def _emit_audio_input_event(self, audio_data: PcmData, user_metadata: Any = None) -> None:
        """Mirror audio the app sent (core calls this from ``simple_audio_response``)."""
        if self._events_closed or not self._has_listeners(RealtimeAudioInputEvent):
            return
        self._emit(RealtimeAudioInputEvent.model_construct(**self._stamp(user_metadata), audio_data=audio_data))

    def _emit_audio_output_event(self, audio_data: PcmData, response_id: str, user_metadata: Any = None) -> None:
        """A chunk of agent audio for ``response_id``. Dropped if the response was interrupted or is done."""
        if self._events_closed or response_id in self._stale:
            return
        resp = self._responses.get(response_id)
        if resp is None:
            resp = self._open_response(response_id)
        elif resp.done:
            return
        if resp.first_audio_at is None:
            now = time.monotonic()
            resp.first_audio_at = now
            resp.sample_rate = audio_data.sample_rate
            if self._turn_end_at is not None:
                resp.ttfa_ms = (now - self._turn_end_at) * 1000.0
                self._turn_end_at = None
            self._emit(RealtimeAgentSpeechStartedEvent.model_construct(**self._stamp(), response_id=response_id))
        resp.received_frames += audio_data.frames
        self._active = resp
        self._last_audio = resp
        if self._has_listeners(RealtimeAudioOutputEvent):
            self._emit(
                RealtimeAudioOutputEvent.fast(
                    **self._stamp(user_metadata), audio_data=audio_data, response_id=response_id
                )
            )

    def _emit_audio_output_done_event(
        self, response_id: str, user_metadata: Any = None, *, interrupted: bool = False
    ) -> None:
        """No more audio for ``response_id``. Emitted at most once per response (later calls are ignored)."""
        if self._events_closed or response_id in self._stale:
            return
        resp = self._responses.get(response_id) or self._open_response(response_id)
        if resp.done:
            return
        self._finish_response(resp, interrupted=interrupted, user_metadata=user_metadata)

    def _emit_response_event(
        self,
        text: str,
        response_id: str,
        is_complete: bool = False,
        conversation_item_id: str | None = None,
        user_metadata: Any = None,
    ) -> None:
        """Response text: deltas with ``is_complete=False``, then the whole text with ``is_complete=True``."""
        if self._events_closed or response_id in self._stale:
            return
        if response_id not in self._responses:
            self._open_response(response_id)
        if is_complete:
            self._add_history(HistoryItem("assistant", text, item_id=conversation_item_id, response_id=response_id))
        self._emit(
            RealtimeResponseEvent.model_construct(
                **self._stamp(user_metadata),
                text=text,
                response_id=response_id,
                is_complete=is_complete,
                conversation_item_id=conversation_item_id,
            )
        )

    def _emit_user_speech_transcription(
        self, text: str, original: Any = None, *, mode: TranscriptMode = "final", item_id: str | None = None
    ) -> None:
        """What the user said (``mode="delta"`` pieces, then ``"final"``); also emits :class:`UserTranscriptEvent`."""
        if self._events_closed:
            return
        if mode == "final":
            self._add_history(HistoryItem("user", text, item_id=item_id))
        stamp = self._stamp()
        self._emit(
            RealtimeUserSpeechTranscriptionEvent.model_construct(
                **stamp, text=text, original=original, mode=mode, item_id=item_id
            )
        )
        self._emit(UserTranscriptEvent.model_construct(**stamp, text=text, is_final=mode == "final", item_id=item_id))

    def _emit_agent_speech_transcription(
        self, text: str, original: Any = None, *, mode: TranscriptMode = "final", response_id: str | None = None
    ) -> None:
        """What the agent said; deltas concatenate to the final text. Dropped for interrupted responses."""
        if self._events_closed or (response_id is not None and response_id in self._stale):
            return
        if mode == "final":
            self._add_history(HistoryItem("assistant", text, response_id=response_id))
        self._emit(
            RealtimeAgentSpeechTranscriptionEvent.model_construct(
                **self._stamp(), text=text, original=original, mode=mode, response_id=response_id
            )
        )

    def _emit_error_event(self, error: BaseException | str, context: str = "", user_metadata: Any = None) -> None:
        """Report an error the session survives. Non-realtime exceptions are wrapped in :class:`ProviderError`."""
        if self._events_closed:
            return
        err = _as_error(error, self.provider_name, ProviderError)
        log.debug("%s session %s error (%s): %s", self.provider_name, self._session_id, context, err)
        self._emit(RealtimeErrorEvent.model_construct(**self._stamp(user_metadata), error=err, context=context))

    def _emit_user_speech_started(self, item_id: str | None = None, audio_start_ms: float | None = None) -> None:
        if self._events_closed:
            return
        self._emit(
            RealtimeUserSpeechStartedEvent.model_construct(**self._stamp(), item_id=item_id, audio_start_ms=audio_start_ms)
        )

    def _emit_user_speech_stopped(
        self, item_id: str | None = None, audio_end_ms: float | None = None, *, ended_ago_ms: float = 0.0
    ) -> None:
        """The user's turn ended; also starts the time-to-first-audio clock.

        :param ended_ago_ms: for providers that report the end of speech late (derived from transcripts or
            turn events): how long ago it really ended, so time to first audio is measured from there.
        """
        if self._events_closed:
            return
        self._turn_end_at = time.monotonic() - max(0.0, ended_ago_ms) / 1000.0
        self._emit(
            RealtimeUserSpeechStoppedEvent.model_construct(**self._stamp(), item_id=item_id, audio_end_ms=audio_end_ms)
        )

    def _emit_usage_event(self, response_id: str | None = None, raw: dict[str, Any] | None = None, **tokens: int | None) -> None:
        """Token usage; ``tokens`` are the :class:`RealtimeUsageEvent` fields (``input_tokens=...``)."""
        if self._events_closed:
            return
        unknown = set(tokens) - set(RealtimeUsageEvent.model_fields)
        if unknown:
            raise TypeError(f"unknown usage fields: {sorted(unknown)}")
        self._emit(RealtimeUsageEvent.model_validate({**self._stamp(), "response_id": response_id, "raw": raw or {}, **tokens}))

    def _emit_rate_limits_event(self, limits: Sequence[RateLimit]) -> None:
        if self._events_closed:
            return
        self._emit(RealtimeRateLimitsEvent.model_construct(**self._stamp(), limits=list(limits)))

    # ---------------------------------------------------------------- response bookkeeping
    def _begin_response(self, response_id: str) -> None:
        """Optional for plugins: a response started (before its first audio)."""
        if response_id not in self._responses and response_id not in self._stale:
            self._open_response(response_id)

    def _open_response(self, response_id: str) -> _Response:
        resp = _Response(response_id)
        self._responses[response_id] = resp
        if len(self._responses) > _MAX_TRACKED_RESPONSES:
            self._responses.popitem(last=False)
        return resp

    def _finish_response(self, resp: _Response, *, interrupted: bool, user_metadata: Any = None) -> None:
        resp.done = True
        resp.interrupted = interrupted
        if interrupted:
            self._stale[resp.response_id] = None
            if len(self._stale) > _MAX_TRACKED_RESPONSES:
                self._stale.popitem(last=False)
        rid = resp.response_id
        if resp.first_audio_at is not None:
            self._emit(
                RealtimeAgentSpeechStoppedEvent.model_construct(**self._stamp(), response_id=rid, interrupted=interrupted)
            )
        self._emit(
            RealtimeAudioOutputDoneEvent.model_construct(
                **self._stamp(user_metadata), response_id=rid, interrupted=interrupted
            )
        )
        if resp.first_audio_at is not None:
            self._emit(
                RealtimeMetricsEvent.model_construct(
                    **self._stamp(),
                    response_id=rid,
                    time_to_first_audio_ms=resp.ttfa_ms,
                    audio_output_ms=resp.received_ms,
                    interrupted=interrupted,
                )
            )
        if self._active is resp:
            self._active = None

    def _end_active_response(self) -> None:
        resp = self._active
        if resp is not None and not resp.done:
            self._finish_response(resp, interrupted=True)

    def _add_history(self, item: HistoryItem) -> None:
        if item.role == "assistant" and item.response_id is not None:
            if item.response_id in self._history_responses:
                return
            self._history_responses.add(item.response_id)
        if item.kind == "message" and not item.text:
            return
        self._history.append(item)
        if len(self._history) > _MAX_HISTORY:
            del self._history[0]

    def _mark_turn_end(self) -> None:
        self._turn_end_at = time.monotonic()

    # ---------------------------------------------------------------- dispatch
    def _is_stale(self, event: RealtimeEvent) -> bool:
        return event.is_output and event.epoch < self._epoch

    def _has_listeners(self, cls: type[RealtimeEvent]) -> bool:
        return bool(self._streams) or bool(self._observers(cls))

    def _emit(self, event: RealtimeEvent) -> None:
        for fn, argnames in self._observers(type(event)):
            try:
                fn(**{a: (self if a == "session" else event) for a in argnames})
            except Exception:
                log.exception("realtime observer %r failed on %s", fn, event.type)
        for stream in self._streams:
            stream.push(event)

    def _refresh_hooks(self) -> None:
        gen = plugin_generation()
        if gen == self._hook_gen:
            return
        pm = get_plugin_manager()
        gen = plugin_generation()  # loading entry points may have bumped it
        self._event_hooks = {}
        self._method_hooks = {}
        catch_all = [(i.function, tuple(i.argnames)) for i in reversed(pm.hook.realtime_on_event.get_hookimpls())]
        for cls, hook_name in HOOK_NAMES.items():
            caller = getattr(pm.hook, hook_name)
            self._event_hooks[cls] = catch_all + [
                (i.function, tuple(i.argnames)) for i in reversed(caller.get_hookimpls())
            ]
        for name in (
            "realtime_connect",
            "realtime_audio_input",
            "realtime_text_input",
            "realtime_say",
            "realtime_video_frame",
            "realtime_interrupt",
            "realtime_close",
        ):
            caller = getattr(pm.hook, name)
            self._method_hooks[name] = [(i.function, tuple(i.argnames)) for i in reversed(caller.get_hookimpls())]
        self._hook_gen = gen

    def _observers(self, cls: type[RealtimeEvent]) -> list[tuple[Callable[..., Any], tuple[str, ...]]]:
        if self._hook_gen != plugin_generation():
            self._refresh_hooks()
        found = self._event_hooks.get(cls)
        if found is None:  # a subclass defined by a plugin: use its nearest known base
            for base in cls.__mro__[1:]:
                if base in self._event_hooks:
                    found = self._event_hooks[base]
                    break
            else:
                found = self._event_hooks.get(RealtimeEvent, [])
            self._event_hooks[cls] = found
        return found

    def _call_method_hook(self, name: str, *, first: bool = False, **kwargs: Any) -> Any:
        if self._hook_gen != plugin_generation():
            self._refresh_hooks()
        kwargs.setdefault("session", self)
        for fn, argnames in self._method_hooks.get(name, ()):
            try:
                result = fn(**{a: kwargs.get(a) for a in argnames})
            except Exception:
                log.exception("realtime plugin hook %s (%r) failed", name, fn)
                continue
            if first and result is not None:
                return result
        return None

    def _ensure_dispatcher(self) -> None:
        if self._handler_stream is None:
            self._handler_stream = self.events()
        if self._dispatcher is None or self._dispatcher.done():
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # started by connect()
            self._dispatcher = asyncio.create_task(self._dispatch_handlers(), name="realtime-handlers")

    async def _dispatch_handlers(self) -> None:
        stream = self._handler_stream
        assert stream is not None
        async for event in stream:
            for event_type, handler in list(self._handlers):
                if not isinstance(event, event_type):
                    continue
                try:
                    result = handler(event)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:
                    log.exception("event handler %r failed on %s", handler, event.type)

    def _drop_stream(self, stream: EventStream) -> None:
        with contextlib.suppress(ValueError):
            self._streams.remove(stream)

    def _end_streams(self) -> None:
        self._events_closed = True
        for stream in self._streams:
            stream.end()

    # ================================================================== tasks
    def _spawn(
        self, coro: Coroutine[Any, Any, _T], *, name: str | None = None, report_errors: bool = True
    ) -> asyncio.Task[_T]:
        """Start a task owned by the session: cancelled and awaited on close.

        :param report_errors: turn an exception into a logged error event; pass False for tasks whose
            creator awaits them and handles the exception itself.
        """
        ctx = contextvars.copy_context()
        ctx.run(_ACTIVE.set, frozenset())
        task = asyncio.get_running_loop().create_task(coro, name=name, context=ctx)
        self._tasks.add(task)
        task.add_done_callback(self._task_done if report_errors else self._tasks.discard)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("task %s of %s session %s failed", task.get_name(), self.provider_name, self._session_id, exc_info=exc)
            if not self._events_closed:
                self._emit_error_event(exc if isinstance(exc, RealtimeError) else ProviderError(
                    f"internal task {task.get_name()} failed: {type(exc).__name__}: {exc}", provider=self.provider_name
                ), context=task.get_name())

    async def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current and not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ================================================================== state helpers
    def _set_state(self, state: SessionState) -> None:
        self._state = state
        if self._connected_evt is None:
            self._connected_evt = asyncio.Event()
        if state is SessionState.CONNECTED:
            self._connected_evt.set()
        else:
            self._connected_evt.clear()

    def _require(self, capability: str, operation: str) -> None:
        if not self.capabilities.supports(capability):
            raise UnsupportedCapability(
                capability,
                f"{self.provider_name} does not support {operation} with this configuration "
                f"(capabilities.{capability} is off)",
                provider=self.provider_name,
            )

    async def _wait_connected(self, operation: str) -> None:
        state = self._state
        if state is SessionState.CONNECTED:
            return
        if state in (SessionState.RECONNECTING, SessionState.CONNECTING) and self._connected_evt is not None:
            policy = self._reconnect_policy
            budget = self._connect_timeout * max(1, policy.max_attempts) + policy.max_delay * policy.max_attempts
            try:
                async with asyncio.timeout(budget):
                    await self._connected_evt.wait()
                return
            except TimeoutError:
                pass
        raise SessionClosedError(
            f"cannot {operation}: the session is {self._state.value}"
            + ("; call connect() first" if self._state is SessionState.NEW else ""),
            provider=self.provider_name,
        )

    def _check_configuration(self) -> None:
        if len(self.tools) and not self.capabilities.tools:
            raise UnsupportedCapability(
                "tools",
                f"{self.provider_name} does not support tools with this configuration; remove tools=...",
                provider=self.provider_name,
            )

    # ================================================================== connection loss & reconnection
    def _connection_lost(self, error: BaseException | str | None = None, *, reason: str = "connection lost") -> None:
        """For plugins: the transport died unexpectedly. Core emits a disconnected event and reconnects
        (if the policy, the capabilities and ``error.recoverable`` allow) through :meth:`_reconnect`."""
        if self._state is not SessionState.CONNECTED:
            return
        err = _as_error(error, self.provider_name, ConnectionFailedError) if error is not None else (
            ConnectionFailedError(reason, provider=self.provider_name)
        )
        will = (
            err.recoverable
            and self._reconnect_policy.max_attempts > 0
            and self.capabilities.reconnection
            and type(self)._reconnect is not Realtime._reconnect
        )
        self._end_active_response()
        self._set_state(SessionState.RECONNECTING if will else SessionState.FAILED)
        if not will:
            self._emit_error_event(err, context="connection")
        self._emit(
            RealtimeDisconnectedEvent.model_construct(
                **self._stamp(), reason=reason, was_clean=False, will_reconnect=will, error=err
            )
        )
        if will:
            self._reconnect_task = self._spawn(self._reconnect_loop(reason, planned=False), name="realtime-reconnect")
        else:
            self._disconnected_emitted = True
            self._end_streams()
            self._spawn(self._release_after_failure(), name="realtime-release")

    def _renew(self, reason: str) -> None:
        """For plugins: replace the connection proactively (goAway, stream time limit, session expiry).

        Input audio is buffered during the switch; a :class:`RealtimeReconnectedEvent` with
        ``planned=True`` follows. The plugin's :meth:`_reconnect` receives ``ctx.planned=True`` and may
        open the new connection before closing the old one.
        """
        if self._state is not SessionState.CONNECTED or (
            self._reconnect_task is not None and not self._reconnect_task.done()
        ):
            return
        self._set_state(SessionState.RECONNECTING)
        self._reconnect_task = self._spawn(self._reconnect_loop(reason, planned=True), name="realtime-renew")

    async def _reconnect_loop(self, reason: str, *, planned: bool) -> None:
        policy = self._reconnect_policy
        last: RealtimeError | None = None
        attempt = 0
        while attempt < max(1, policy.max_attempts):
            attempt += 1
            if not (planned and attempt == 1):
                await asyncio.sleep(policy.delay(attempt))
            ctx = ReconnectContext(attempt=attempt, reason=reason, planned=planned, history=tuple(self._history))
            try:
                async with asyncio.timeout(self._connect_timeout):
                    restored = await self._reconnect(ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                last = _as_error(exc, self.provider_name, ConnectionFailedError)
                log.info("%s reconnect attempt %d failed: %s", self.provider_name, attempt, last)
                if not last.recoverable:
                    break
                continue
            if self._state is not SessionState.RECONNECTING:
                return  # closed meanwhile
            try:
                replayed = await self._replay_gap()
            except ConnectionFailedError as exc:
                last = exc
                continue  # the new connection died already: try again, the audio is still buffered
            lost = self._gap.lost_ms
            self._gap.reset()
            self._set_state(SessionState.CONNECTED)
            self._emit(
                RealtimeReconnectedEvent.model_construct(
                    **self._stamp(),
                    reason=reason,
                    attempts=attempt,
                    planned=planned,
                    state_restored=bool(restored),
                    replayed_audio_ms=replayed,
                    lost_audio_ms=lost,
                )
            )
            return
        final = ConnectionFailedError(
            f"could not reconnect after {attempt} attempt(s)" + (f": {last.message}" if last else ""),
            provider=self.provider_name,
            recoverable=False,
            code=last.code if last else None,
        )
        self._set_state(SessionState.FAILED)
        self._emit_error_event(final, context="reconnect")
        self._emit(
            RealtimeDisconnectedEvent.model_construct(
                **self._stamp(), reason="reconnect failed", was_clean=False, will_reconnect=False, error=final
            )
        )
        self._disconnected_emitted = True
        self._end_streams()
        await self._release_after_failure()

    async def _replay_gap(self) -> float:
        replayed = 0.0
        while len(self._gap):
            items = self._gap.drain()
            for i, (pcm, participant) in enumerate(items):
                try:
                    await self._call_audio_impl(pcm, participant)
                except ConnectionFailedError:
                    self._gap.restore(items[i:])
                    raise
                replayed += pcm.duration_ms
        return replayed

    async def _release_after_failure(self) -> None:
        # Let the provider free its transport; its close() must tolerate a dead connection.
        impl = getattr(type(self).close, "__wrapped__", None)
        if impl is not None:
            try:
                async with asyncio.timeout(self._close_timeout):
                    await impl(self)
            except Exception:
                log.debug("provider close after failure raised", exc_info=True)

    def _unsent_audio(self, pcm: PcmData, participant: Any = None) -> None:
        """For plugins: hand back audio the transport could not send (it buffers audio itself and the
        socket died). It is replayed after the reconnection, or reported as lost; never silently dropped."""
        if self._state in (SessionState.CONNECTED, SessionState.RECONNECTING):
            self._gap.add(pcm, participant)
        else:
            self._gap.lost_ms += pcm.duration_ms
            log.warning("%s: %.0f ms of audio could not be sent (session %s)", self.provider_name, pcm.duration_ms, self._state.value)

    async def _call_audio_impl(self, pcm: PcmData, participant: Any) -> None:
        token = _ACTIVE.set(_ACTIVE.get() | {(id(self), "simple_audio_response")})
        try:
            await self.simple_audio_response(pcm, participant)
        finally:
            _ACTIVE.reset(token)

    # ================================================================== tools
    def _start_tool_calls(self, calls: Sequence[ToolCall]) -> asyncio.Task[None] | None:
        """For plugins: run ``calls`` (all calls of one response) in the background, then send all
        results together through :meth:`_send_tool_results`. Cancelled calls' results are not sent."""
        if not calls:
            return None
        return self._spawn(self._run_tool_batch(list(calls)), name="realtime-tools")

    def _cancel_tool_calls(self, call_ids: Iterable[str]) -> None:
        """For plugins: the provider cancelled these calls; their results will not be sent."""
        for call_id in call_ids:
            self._cancelled_calls.add(call_id)
            task = self._tool_tasks.get(call_id)
            if task is not None and not task.done():
                task.cancel()

    async def _run_tool_batch(self, calls: list[ToolCall]) -> None:
        tasks: list[tuple[ToolCall, asyncio.Task[ToolResult]]] = []
        for call in calls:
            try:
                args = call.parsed_arguments()
            except ValueError:
                args = {}
            self._emit(
                RealtimeToolCallStartedEvent.model_construct(
                    **self._stamp(), call_id=call.call_id, name=call.name, arguments=args, response_id=call.response_id
                )
            )
            self._add_history(HistoryItem("tool", kind="tool_call", tool_name=call.name, call_id=call.call_id, data=args))
            if call.call_id in self._cancelled_calls:
                continue
            task = self._spawn(self.tools.run(call, timeout=self._tool_timeout), name=f"realtime-tool-{call.name}")
            self._tool_tasks[call.call_id] = task
            tasks.append((call, task))
        results: list[ToolResult] = []
        for call, task in tasks:
            try:
                result = await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                result = ToolResult(call.call_id, call.name, error="cancelled", cancelled=True, response_id=call.response_id)
            finally:
                self._tool_tasks.pop(call.call_id, None)
            if call.call_id in self._cancelled_calls:
                result.cancelled = True
            self._emit(
                RealtimeToolCallFinishedEvent.model_construct(
                    **self._stamp(),
                    call_id=result.call_id,
                    name=result.name,
                    result=result.output,
                    error=result.error,
                    timed_out=result.timed_out,
                    cancelled=result.cancelled,
                    duration_ms=result.duration_ms,
                    response_id=result.response_id,
                )
            )
            if result.error is not None and not result.cancelled:
                err_cls = ToolTimeoutError if result.timed_out else ToolExecutionError
                self._emit_error_event(err_cls(f"tool {result.name!r}: {result.error}", provider=self.provider_name), context="tool")
            results.append(result)
        for call in calls:
            self._cancelled_calls.discard(call.call_id)
        to_send = [r for r in results if not r.cancelled]
        for r in to_send:
            self._add_history(
                HistoryItem("tool", kind="tool_result", tool_name=r.name, call_id=r.call_id, data=r.as_dict())
            )
        if not to_send:
            return
        try:
            await self._wait_connected("send tool results")
            await self._send_tool_results(to_send)
        except RealtimeError as exc:
            self._emit_error_event(exc, context="tool results")

    # ================================================================== core wrappers (installed on subclasses)
    async def _core_connect(self, impl: Callable[[Self], Awaitable[None]]) -> None:
        state = self._state
        if state in (SessionState.CLOSED, SessionState.CLOSING, SessionState.FAILED):
            raise SessionClosedError(
                f"this {self.provider_name} session is {state.value}; create a new session", provider=self.provider_name
            )
        if state is SessionState.RECONNECTING and asyncio.current_task() is self._reconnect_task:
            # a provider's _reconnect() may simply call connect() again to open the new connection
            async with asyncio.timeout(self._connect_timeout):
                await impl(self)
            return
        if state in (SessionState.CONNECTED, SessionState.RECONNECTING):
            return
        if state is SessionState.CONNECTING:
            await self._wait_connected("connect")
            return
        self._check_configuration()
        self._closed_evt = asyncio.Event()
        self._set_state(SessionState.CONNECTING)
        if self._handlers:
            self._ensure_dispatcher()
        self._call_method_hook("realtime_connect")
        try:
            async with asyncio.timeout(self._connect_timeout):
                await impl(self)
        except BaseException as exc:
            await self._abort_connect()
            if isinstance(exc, TimeoutError):
                raise ConnectionFailedError(
                    f"timed out after {self._connect_timeout:g}s connecting to {self.provider_name}",
                    provider=self.provider_name,
                ) from exc
            if isinstance(exc, RealtimeError):
                raise
            if isinstance(exc, OSError):
                raise ConnectionFailedError(
                    f"could not connect to {self.provider_name}: {exc}", provider=self.provider_name
                ) from exc
            raise
        if not self._connected_emitted:
            self._emit_connected_event()
        if self._state is SessionState.CONNECTING:
            self._set_state(SessionState.CONNECTED)

    async def _abort_connect(self) -> None:
        impl = getattr(type(self).close, "__wrapped__", None)
        if impl is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._close_timeout):
                    await impl(self)
        await self._cancel_tasks()
        if self._connected_emitted and not self._disconnected_emitted:
            self._disconnected_emitted = True
            self._emit(
                RealtimeDisconnectedEvent.model_construct(
                    **self._stamp(), reason="connect failed", was_clean=False, will_reconnect=False, error=None
                )
            )
        self._connected_emitted = False
        self._set_state(SessionState.NEW)

    async def _core_audio(
        self, impl: Callable[..., Awaitable[None]], pcm: PcmData, participant: Any = None
    ) -> None:
        if not isinstance(pcm, PcmData):  # pyright: ignore[reportUnnecessaryIsInstance]  # apps pass anything
            raise InvalidAudioError(
                f"simple_audio_response takes PcmData, got {type(pcm).__name__}; wrap raw bytes with "
                "PcmData.from_bytes(data, sample_rate)"
            )
        state = self._state
        if state is not SessionState.CONNECTED and state is not SessionState.RECONNECTING:
            raise SessionClosedError(
                f"cannot send audio: the session is {state.value}"
                + ("; call connect() first" if state is SessionState.NEW else ""),
                provider=self.provider_name,
            )
        if self._hook_gen != plugin_generation():
            self._refresh_hooks()
        if self._method_hooks.get("realtime_audio_input"):
            replaced = self._call_method_hook("realtime_audio_input", first=True, pcm=pcm, participant=participant)
            if replaced is not None:
                pcm = replaced
        if self._streams or self._event_hooks.get(RealtimeAudioInputEvent):
            self._emit(RealtimeAudioInputEvent.fast(**self._stamp(participant), audio_data=pcm))
        caps = self.capabilities
        if pcm.sample_rate != caps.input_sample_rate or pcm.channels != 1:
            resampler = self._input_resampler
            if resampler is None:
                resampler = self._input_resampler = Resampler(caps.input_sample_rate, 1)
            pcm = resampler.process(pcm)
            if not pcm.samples.size:
                return
        if state is SessionState.RECONNECTING:
            self._gap.add(pcm, participant)
            return
        try:
            await impl(self, pcm, participant)
        except ConnectionFailedError as exc:
            # the socket died under us before the receive loop noticed: same as a lost connection,
            # and this chunk goes into the gap buffer instead of being lost
            self._connection_lost(exc)
            if self._state is not SessionState.RECONNECTING:
                raise
            self._gap.add(pcm, participant)

    async def _core_text(self, impl: Callable[..., Awaitable[None]], text: str, *args: Any, **kwargs: Any) -> None:
        self._require("text_input", "simple_response(text)")
        text = self._check_text(text)
        await self._wait_connected("send text")
        replaced = self._call_method_hook("realtime_text_input", first=True, text=text)
        if replaced is not None:
            text = replaced
        self._add_history(HistoryItem("user", text))
        self._mark_turn_end()
        await self._send_or_retry("send text", impl, text, *args, **kwargs)

    async def _core_say(self, impl: Callable[..., Awaitable[None]], text: str, *args: Any, **kwargs: Any) -> None:
        self._require("say", "say(text)")
        text = self._check_text(text)
        await self._wait_connected("say text")
        replaced = self._call_method_hook("realtime_say", first=True, text=text)
        if replaced is not None:
            text = replaced
        self._mark_turn_end()
        await self._send_or_retry("say text", impl, text, *args, **kwargs)

    async def _core_begin_turn(self, impl: Callable[..., Awaitable[None]]) -> None:
        self._require("manual_turns", "begin_user_turn()")
        await self._wait_connected("begin a user turn")
        await impl(self)

    async def _core_end_turn(self, impl: Callable[..., Awaitable[None]]) -> None:
        self._require("manual_turns", "end_user_turn()")
        await self._wait_connected("end a user turn")
        self._mark_turn_end()
        await impl(self)

    async def _send_or_retry(self, operation: str, impl: Callable[..., Awaitable[None]], *args: Any, **kwargs: Any) -> None:
        """Run a send; if the connection turns out to be dead, let core reconnect and try once more."""
        try:
            await impl(self, *args, **kwargs)
        except ConnectionFailedError as exc:
            self._connection_lost(exc)
            if self._state is not SessionState.RECONNECTING:
                raise
            await self._wait_connected(operation)
            await impl(self, *args, **kwargs)

    def _check_text(self, text: object) -> str:
        if not isinstance(text, str):
            raise ConfigurationError(f"text must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ConfigurationError("text must not be empty")
        return text

    async def _core_close(self, impl: Callable[[Self], Awaitable[None]]) -> None:
        state = self._state
        if state is SessionState.CLOSED:
            return
        if state is SessionState.CLOSING:
            if self._closed_evt is not None:
                await self._closed_evt.wait()
            return
        self._set_state(SessionState.CLOSING)
        if self._closed_evt is None:
            self._closed_evt = asyncio.Event()
        self._call_method_hook("realtime_close")
        try:
            await self.stop_watching_video_track()
            task = self._reconnect_task
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if state not in (SessionState.NEW, SessionState.FAILED):  # FAILED: already released
                try:
                    async with asyncio.timeout(self._close_timeout):
                        await impl(self)
                except Exception as exc:
                    log.warning("%s close() did not finish cleanly: %r", self.provider_name, exc)
            await self._cancel_tasks()
            self._end_active_response()
            if self._connected_emitted and not self._disconnected_emitted:
                self._disconnected_emitted = True
                self._emit(
                    RealtimeDisconnectedEvent.model_construct(
                        **self._stamp(), reason="closed", was_clean=True, will_reconnect=False, error=None
                    )
                )
            self._end_streams()
            dispatcher = self._dispatcher
            if dispatcher is not None and dispatcher is not asyncio.current_task() and not dispatcher.done():
                try:
                    async with asyncio.timeout(self._close_timeout):
                        await asyncio.shield(dispatcher)
                except (TimeoutError, asyncio.CancelledError):
                    dispatcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await dispatcher
        finally:
            self._state = SessionState.CLOSED
            if self._connected_evt is not None:
                self._connected_evt.clear()
            self._closed_evt.set()


Realtime._WRAPPED = {
    "connect": Realtime._core_connect,
    "simple_audio_response": Realtime._core_audio,
    "simple_response": Realtime._core_text,
    "say": Realtime._core_say,
    "begin_user_turn": Realtime._core_begin_turn,
    "end_user_turn": Realtime._core_end_turn,
    "close": Realtime._core_close,
}

# The base class's own defaults get the same guards (e.g. simple_response raising UnsupportedCapability
# only after the capability check, which gives the same error either way).
for _name in ("simple_response", "say", "begin_user_turn", "end_user_turn"):
    setattr(Realtime, _name, _wrap(_name, Realtime._WRAPPED[_name])(Realtime.__dict__[_name]))

