"""Building every event a session emits, in one place.

The :class:`Emitter` stamps events (session id, provider, time, epoch), applies the response rules of
:class:`~realtime_core.responses.ResponseTracker` (stale output dropped, one done event per response,
agent speech started/stopped around a response's audio, metrics after it), keeps the history and hands
each event to the :class:`~realtime_core.dispatch.EventDispatcher`. Plugins reach it through
:class:`~realtime_core.provider.SessionCore`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from .audio import PcmData
from .capabilities import Capabilities
from .dispatch import EventDispatcher
from .errors import ProviderError, RealtimeError, as_error
from .events import (
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
from .history import ConversationHistory, HistoryItem
from .responses import InterruptInfo, Response, ResponseTracker
from .tools import ToolCall, ToolResult

__all__ = ["Emitter"]

log = logging.getLogger("realtime_core.session")
_USAGE_FIELDS = frozenset(RealtimeUsageEvent.model_fields) - frozenset(RealtimeEvent.model_fields) - {"response_id", "raw"}


class Emitter:
    """Stamps, builds and dispatches the session's events (see the module docstring)."""

    def __init__(
        self,
        *,
        session_id: str,
        provider: str,
        tracker: ResponseTracker,
        history: ConversationHistory,
        dispatcher: EventDispatcher,
        capabilities: Callable[[], Capabilities],
    ) -> None:
        self.session_id = session_id
        self.provider = provider
        self.tracker = tracker
        self.history = history
        self.dispatcher = dispatcher
        self._capabilities = capabilities

    def stamp(self, user_metadata: Any = None) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "provider": self.provider,
            "timestamp": time.time(),
            "epoch": self.tracker.epoch,
            "user_metadata": user_metadata,
        }

    @property
    def closed(self) -> bool:
        return self.dispatcher.ended

    # ------------------------------------------------------------------ connection
    def connected(self, session_config: dict[str, Any] | None) -> None:
        event = RealtimeConnectedEvent.model_construct(
            **self.stamp(), session_config=dict(session_config or {}), capabilities=self._capabilities()
        )
        self.dispatcher.last_connected = event
        self.dispatcher.emit(event)

    def disconnected(
        self,
        reason: str,
        *,
        was_clean: bool,
        will_reconnect: bool = False,
        error: RealtimeError | None = None,
        lost_ms: float = 0.0,
    ) -> None:
        if not will_reconnect:
            self.dispatcher.last_connected = None
        self.dispatcher.emit(
            RealtimeDisconnectedEvent.model_construct(
                **self.stamp(),
                reason=reason,
                was_clean=was_clean,
                will_reconnect=will_reconnect,
                error=error,
                lost_audio_ms=lost_ms,
            )
        )

    def reconnected(
        self, *, reason: str, attempts: int, planned: bool, state_restored: bool, replayed_ms: float, lost_ms: float
    ) -> None:
        self.dispatcher.emit(
            RealtimeReconnectedEvent.model_construct(
                **self.stamp(),
                reason=reason,
                attempts=attempts,
                planned=planned,
                state_restored=state_restored,
                replayed_audio_ms=replayed_ms,
                lost_audio_ms=lost_ms,
            )
        )

    def error(self, error: BaseException | str, context: str = "", user_metadata: Any = None) -> None:
        if self.closed:
            return
        err = as_error(error, self.provider, ProviderError)
        log.debug("%s session %s error (%s): %s", self.provider, self.session_id, context, err)
        self.dispatcher.emit(RealtimeErrorEvent.model_construct(**self.stamp(user_metadata), error=err, context=context))

    # ------------------------------------------------------------------ audio
    def audio_input(self, pcm: PcmData, user_metadata: Any = None) -> None:
        if not self.closed and self.dispatcher.wants_audio_input():
            self.dispatcher.emit(
                RealtimeAudioInputEvent.from_complete_dict(
                    {
                        "type": "realtime.audio_input",
                        "session_id": self.session_id,
                        "provider": self.provider,
                        "timestamp": time.time(),
                        "epoch": self.tracker.epoch,
                        "user_metadata": user_metadata,
                        "audio_data": pcm,
                    }
                )
            )

    def begin_response(self, response_id: str) -> None:
        if not self.tracker.is_stale(response_id):
            self.tracker.open(response_id)

    def audio_output(self, pcm: PcmData, response_id: str, user_metadata: Any = None) -> None:
        # the hottest path of all (every chunk of agent audio): no intermediate dicts, no validation
        dispatcher = self.dispatcher
        if dispatcher.ended:
            return
        resp = self.tracker.audio_arrived(response_id, pcm.frames, pcm.sample_rate)
        if resp is None:
            return
        if not resp.announced:
            resp.announced = True
            dispatcher.emit(RealtimeAgentSpeechStartedEvent.model_construct(**self.stamp(), response_id=response_id))
        if dispatcher.has_listeners(RealtimeAudioOutputEvent):
            dispatcher.emit(
                RealtimeAudioOutputEvent.from_complete_dict(
                    {
                        "type": "realtime.audio_output",
                        "session_id": self.session_id,
                        "provider": self.provider,
                        "timestamp": time.time(),
                        "epoch": self.tracker.epoch,
                        "user_metadata": user_metadata,
                        "audio_data": pcm,
                        "response_id": response_id,
                    }
                )
            )

    def audio_output_done(self, response_id: str, user_metadata: Any = None, *, interrupted: bool = False) -> None:
        if self.closed or self.tracker.is_stale(response_id):
            return
        resp = self.tracker.get(response_id) or self.tracker.open(response_id)
        if not resp.done:
            self._finish(resp, interrupted=interrupted, user_metadata=user_metadata)

    def end_active_response(self) -> None:
        """The connection is gone: the speaking response will get no more audio."""
        resp = self.tracker.active
        if resp is not None:
            self._finish(resp, interrupted=True)

    def _finish(self, resp: Response, *, interrupted: bool, user_metadata: Any = None) -> None:
        self.tracker.finish(resp, interrupted=interrupted)
        rid = resp.response_id
        spoke = resp.first_audio_at is not None
        if spoke:
            self.dispatcher.emit(
                RealtimeAgentSpeechStoppedEvent.model_construct(**self.stamp(), response_id=rid, interrupted=interrupted)
            )
        self.dispatcher.emit(
            RealtimeAudioOutputDoneEvent.model_construct(**self.stamp(user_metadata), response_id=rid, interrupted=interrupted)
        )
        if spoke:
            self.dispatcher.emit(
                RealtimeMetricsEvent.model_construct(
                    **self.stamp(),
                    response_id=rid,
                    time_to_first_audio_ms=resp.ttfa_ms,
                    audio_output_ms=resp.received_ms,
                    interrupted=interrupted,
                )
            )

    def interrupt(self, source: str) -> InterruptInfo:
        """A new epoch: the interrupted event, the cut response's done event, stale output purged."""
        info, cut = self.tracker.interrupt(source)
        self.dispatcher.emit(
            RealtimeInterruptedEvent.model_construct(
                **self.stamp(), source=source, response_id=info.response_id, heard_ms=info.heard_ms
            )
        )
        if cut is not None:
            self._finish(cut, interrupted=True)
        self.dispatcher.purge_stale()
        return info

    # ------------------------------------------------------------------ text and transcripts
    def response_text(
        self, text: str, response_id: str, is_complete: bool, conversation_item_id: str | None, user_metadata: Any
    ) -> None:
        if self.closed or self.tracker.is_stale(response_id):
            return
        self.tracker.open(response_id)
        if is_complete:
            self.history.add(HistoryItem("assistant", text, item_id=conversation_item_id, response_id=response_id))
        self.dispatcher.emit(
            RealtimeResponseEvent.model_construct(
                **self.stamp(user_metadata),
                text=text,
                response_id=response_id,
                is_complete=is_complete,
                conversation_item_id=conversation_item_id,
            )
        )

    def user_transcript(self, text: str, original: Any, mode: TranscriptMode, item_id: str | None) -> None:
        if self.closed:
            return
        if mode == "final":
            self.history.add(HistoryItem("user", text, item_id=item_id))
        stamp = self.stamp()
        self.dispatcher.emit(
            RealtimeUserSpeechTranscriptionEvent.model_construct(**stamp, text=text, original=original, mode=mode, item_id=item_id)
        )
        self.dispatcher.emit(UserTranscriptEvent.model_construct(**stamp, text=text, is_final=mode == "final", item_id=item_id))

    def agent_transcript(self, text: str, original: Any, mode: TranscriptMode, response_id: str | None) -> None:
        if self.closed or (response_id is not None and self.tracker.is_stale(response_id)):
            return
        if mode == "final":
            self.history.add(HistoryItem("assistant", text, response_id=response_id))
        self.dispatcher.emit(
            RealtimeAgentSpeechTranscriptionEvent.model_construct(
                **self.stamp(), text=text, original=original, mode=mode, response_id=response_id
            )
        )

    def text_input(self, text: str) -> None:
        self.history.add(HistoryItem("user", text))

    # ------------------------------------------------------------------ speech, usage, limits
    def user_speech_started(self, item_id: str | None, audio_start_ms: float | None) -> None:
        if not self.closed:
            self.dispatcher.emit(
                RealtimeUserSpeechStartedEvent.model_construct(**self.stamp(), item_id=item_id, audio_start_ms=audio_start_ms)
            )

    def user_speech_stopped(self, item_id: str | None, audio_end_ms: float | None, ended_ago_ms: float) -> None:
        if self.closed:
            return
        self.tracker.mark_turn_end(ended_ago_ms)
        self.dispatcher.emit(
            RealtimeUserSpeechStoppedEvent.model_construct(**self.stamp(), item_id=item_id, audio_end_ms=audio_end_ms)
        )

    def usage(self, response_id: str | None, raw: dict[str, Any] | None, tokens: dict[str, int | None]) -> None:
        if self.closed:
            return
        unknown = set(tokens) - _USAGE_FIELDS
        if unknown:
            raise TypeError(f"unknown usage fields: {sorted(unknown)}")
        self.dispatcher.emit(
            RealtimeUsageEvent.model_validate({**self.stamp(), "response_id": response_id, "raw": raw or {}, **tokens})
        )

    def rate_limits(self, limits: Sequence[RateLimit]) -> None:
        if not self.closed:
            self.dispatcher.emit(RealtimeRateLimitsEvent.model_construct(**self.stamp(), limits=list(limits)))

    # ------------------------------------------------------------------ tools
    def tool_call_started(self, call: ToolCall, arguments: dict[str, Any]) -> None:
        self.dispatcher.emit(
            RealtimeToolCallStartedEvent.model_construct(
                **self.stamp(), call_id=call.call_id, name=call.name, arguments=arguments, response_id=call.response_id
            )
        )
        self.history.add(HistoryItem("tool", kind="tool_call", tool_name=call.name, call_id=call.call_id, data=arguments))

    def tool_call_finished(self, result: ToolResult) -> None:
        self.dispatcher.emit(
            RealtimeToolCallFinishedEvent.model_construct(
                **self.stamp(),
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

    def tool_result_sent(self, result: ToolResult) -> None:
        self.history.add(
            HistoryItem("tool", kind="tool_result", tool_name=result.name, call_id=result.call_id, data=result.as_dict())
        )
