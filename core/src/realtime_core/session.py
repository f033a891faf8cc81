"""The :class:`Realtime` base class every provider session extends: the app's API, as a facade.

The machinery lives in components with one job each, built here and wired together:

======================================  ==============================================================
:mod:`~realtime_core.lifecycle`         the state machine (every state and allowed transition)
:mod:`~realtime_core.calls`             core's side of each provider method (guards, hooks, timeouts)
:mod:`~realtime_core.responses`         epochs, stale responses, what was received and heard
:mod:`~realtime_core.emitter`           building and stamping every event, the response rules
:mod:`~realtime_core.dispatch`          streams, ``on()`` handlers, observer hooks
:mod:`~realtime_core.reconnect`         the reconnect loop and the audio gap buffer
:mod:`~realtime_core.tool_runner`       tool calls of a response, run and answered as a batch
:mod:`~realtime_core.video`             the watched video track
:mod:`~realtime_core.tasks`             every background task the session owns
:mod:`~realtime_core.provider`          :class:`SessionCore`, the surface a provider plugin drives
======================================  ==============================================================

A provider plugin implements the abstract methods with the seeds' names (``connect``,
``simple_audio_response``, ``close``; optionally ``simple_response``, ``say``, ``begin_user_turn`` /
``end_user_turn``) and the protected hooks (``_build_capabilities``, ``_on_interrupt``,
``_send_tool_results``, ``_send_video_frame``, ``_reconnect``), and reports what its service says through
``self._core`` (see :mod:`realtime_core.provider`).
"""

from __future__ import annotations

import abc
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, ClassVar, Self, TypeVar

from .audio import PcmData
from .calls import ProviderCalls, fresh_call_context, wrap
from .capabilities import Capabilities
from .dispatch import EventDispatcher
from .emitter import Emitter
from .errors import ConfigurationError, ProviderError, RealtimeError, SessionClosedError, UnsupportedCapability
from .events import RateLimit, RealtimeEvent, TranscriptMode
from .history import ConversationHistory, HistoryItem
from .lifecycle import Lifecycle, SessionState
from .options import describe_options, unknown_option_error
from .provider import SessionCore
from .reconnect import ReconnectContext, ReconnectPolicy, ReconnectRunner
from .responses import InterruptInfo, ResponseTracker
from .stream import EventStream
from .tasks import TaskSet
from .tool_runner import ToolBatchRunner
from .tools import Tool, ToolFunc, ToolRegistry, ToolResult
from .video import VideoFrameJpeg, VideoPump, VideoTrack

__all__ = ["InterruptInfo", "Realtime", "SessionState"]

log = logging.getLogger("realtime_core.session")
E = TypeVar("E", bound=RealtimeEvent)
_T = TypeVar("_T")


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
    :param liveness_timeout: seconds within which a dead network path is detected (keepalive pings, sends
        that do not drain); the session then reconnects per ``reconnect``.
    :param event_buffer: events each :meth:`events` consumer may fall behind by (see
        :mod:`realtime_core.stream` for the overflow policy).

    Use it as an async context manager, read events with ``async for event in session.events()`` or
    ``@session.on(EventType)`` handlers, send audio with :meth:`simple_audio_response`.
    """

    provider_name: ClassVar[str] = "unknown"
    """The provider's registered name (``"openai"``, ``"gemini"``...)."""


    _GUARDS: ClassVar[dict[str, Callable[..., Awaitable[Any]]]] = {
        "connect": ProviderCalls.connect,
        "simple_audio_response": ProviderCalls.audio,
        "simple_response": ProviderCalls.text,
        "say": ProviderCalls.say,
        "begin_user_turn": ProviderCalls.begin_turn,
        "end_user_turn": ProviderCalls.end_turn,
        "close": ProviderCalls.close,
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, guard in Realtime._GUARDS.items():
            impl = cls.__dict__.get(name)
            if impl is not None and not getattr(impl, "__realtime_wrapped__", False):
                nested = any(name in base.__dict__ for base in cls.__mro__[1:] if base is not Realtime)
                setattr(cls, name, wrap(name, guard, nested=nested)(impl))

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
        liveness_timeout: float = 10.0,
        event_buffer: int = 1000,
        **unknown: Any,
    ) -> None:
        if unknown:  # a misspelled option of the provider or of core: say which, and what was meant
            known = [option.name for option in describe_options(type(self))]
            raise unknown_option_error(self.provider_name, unknown, known)
        _check_core_options(
            fps, instructions, reconnect, connect_timeout, close_timeout, tool_timeout, liveness_timeout, event_buffer
        )
        self._session_id = str(uuid.uuid4())
        self._fps = float(fps)
        self.instructions = instructions
        self.tools = ToolRegistry(tools)
        self._capabilities: Capabilities | None = None

        provider = self.provider_name
        lifecycle = self._lifecycle = Lifecycle()
        tracker = self._tracker = ResponseTracker()
        history = self._history = ConversationHistory()
        dispatcher = self._dispatcher = EventDispatcher(self, is_stale=self._is_stale, buffer=event_buffer)
        emitter = self._emitter = Emitter(
            session_id=self._session_id,
            provider=provider,
            tracker=tracker,
            history=history,
            dispatcher=dispatcher,
            capabilities=lambda: self.capabilities,
        )
        tasks = self._tasks = TaskSet(self._task_failed, fresh_context=fresh_call_context)

        def spawn(coro: Coroutine[Any, Any, _T], name: str) -> Any:
            return tasks.spawn(coro, name=name)

        raw_close = getattr(type(self).close, "__wrapped__", None)
        release = functools.partial(raw_close, self) if raw_close is not None else _nothing
        can_reconnect = type(self)._reconnect is not Realtime._reconnect
        reconnector = self._reconnector = ReconnectRunner(
            policy=reconnect if reconnect is not None else ReconnectPolicy(),
            lifecycle=lifecycle,
            emitter=emitter,
            history=history,
            connect_timeout=float(connect_timeout),
            reconnect=self._reconnect if can_reconnect else None,
            can_reconnect=lambda: self.capabilities.reconnection,
            send_audio=lambda pcm, participant: self._calls.replay_audio(pcm, participant),  # noqa: PLW0108 (_calls comes later)
            release=release,
            spawn=spawn,
        )
        self._tool_runner = ToolBatchRunner(
            tools=self.tools,
            timeout=float(tool_timeout),
            emitter=emitter,
            spawn=spawn,
            wait_connected=lambda operation: self._calls.wait_connected(operation),  # noqa: PLW0108 (_calls comes later)
            send_results=self._send_tool_results,
        )
        self._video = VideoPump(
            send=self._send_video_frame,
            may_send=lambda: lifecycle.is_connected,
            replace=lambda frame: dispatcher.hooks.call_method_hook("realtime_video_frame", first=True, session=self, frame=frame),
            on_error=lambda exc: emitter.error(exc, context="video"),
        )
        self._calls = ProviderCalls(
            self,
            lifecycle=lifecycle,
            emitter=emitter,
            dispatcher=dispatcher,
            tasks=tasks,
            reconnect=reconnector,
            video=self._video,
            on_interrupt=self._on_interrupt,
            raw_close=release if raw_close is not None else None,
            set_capabilities=self._set_capabilities,
            connect_timeout=float(connect_timeout),
            close_timeout=float(close_timeout),
        )
        self._core = SessionCore(
            session_id=self._session_id,
            provider=provider,
            emitter=emitter,
            tracker=tracker,
            lifecycle=lifecycle,
            tasks=tasks,
            tools=self._tool_runner,
            reconnect=reconnector,
            capabilities=lambda: self.capabilities,
            connect_timeout=float(connect_timeout),
            close_timeout=float(close_timeout),
            liveness_timeout=float(liveness_timeout),
            on_connected=self._calls.announce_connected,
            on_clean_disconnect=self._calls.announce_clean_disconnect,
            on_barge_in=self._calls.barge_in,
        )

    # ================================================================== what a provider implements
    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection, configure the session and call ``self._core.emit_connected_event()``.

        Core wraps it: a timeout (``connect_timeout``) and OS errors become :class:`ConnectionFailedError`,
        the configuration is checked against the capabilities first, calling it again while connected
        does nothing, and ``close()`` during it makes it raise :class:`SessionClosedError`.
        """

    @abc.abstractmethod
    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
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
        """A uuid4 identifying this session in events and logs (the same before and after reconnects)."""
        return self._session_id

    @property
    def model(self) -> str | None:
        """The model this session talks to (providers override it; None when there is no choice)."""
        return None

    @property
    def fps(self) -> float:
        """Video frames per second requested for :meth:`watch_video_track`."""
        return self._fps

    @property
    def epoch(self) -> int:
        """Incremented by every interruption; output events of older epochs are never delivered."""
        return self._tracker.epoch

    @property
    def connected(self) -> bool:
        """True while the session can send and receive (False while reconnecting)."""
        return self._lifecycle.is_connected

    @property
    def state(self) -> SessionState:
        return self._lifecycle.state

    @property
    def capabilities(self) -> Capabilities:
        """What this session supports, derived from its configuration."""
        caps = self._capabilities
        if caps is None:
            caps = self._capabilities = self._build_capabilities()
        return caps

    def _set_capabilities(self, capabilities: Capabilities) -> None:
        self._capabilities = capabilities

    @property
    def history(self) -> tuple[HistoryItem, ...]:
        """The conversation so far as core saw it (final transcripts, text input, tool traffic)."""
        return self._history.items()

    @property
    def responding(self) -> bool:
        """True while a response is in progress (audio arrived, no done event yet)."""
        return self._tracker.responding

    @property
    def agent_audible(self) -> bool:
        """True while the user may still be hearing the agent: a response is streaming, or its audio has
        all arrived but (by reported or estimated real-time playback) is still playing."""
        return self._tracker.agent_audible()

    @property
    def current_response_id(self) -> str | None:
        return self._tracker.current_response_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider_name} session_id={self._session_id} state={self.state}>"

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ================================================================== events
    def events(
        self,
        *,
        maxsize: int | None = None,
        types: Iterable[type[RealtimeEvent]] | None = None,
        audio_input: bool = False,
    ) -> EventStream:
        """A new async iterator over events from now on (bounded; see :mod:`realtime_core.stream`).

        If the session is already connected, the stream starts with its :class:`RealtimeConnectedEvent`,
        so the first event a consumer sees is always the connected one.

        :param types: only these event classes (and their subclasses).
        :param audio_input: also a :class:`RealtimeAudioInputEvent` mirroring each chunk sent (off unless
            asked for, or named in ``types``: the app already has its own audio).
        """
        return self._dispatcher.stream(
            maxsize=maxsize, types=types, replay_connected=self._lifecycle.is_live, audio_input=audio_input
        )

    def on(
        self, event_type: type[E] = RealtimeEvent, handler: Callable[[E], Any] | None = None  # type: ignore[assignment]
    ) -> Any:
        """Register a sync or async handler for ``event_type`` (and its subclasses)::

            @session.on(RealtimeAudioOutputEvent)
            async def play(event): ...

        Handlers run one at a time, in emission order, in a task owned by the session; exceptions are
        logged, never propagated into the provider's receive loop.
        """

        if not (isinstance(event_type, type) and issubclass(event_type, RealtimeEvent)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"on() takes an event class such as RealtimeAudioOutputEvent, got {event_type!r}")

        def register(fn: Callable[[E], Any]) -> Callable[[E], Any]:
            if not callable(fn):  # pyright: ignore[reportUnnecessaryComparison]
                raise ConfigurationError(f"on() needs a function to call, got {type(fn).__name__}")
            self._dispatcher.on(event_type, fn)
            return fn

        return register(handler) if handler is not None else register

    def off(self, handler: Callable[[Any], Any]) -> None:
        """Remove a handler registered with :meth:`on`."""
        self._dispatcher.off(handler)

    def _is_stale(self, event: RealtimeEvent) -> bool:
        return event.is_output and event.epoch < self._tracker.epoch

    # ================================================================== app calls
    def report_playback(self, response_id: str, played_ms: float) -> None:
        """Tell core how much of ``response_id`` the user has actually heard (for truncation).

        Without it, core assumes real-time playback from the first chunk; truncation always uses
        ``min(played, received)``. A response core does not know (or forgot) is ignored.

        :raises ConfigurationError: ``response_id`` is not a str, or ``played_ms`` is not a finite number >= 0.
        """
        if not isinstance(response_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"report_playback() takes a response id (str), got {type(response_id).__name__}")
        if isinstance(played_ms, bool) or not isinstance(played_ms, (int, float)) or not 0 <= played_ms < float("inf"):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"played_ms must be a finite number of milliseconds >= 0, got {played_ms!r}")
        self._tracker.report_playback(response_id, played_ms)

    def register_tool(self, func: Tool | ToolFunc, **kwargs: Any) -> Tool:
        """Add a tool before :meth:`connect` (tools are part of the session configuration)."""
        if self.state is not SessionState.NEW:
            raise ConfigurationError("register tools before connect(); they are sent with the session setup")
        return self.tools.register(func, **kwargs)

    async def interrupt(self) -> None:
        """Cut the agent off now.

        Increments :attr:`epoch` first, so no output event emitted before this call is delivered after it;
        emits :class:`RealtimeInterruptedEvent` and, if a response was playing, agent-speech-stopped and
        audio-done with ``interrupted=True``; then tells the provider (cancel/truncate per protocol).
        """
        await self._calls.interrupt()

    async def watch_video_track(self, track: VideoTrack) -> None:
        """Sample ``track`` (an aiortc ``MediaStreamTrack``) at :attr:`fps` and send JPEG frames.

        The latest frame wins (no backlog); frames are scaled to the provider's limits and encoded off the
        event loop. Watching a new track replaces the previous one.
        """
        self._calls.require("video_input", "watch_video_track()")
        if not callable(getattr(track, "recv", None)) or getattr(track, "kind", "video") != "video":
            raise ConfigurationError(
                f"watch_video_track() takes a video track (an aiortc MediaStreamTrack of kind 'video'), got {type(track).__name__}"
            )
        if not self._lifecycle.is_live:
            raise SessionClosedError("connect() the session before watching a video track", provider=self.provider_name)
        await self._video.stop()
        caps = self.capabilities
        fps = min(self._fps, caps.video_max_fps) if caps.video_max_fps else self._fps
        self._video.watch(track, fps=fps, max_width=caps.video_max_width, max_height=caps.video_max_height)

    async def stop_watching_video_track(self) -> None:
        """Stop sending video; no frame is sent after this returns."""
        await self._video.stop()

    # ================================================================== seed emitter names (see SessionCore)
    def _emit_connected_event(self, session_config: dict[str, Any] | None = None, capabilities: Capabilities | None = None) -> None:
        self._core.emit_connected_event(session_config, capabilities)

    def _emit_disconnected_event(self, reason: str = "", was_clean: bool = True) -> None:
        self._core.emit_disconnected_event(reason, was_clean)

    def _emit_audio_input_event(self, audio_data: PcmData, user_metadata: Any = None) -> None:
        self._emitter.audio_input(audio_data, user_metadata)

    def _emit_audio_output_event(self, audio_data: PcmData, response_id: str, user_metadata: Any = None) -> None:
        self._emitter.audio_output(audio_data, response_id, user_metadata)

    def _emit_audio_output_done_event(self, response_id: str, user_metadata: Any = None, *, interrupted: bool = False) -> None:
        self._emitter.audio_output_done(response_id, user_metadata, interrupted=interrupted)

    def _emit_response_event(
        self, text: str, response_id: str, is_complete: bool = False, conversation_item_id: str | None = None, user_metadata: Any = None
    ) -> None:
        self._emitter.response_text(text, response_id, is_complete, conversation_item_id, user_metadata)

    def _emit_user_speech_transcription(
        self, text: str, original: Any = None, *, mode: TranscriptMode = "final", item_id: str | None = None
    ) -> None:
        self._emitter.user_transcript(text, original, mode, item_id)

    def _emit_agent_speech_transcription(
        self, text: str, original: Any = None, *, mode: TranscriptMode = "final", response_id: str | None = None
    ) -> None:
        self._emitter.agent_transcript(text, original, mode, response_id)

    def _emit_error_event(self, error: BaseException | str, context: str = "", user_metadata: Any = None) -> None:
        self._emitter.error(error, context, user_metadata)

    def _emit_user_speech_started(self, item_id: str | None = None, audio_start_ms: float | None = None) -> None:
        self._emitter.user_speech_started(item_id, audio_start_ms)

    def _emit_user_speech_stopped(self, item_id: str | None = None, audio_end_ms: float | None = None, *, ended_ago_ms: float = 0.0) -> None:
        self._emitter.user_speech_stopped(item_id, audio_end_ms, ended_ago_ms)

    def _emit_usage_event(self, response_id: str | None = None, raw: dict[str, Any] | None = None, **tokens: int | None) -> None:
        self._emitter.usage(response_id, raw, tokens)

    def _emit_rate_limits_event(self, limits: Sequence[RateLimit]) -> None:
        self._emitter.rate_limits(limits)

    # ================================================================== internals
    def _task_failed(self, task: Any, exc: BaseException) -> None:
        log.error("task %s of %s session %s failed", task.get_name(), self.provider_name, self._session_id, exc_info=exc)
        if not self._dispatcher.ended:
            err = exc if isinstance(exc, RealtimeError) else ProviderError(
                f"internal task {task.get_name()} failed: {type(exc).__name__}: {exc}", provider=self.provider_name
            )
            self._emitter.error(err, context=task.get_name())


async def _nothing() -> None:
    return None


def _check_core_options(  # noqa: PLR0917
    fps: object,
    instructions: object,
    reconnect: object,
    connect_timeout: object,
    close_timeout: object,
    tool_timeout: object,
    liveness_timeout: object,
    event_buffer: object,
) -> None:
    def positive(name: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")

    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        raise ConfigurationError(f"fps must be a positive number, got {fps!r}")
    if instructions is not None and not isinstance(instructions, str):
        raise ConfigurationError(f"instructions must be a str, got {type(instructions).__name__}")
    if reconnect is not None and not isinstance(reconnect, ReconnectPolicy):
        raise ConfigurationError(
            f"reconnect must be a ReconnectPolicy (ReconnectPolicy.disabled() turns it off), got {type(reconnect).__name__}"
        )
    positive("connect_timeout", connect_timeout)
    positive("close_timeout", close_timeout)
    positive("tool_timeout", tool_timeout)
    positive("liveness_timeout", liveness_timeout)
    if isinstance(event_buffer, bool) or not isinstance(event_buffer, int) or event_buffer < 1:
        raise ConfigurationError(f"event_buffer must be an int of at least 1, got {event_buffer!r}")


# The base class's own defaults get the same guards (e.g. simple_response raising UnsupportedCapability
# only after the capability check, which gives the same error either way).
for _name in ("simple_response", "say", "begin_user_turn", "end_user_turn"):
    setattr(Realtime, _name, wrap(_name, Realtime._GUARDS[_name])(Realtime.__dict__[_name]))  # pyright: ignore[reportPrivateUsage]
