"""The provider surface: everything a provider plugin may call on its session, in one place.

A provider plugin subclasses :class:`~realtime_core.Realtime`, implements its abstract methods and
protected hooks (``connect``, ``simple_audio_response``, ``close``, optionally ``simple_response``,
``say``, ``begin_user_turn``/``end_user_turn``, ``_build_capabilities``, ``_on_interrupt``,
``_send_tool_results``, ``_send_video_frame``, ``_reconnect``), and reports what its service says through
the session's :class:`SessionCore`, available to the subclass as ``self._core``. Hand ``self._core`` to the
helper objects that turn server frames into events (a per-connection handler, a transport): they then
never need the session class, and never touch anything but this surface.

Inside the session class the seed emitter names work too: ``self._emit_audio_output_event(...)`` is
``self._core.emit_audio_output_event(...)``.

Everything else on a session (attributes and methods starting with ``_`` not listed in
:data:`PROTECTED_API`) is core's private business and may change in any release; the project's tests
fail any bundled plugin that touches it, and ``docs/writing-a-provider.md`` lists the surface.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .audio import PcmData
from .capabilities import Capabilities
from .events import RateLimit, TranscriptMode
from .reconnect import ReconnectPolicy
from .responses import InterruptInfo
from .tools import ToolCall

if TYPE_CHECKING:
    from .emitter import Emitter
    from .lifecycle import Lifecycle, SessionState
    from .reconnect import ReconnectRunner
    from .responses import ResponseTracker
    from .tasks import TaskSet
    from .tool_runner import ToolBatchRunner

__all__ = ["PROTECTED_API", "ResponseView", "SessionCore"]

_T = TypeVar("_T")

PROTECTED_API: frozenset[str] = frozenset(
    {
        # hooks a provider implements
        "_build_capabilities",
        "_on_interrupt",
        "_send_tool_results",
        "_send_video_frame",
        "_reconnect",
        # the provider surface object
        "_core",
        # the seed emitter names (same as SessionCore.emit_*)
        "_emit_connected_event",
        "_emit_disconnected_event",
        "_emit_audio_input_event",
        "_emit_audio_output_event",
        "_emit_audio_output_done_event",
        "_emit_response_event",
        "_emit_user_speech_transcription",
        "_emit_agent_speech_transcription",
        "_emit_error_event",
        "_emit_user_speech_started",
        "_emit_user_speech_stopped",
        "_emit_usage_event",
        "_emit_rate_limits_event",
    }
)
"""The protected names of :class:`~realtime_core.Realtime` a provider may use or override. Any other
``_name`` of the base class is private to core."""


@dataclass(frozen=True, slots=True)
class ResponseView:
    """What core knows about one response (a snapshot).

    :ivar received_ms: audio of it that arrived.
    :ivar heard_ms: how much the user heard: ``min(played, received)``, from :meth:`Realtime.report_playback`
        or, without a report, real-time playback from its first chunk.
    :ivar playback_reported: the app reported playback for it.
    :ivar done: its done event went out.
    :ivar interrupted: it was cut off.
    """

    response_id: str
    received_ms: float
    heard_ms: float
    playback_reported: bool
    done: bool
    interrupted: bool

    @property
    def still_playing(self) -> bool:
        return not self.interrupted and self.heard_ms + 1.0 < self.received_ms


class SessionCore:
    """The part of a session a provider drives (see the module docstring). Built by core; one per session."""

    def __init__(
        self,
        *,
        session_id: str,
        provider: str,
        emitter: Emitter,
        tracker: ResponseTracker,
        lifecycle: Lifecycle,
        tasks: TaskSet,
        tools: ToolBatchRunner,
        reconnect: ReconnectRunner,
        capabilities: Callable[[], Capabilities],
        connect_timeout: float,
        close_timeout: float,
        liveness_timeout: float,
        on_connected: Callable[[dict[str, Any] | None, Capabilities | None], None],
        on_clean_disconnect: Callable[[str], None],
        on_barge_in: Callable[[], InterruptInfo],
    ) -> None:
        self._session_id = session_id
        self._provider = provider
        self._emitter = emitter
        self._tracker = tracker
        self._lifecycle = lifecycle
        self._tasks = tasks
        self._tools = tools
        self._reconnect = reconnect
        self._capabilities = capabilities
        self._connect_timeout = connect_timeout
        self._close_timeout = close_timeout
        self._liveness_timeout = liveness_timeout
        self._on_connected = on_connected
        self._on_clean_disconnect = on_clean_disconnect
        self._on_barge_in = on_barge_in

    # ================================================================== what the session is
    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def provider_name(self) -> str:
        return self._provider

    @property
    def capabilities(self) -> Capabilities:
        """The session's capabilities as configured (the provider's ``_build_capabilities``)."""
        return self._capabilities()

    @property
    def state(self) -> SessionState:
        return self._lifecycle.state

    @property
    def epoch(self) -> int:
        return self._tracker.epoch

    @property
    def connect_timeout(self) -> float:
        """Seconds one connection attempt may take (use it for the transport's open timeout)."""
        return self._connect_timeout

    @property
    def close_timeout(self) -> float:
        """Seconds ``close()`` gives the provider to finish."""
        return self._close_timeout

    @property
    def liveness_timeout(self) -> float:
        """Seconds within which the transport must notice a dead path (keepalive, send timeouts)."""
        return self._liveness_timeout

    @property
    def reconnect_policy(self) -> ReconnectPolicy:
        return self._reconnect.policy

    # ================================================================== emitters
    def emit_connected_event(
        self, session_config: dict[str, Any] | None = None, capabilities: Capabilities | None = None
    ) -> None:
        """The connection is ready (call it at the end of ``connect()``; core calls it if you do not).

        :param session_config: the configuration the provider confirmed (no secrets).
        :param capabilities: replaces the declared capabilities if the service reported different ones.
        Ignored after the first call per ``connect()``; a reconnect emits a reconnected event instead.
        """
        self._on_connected(session_config, capabilities)

    def emit_disconnected_event(self, reason: str = "", was_clean: bool = True) -> None:
        """The connection ended. ``was_clean=False`` is the same as :meth:`connection_lost`; the clean one
        is emitted by ``close()``, so plugins rarely need this."""
        if not was_clean:
            self.connection_lost(reason=reason or "connection lost")
        else:
            self._on_clean_disconnect(reason)

    def emit_audio_input_event(self, audio_data: PcmData, user_metadata: Any = None) -> None:
        """Mirror audio the app sent (core already does this in ``simple_audio_response``)."""
        self._emitter.audio_input(audio_data, user_metadata)

    def emit_audio_output_event(self, audio_data: PcmData, response_id: str, user_metadata: Any = None) -> None:
        """A chunk of agent audio for ``response_id``, mono int16 at ``capabilities.output_sample_rate``.

        Dropped if the response was interrupted or is done. The first chunk of a response emits agent
        speech started.
        """
        self._emitter.audio_output(audio_data, response_id, user_metadata)

    def emit_audio_output_done_event(self, response_id: str, user_metadata: Any = None, *, interrupted: bool = False) -> None:
        """No more audio for ``response_id``. At most once per response (later calls are ignored); also
        emits agent speech stopped and the response's metrics."""
        self._emitter.audio_output_done(response_id, user_metadata, interrupted=interrupted)

    def emit_response_event(
        self,
        text: str,
        response_id: str,
        is_complete: bool = False,
        conversation_item_id: str | None = None,
        user_metadata: Any = None,
    ) -> None:
        """Response text: deltas with ``is_complete=False``, then the whole text with ``is_complete=True``."""
        self._emitter.response_text(text, response_id, is_complete, conversation_item_id, user_metadata)

    def emit_user_speech_transcription(
        self, text: str, original: Any = None, *, mode: TranscriptMode = "final", item_id: str | None = None
    ) -> None:
        """What the user said: ``mode="delta"`` pieces, then exactly one ``"final"`` per utterance (see
        docs/contract.md); also emits a :class:`~realtime_core.UserTranscriptEvent`."""
        self._emitter.user_transcript(text, original, mode, item_id)

    def emit_agent_speech_transcription(
        self, text: str, original: Any = None, *, mode: TranscriptMode = "final", response_id: str | None = None
    ) -> None:
        """What the agent said; deltas concatenate to the final text. Pass ``response_id``: core drops the
        transcript of an interrupted response by it."""
        self._emitter.agent_transcript(text, original, mode, response_id)

    def emit_error_event(self, error: BaseException | str, context: str = "", user_metadata: Any = None) -> None:
        """An error the session survives. Non-realtime exceptions are wrapped in :class:`~realtime_core.ProviderError`."""
        self._emitter.error(error, context, user_metadata)

    def emit_user_speech_started(self, item_id: str | None = None, audio_start_ms: float | None = None) -> None:
        """The provider heard the user start speaking (call :meth:`handle_barge_in` too if the agent was audible)."""
        self._emitter.user_speech_started(item_id, audio_start_ms)

    def emit_user_speech_stopped(
        self, item_id: str | None = None, audio_end_ms: float | None = None, *, ended_ago_ms: float = 0.0
    ) -> None:
        """The user's turn ended; starts the time-to-first-audio clock.

        :param ended_ago_ms: for providers that learn of the end late (from transcripts or turn events):
            how long ago it really ended.
        """
        self._emitter.user_speech_stopped(item_id, audio_end_ms, ended_ago_ms)

    def emit_usage_event(self, response_id: str | None = None, raw: dict[str, Any] | None = None, **tokens: int | None) -> None:
        """Token usage of one reply (not running totals); ``tokens`` are :class:`~realtime_core.RealtimeUsageEvent`
        fields (``input_tokens=...``). Raises ``TypeError`` for an unknown field."""
        self._emitter.usage(response_id, raw, tokens)

    def emit_rate_limits_event(self, limits: Sequence[RateLimit]) -> None:
        self._emitter.rate_limits(limits)

    # ================================================================== responses
    def begin_response(self, response_id: str) -> None:
        """A response started (optional; before its first audio). Ignored for an interrupted response."""
        self._emitter.begin_response(response_id)

    def handle_barge_in(self) -> InterruptInfo:
        """The provider says the user talked over the agent: the same events as ``interrupt()``, then
        ``_on_interrupt`` with ``source="server"`` in a session task."""
        return self._on_barge_in()

    def is_stale(self, response_id: str) -> bool:
        """The response was interrupted: whatever still arrives for it is dropped by core."""
        return self._tracker.is_stale(response_id)

    def response(self, response_id: str) -> ResponseView | None:
        """What core knows about a response, or None if it never saw it (or forgot it)."""
        resp = self._tracker.get(response_id)
        if resp is None:
            return None
        return ResponseView(
            response_id=response_id,
            received_ms=resp.received_ms,
            heard_ms=resp.heard_ms(time.monotonic()),
            playback_reported=resp.played_ms is not None,
            done=resp.done,
            interrupted=resp.interrupted,
        )

    @property
    def responding(self) -> bool:
        """A response is in progress (audio arrived, no done event yet)."""
        return self._tracker.responding

    @property
    def current_response_id(self) -> str | None:
        return self._tracker.current_response_id

    @property
    def agent_audible(self) -> bool:
        """The user may still be hearing the agent (streaming, or playing what arrived): user speech now is
        a barge-in."""
        return self._tracker.agent_audible()

    def mark_turn_end(self, ago_ms: float = 0.0) -> None:
        """The user's turn ended (for time to first audio) without a speech-stopped event."""
        self._tracker.mark_turn_end(ago_ms)

    # ================================================================== tools
    def start_tool_calls(self, calls: Sequence[ToolCall]) -> asyncio.Task[None] | None:
        """Run ``calls`` (ALL the calls of one response) in the background, then send their results in one
        ``_send_tool_results`` call. Results of cancelled calls are not sent."""
        return self._tools.start(calls)

    def cancel_tool_calls(self, call_ids: Iterable[str]) -> None:
        """The provider cancelled these calls: they are stopped and their results not sent."""
        self._tools.cancel(call_ids)

    @property
    def tool_calls_running(self) -> bool:
        return bool(self._tools.running)

    # ================================================================== the connection
    def connection_lost(self, error: BaseException | str | None = None, *, reason: str = "connection lost") -> None:
        """The transport died unexpectedly. Core emits one unclean disconnected event and reconnects if the
        policy, the capabilities and ``error.recoverable`` allow (else the session fails)."""
        self._reconnect.connection_lost(error, reason)

    def renew(self, reason: str) -> None:
        """Replace the connection before a known limit (goAway, stream cap, session expiry). Input is
        buffered meanwhile; ``_reconnect`` gets ``ctx.planned=True`` (make-before-break is possible)."""
        self._reconnect.renew(reason)

    def unsent_audio(self, pcm: PcmData, participant: Any = None) -> None:
        """Hand back audio the transport could not send: replayed after reconnecting, or reported lost."""
        self._reconnect.unsent_audio(pcm, participant)

    def audio_confirmed(self) -> None:
        """The provider showed it has all audio sent so far (a speech event, a commit, a resumption handle).

        Core keeps the audio sent since the last confirmation (up to ``reconnect_policy.buffer_audio_ms``)
        and, if the connection is lost, replays it after reconnecting: audio sent into a dead connection is
        never silently lost. Call it whenever the protocol shows progress; without it, a drop replays the
        last ``buffer_audio_ms`` of audio.
        """
        self._reconnect.confirmed()

    # ================================================================== tasks
    def spawn(self, coro: Coroutine[Any, Any, _T], *, name: str | None = None, report_errors: bool = True) -> asyncio.Task[_T]:
        """Start a task owned by the session: cancelled and awaited on close.

        :param report_errors: an exception becomes a logged error event; pass False for tasks you await
            and whose errors you handle.
        """
        return self._tasks.spawn(coro, name=name, report_errors=report_errors)

    def pending_tasks(self) -> list[asyncio.Task[Any]]:
        """The session's tasks that have not finished (after ``close()``: none)."""
        return self._tasks.pending()
