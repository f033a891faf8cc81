"""The observer plugin: realtime-core hooks in, OpenTelemetry spans and metrics out.

Registered through the entry point ``otel`` (group ``realtime``) as :data:`observer`. It implements no
provider, only the hooks it needs: never ``realtime_on_event`` or the audio hooks, so audio chunks never
reach it (and core builds no audio event for it). Every hook is wrapped so that nothing it does can raise
into the session's receive path.

Per-session state lives in a dict keyed by session id and is dropped at the session's final disconnect
(or when a session that never connected is closed, or garbage collected).
"""

from __future__ import annotations

import functools
import logging
import time
import weakref
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace

from realtime_core import hookimpl

from .instruments import Instruments
from .telemetry import SessionTelemetry, ns

if TYPE_CHECKING:  # the event classes (pydantic) load with the first session, not at discovery
    from realtime_core import (
        Realtime,
        RealtimeAgentSpeechStartedEvent,
        RealtimeAudioOutputDoneEvent,
        RealtimeConnectedEvent,
        RealtimeDisconnectedEvent,
        RealtimeErrorEvent,
        RealtimeInterruptedEvent,
        RealtimeMetricsEvent,
        RealtimeReconnectedEvent,
        RealtimeResponseEvent,
        RealtimeToolCallFinishedEvent,
        RealtimeToolCallStartedEvent,
        RealtimeUsageEvent,
        RealtimeUserSpeechStartedEvent,
        RealtimeUserSpeechStoppedEvent,
    )

__all__ = ["RealtimeOtel", "observer"]

log = logging.getLogger("realtime_otel")
INSTRUMENTATION_NAME = "realtime_otel"
try:
    INSTRUMENTATION_VERSION = version("realtime-otel")
except PackageNotFoundError:  # running from a source tree
    INSTRUMENTATION_VERSION = "0.0.0"


def _never_raises[**P](hook: Callable[P, None]) -> Callable[P, None]:
    """Run a hook; log (once per hook) instead of raising into the session."""
    failed = False

    @functools.wraps(hook)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        nonlocal failed
        try:
            hook(*args, **kwargs)
        except Exception:
            if not failed:
                failed = True
                log.warning("realtime-otel hook %s failed; telemetry may be incomplete", hook.__name__, exc_info=True)

    return run


def _model_of(session: Realtime) -> str | None:
    """The configured model, where the provider exposes it (``session.model`` or ``session.options.model``);
    otherwise the connected event's session configuration fills it in."""
    for holder in (session, getattr(session, "options", None)):
        model = getattr(holder, "model", None)
        if isinstance(model, str) and model:
            return model
    return None


class RealtimeOtel:
    """Turns every realtime session into OpenTelemetry spans and metrics.

    :param tracer_provider: where spans go (default: the global one, looked up when used).
    :param meter_provider: where metrics go (default: the global one).
    """

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.sessions: dict[str, SessionTelemetry] = {}
        self._finalizers: dict[str, weakref.finalize[Any, Any]] = {}
        self.configure(tracer_provider, meter_provider)

    def configure(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        """Use these providers for sessions that start from now on (None: the global providers)."""
        self._tracer = trace.get_tracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, tracer_provider=tracer_provider)
        meter = metrics.get_meter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, meter_provider=meter_provider)
        self._instruments = Instruments(meter)

    # ---------------------------------------------------------------- session state
    def _start(self, session: Realtime, start_ns: int) -> SessionTelemetry:
        sid = session.session_id
        telemetry = SessionTelemetry(
            self._tracer,
            self._instruments,
            session_id=sid,
            provider=session.provider_name,
            model=_model_of(session),
            start_ns=start_ns,
        )
        self.sessions[sid] = telemetry
        finalizer = weakref.finalize(session, self._abandoned, sid)
        finalizer.atexit = False
        self._finalizers[sid] = finalizer
        return telemetry

    def _drop(self, session_id: str) -> SessionTelemetry | None:
        finalizer = self._finalizers.pop(session_id, None)
        if finalizer is not None:
            finalizer.detach()
        return self.sessions.pop(session_id, None)

    def _abandoned(self, session_id: str) -> None:
        """A session was garbage collected without a final disconnect (e.g. its connect failed)."""
        self._finalizers.pop(session_id, None)
        telemetry = self.sessions.pop(session_id, None)
        if telemetry is not None:
            telemetry.finish(time.time_ns(), failed=not telemetry.connected, description="session abandoned")

    def end_all(self) -> None:
        """End every open span now and forget every session (see :func:`realtime_otel.uninstrument`)."""
        now = time.time_ns()
        for sid in list(self.sessions):
            telemetry = self._drop(sid)
            if telemetry is not None:
                telemetry.finish(now)

    # ---------------------------------------------------------------- method hooks
    @hookimpl
    @_never_raises
    def realtime_connect(self, session: Realtime) -> None:
        stale = self._drop(session.session_id)
        if stale is not None:  # connect() again after a failed connect
            stale.finish(time.time_ns(), failed=True, description="connect failed")
        self._start(session, time.time_ns())

    @hookimpl
    @_never_raises
    def realtime_close(self, session: Realtime) -> None:
        telemetry = self.sessions.get(session.session_id)
        if telemetry is not None and not telemetry.connected:  # no disconnect event will come
            self._drop(session.session_id)
            telemetry.finish(time.time_ns(), failed=True, description="closed before it connected")

    @hookimpl
    @_never_raises
    def realtime_text_input(self, session: Realtime) -> None:
        telemetry = self.sessions.get(session.session_id)
        if telemetry is not None:
            telemetry.mark_turn_end(time.time_ns())

    @hookimpl
    @_never_raises
    def realtime_say(self, session: Realtime) -> None:
        telemetry = self.sessions.get(session.session_id)
        if telemetry is not None:
            telemetry.mark_turn_end(time.time_ns())

    # ---------------------------------------------------------------- event hooks
    @hookimpl
    @_never_raises
    def realtime_on_connected(self, session: Realtime, event: RealtimeConnectedEvent) -> None:
        telemetry = self.sessions.get(event.session_id) or self._start(session, ns(event))
        telemetry.on_connected(event)

    @hookimpl
    @_never_raises
    def realtime_on_disconnected(self, event: RealtimeDisconnectedEvent) -> None:
        if event.will_reconnect:
            telemetry = self.sessions.get(event.session_id)
            if telemetry is not None:
                telemetry.on_connection_lost(event)
            return
        telemetry = self._drop(event.session_id)
        if telemetry is not None:
            telemetry.on_final_disconnect(event)

    @hookimpl
    @_never_raises
    def realtime_on_reconnected(self, event: RealtimeReconnectedEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_reconnected(event)

    @hookimpl
    @_never_raises
    def realtime_on_user_speech_started(self, event: RealtimeUserSpeechStartedEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_user_speech_started(ns(event))

    @hookimpl
    @_never_raises
    def realtime_on_user_speech_stopped(self, event: RealtimeUserSpeechStoppedEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_user_speech_stopped(ns(event))

    @hookimpl
    @_never_raises
    def realtime_on_agent_speech_started(self, event: RealtimeAgentSpeechStartedEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_agent_speech_started(event.response_id, ns(event))

    @hookimpl
    @_never_raises
    def realtime_on_response(self, event: RealtimeResponseEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:  # text replies: open the response span (a dict lookup once it is open)
            telemetry.response(event.response_id, ns(event))

    @hookimpl
    @_never_raises
    def realtime_on_audio_output_done(self, event: RealtimeAudioOutputDoneEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_audio_output_done(event.response_id, event.interrupted, ns(event))

    @hookimpl
    @_never_raises
    def realtime_on_metrics(self, event: RealtimeMetricsEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_metrics(event)

    @hookimpl
    @_never_raises
    def realtime_on_usage(self, event: RealtimeUsageEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_usage(event)

    @hookimpl
    @_never_raises
    def realtime_on_interrupted(self, event: RealtimeInterruptedEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_interrupted(event)

    @hookimpl
    @_never_raises
    def realtime_on_tool_call_started(self, event: RealtimeToolCallStartedEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_tool_call_started(event)

    @hookimpl
    @_never_raises
    def realtime_on_tool_call_finished(self, event: RealtimeToolCallFinishedEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_tool_call_finished(event)

    @hookimpl
    @_never_raises
    def realtime_on_error(self, event: RealtimeErrorEvent) -> None:
        telemetry = self.sessions.get(event.session_id)
        if telemetry is not None:
            telemetry.on_error(event)


observer = RealtimeOtel()
"""The instance the entry point registers (global tracer and meter providers until :func:`instrument`)."""
