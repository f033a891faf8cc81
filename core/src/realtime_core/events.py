"""Typed events every provider emits the same way.

Every event carries ``session_id``, ``provider``, a wall-clock ``timestamp`` (seconds since the epoch) and
the session ``epoch`` at emission. ``epoch`` increases on each interruption; core drops *output* events
(``is_output``) of an interrupted response, and any output event stamped with an older epoch, before they
reach the app, so stale audio can never play after a barge-in.

Events are frozen pydantic models: ``event.model_dump(mode="json")`` gives a loggable dict in which audio
is summarised (duration, rate) rather than dumped.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from .audio import PcmData
from .capabilities import Capabilities
from .errors import RealtimeError

__all__ = [
    "EVENT_TYPES",
    "HOOK_NAMES",
    "AudioData",
    "ErrorValue",
    "RateLimit",
    "RealtimeAgentSpeechStartedEvent",
    "RealtimeAgentSpeechStoppedEvent",
    "RealtimeAgentSpeechTranscriptionEvent",
    "RealtimeAudioInputEvent",
    "RealtimeAudioOutputDoneEvent",
    "RealtimeAudioOutputEvent",
    "RealtimeConnectedEvent",
    "RealtimeDisconnectedEvent",
    "RealtimeErrorEvent",
    "RealtimeEvent",
    "RealtimeInterruptedEvent",
    "RealtimeMetricsEvent",
    "RealtimeRateLimitsEvent",
    "RealtimeReconnectedEvent",
    "RealtimeResponseEvent",
    "RealtimeToolCallFinishedEvent",
    "RealtimeToolCallStartedEvent",
    "RealtimeUsageEvent",
    "RealtimeUserSpeechStartedEvent",
    "RealtimeUserSpeechStoppedEvent",
    "RealtimeUserSpeechTranscriptionEvent",
    "TranscriptMode",
    "UserTranscriptEvent",
]


def _summarise_audio(pcm: PcmData) -> dict[str, Any]:
    return {"duration_ms": round(pcm.duration_ms, 3), "sample_rate": pcm.sample_rate, "channels": pcm.channels}


def _summarise_error(err: BaseException) -> dict[str, Any]:
    return {
        "type": type(err).__name__,
        "message": str(err),
        "code": getattr(err, "code", None),
        "recoverable": getattr(err, "recoverable", False),
    }


AudioData = Annotated[PcmData, PlainSerializer(_summarise_audio, return_type=dict[str, Any])]
ErrorValue = Annotated[BaseException, PlainSerializer(_summarise_error, return_type=dict[str, Any])]
TranscriptMode = Literal["delta", "final"]


class RealtimeEvent(BaseModel):
    """Base of all events.

    :ivar type: a stable dotted name, e.g. ``"realtime.audio_output"``.
    :ivar session_id: the emitting session's uuid4.
    :ivar provider: the provider name, e.g. ``"openai"``.
    :ivar timestamp: wall-clock time of emission (``time.time()``).
    :ivar epoch: the session's interruption epoch at emission.
    :ivar user_metadata: whatever the app attached (e.g. the participant for audio input).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    is_output: ClassVar[bool] = False
    """Output events are dropped if they belong to an interrupted response or an older epoch."""
    hook: ClassVar[str] = "realtime_on_event"
    """The name of this class's event hook in :mod:`realtime_core.hookspecs` (the base class's is the
    catch-all hook every event goes to first)."""

    @classmethod
    def fast(cls, **values: Any) -> Self:
        """Build without validation or default factories (about 3x cheaper than ``model_construct``).

        For core's audio path: the caller passes every field without a plain default, already typed.
        """
        defaults = cls.__dict__.get("_fast_defaults")
        if defaults is None:
            defaults = {
                name: f.default for name, f in cls.model_fields.items() if f.default_factory is None and not f.is_required()
            }
            type.__setattr__(cls, "_fast_defaults", defaults)
        event = cls.__new__(cls)
        data = {**defaults, **values}
        object.__setattr__(event, "__dict__", data)
        object.__setattr__(event, "__pydantic_fields_set__", set(values))
        object.__setattr__(event, "__pydantic_extra__", None)
        object.__setattr__(event, "__pydantic_private__", None)
        return event

    @classmethod
    def from_complete_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict holding every field, taken as is (no copy, no validation): the cheapest way,
        for core's per-chunk events. The dict becomes the event's state: do not reuse it."""
        event = cls.__new__(cls)
        object.__setattr__(event, "__dict__", data)
        object.__setattr__(event, "__pydantic_fields_set__", set(data))
        object.__setattr__(event, "__pydantic_extra__", None)
        object.__setattr__(event, "__pydantic_private__", None)
        return event

    type: str = "realtime.event"
    session_id: str = ""
    provider: str = ""
    timestamp: float = Field(default_factory=time.time)
    epoch: int = 0
    user_metadata: Any = None


class RealtimeConnectedEvent(RealtimeEvent):
    """The session is ready: audio can flow. Emitted exactly once per ``connect()``, first of all."""

    type: str = "realtime.connected"
    hook: ClassVar[str] = "realtime_on_connected"
    session_config: dict[str, Any] = Field(default_factory=dict)
    capabilities: Capabilities = Field(default_factory=Capabilities)


class RealtimeDisconnectedEvent(RealtimeEvent):
    """The connection ended. ``was_clean`` is True only for ``close()``; ``will_reconnect`` says whether
    core is about to reconnect (a :class:`RealtimeReconnectedEvent` or a final error follows);
    ``lost_audio_ms`` is input audio that will never be sent (buffered during a reconnection that failed)."""

    type: str = "realtime.disconnected"
    hook: ClassVar[str] = "realtime_on_disconnected"
    reason: str = ""
    was_clean: bool = True
    will_reconnect: bool = False
    error: ErrorValue | None = None
    lost_audio_ms: float = 0.0


class RealtimeReconnectedEvent(RealtimeEvent):
    """The session is connected again after a drop or a planned renewal.

    ``state_restored`` is True only when the provider kept the conversation (resumption handle, history
    replay); ``replayed_audio_ms`` is input audio buffered during the gap and sent after reconnecting;
    ``lost_audio_ms`` is audio that did not fit the buffer and was not sent.
    """

    type: str = "realtime.reconnected"
    hook: ClassVar[str] = "realtime_on_reconnected"
    reason: str = ""
    attempts: int = 1
    planned: bool = False
    state_restored: bool = False
    replayed_audio_ms: float = 0.0
    lost_audio_ms: float = 0.0


class RealtimeAudioInputEvent(RealtimeEvent):
    """Audio the app sent, as received by the session (before resampling)."""

    type: str = "realtime.audio_input"
    hook: ClassVar[str] = "realtime_on_audio_input"
    audio_data: AudioData


class RealtimeAudioOutputEvent(RealtimeEvent):
    """A chunk of the agent's speech, mono int16 at ``capabilities.output_sample_rate``."""

    is_output: ClassVar[bool] = True
    type: str = "realtime.audio_output"
    hook: ClassVar[str] = "realtime_on_audio_output"
    audio_data: AudioData
    response_id: str = ""


class RealtimeAudioOutputDoneEvent(RealtimeEvent):
    """No more audio for ``response_id``: exactly one per response, after its last chunk."""

    type: str = "realtime.audio_output_done"
    hook: ClassVar[str] = "realtime_on_audio_output_done"
    response_id: str = ""
    interrupted: bool = False


class RealtimeResponseEvent(RealtimeEvent):
    """Text of a response: deltas (``is_complete=False``) then one event with the full text."""

    is_output: ClassVar[bool] = True
    type: str = "realtime.response"
    hook: ClassVar[str] = "realtime_on_response"
    text: str = ""
    response_id: str = ""
    is_complete: bool = False
    conversation_item_id: str | None = None


class RealtimeUserSpeechTranscriptionEvent(RealtimeEvent):
    """Transcript of the user's speech. ``mode="delta"`` pieces, then one ``"final"`` with the full text."""

    type: str = "realtime.user_transcription"
    hook: ClassVar[str] = "realtime_on_user_speech_transcription"
    text: str = ""
    original: Any = None
    mode: TranscriptMode = "final"
    item_id: str | None = None


class RealtimeAgentSpeechTranscriptionEvent(RealtimeEvent):
    """Transcript of the agent's speech. Deltas concatenate to the final event's text."""

    is_output: ClassVar[bool] = True
    type: str = "realtime.agent_transcription"
    hook: ClassVar[str] = "realtime_on_agent_speech_transcription"
    text: str = ""
    original: Any = None
    mode: TranscriptMode = "final"
    response_id: str | None = None


class UserTranscriptEvent(RealtimeEvent):
    """A user transcript in the shape speech-to-text pipelines use; fires with every realtime user
    transcript so apps written against STT events keep working."""

    type: str = "realtime.user_transcript"
    hook: ClassVar[str] = "realtime_on_user_transcript"
    text: str = ""
    is_final: bool = True
    item_id: str | None = None


class RealtimeErrorEvent(RealtimeEvent):
    """Something went wrong but the session lives on (or is reconnecting). ``error`` is a
    :class:`~realtime_core.errors.RealtimeError`; ``context`` says where it happened."""

    type: str = "realtime.error"
    hook: ClassVar[str] = "realtime_on_error"
    error: ErrorValue
    context: str = ""

    @property
    def recoverable(self) -> bool:
        return bool(getattr(self.error, "recoverable", False))

    @property
    def code(self) -> str | None:
        return getattr(self.error, "code", None) if isinstance(self.error, RealtimeError) else None


class RealtimeUserSpeechStartedEvent(RealtimeEvent):
    """Voice activity detection heard the user start speaking."""

    type: str = "realtime.user_speech_started"
    hook: ClassVar[str] = "realtime_on_user_speech_started"
    item_id: str | None = None
    audio_start_ms: float | None = None


class RealtimeUserSpeechStoppedEvent(RealtimeEvent):
    """The user stopped speaking (end of turn as the provider sees it)."""

    type: str = "realtime.user_speech_stopped"
    hook: ClassVar[str] = "realtime_on_user_speech_stopped"
    item_id: str | None = None
    audio_end_ms: float | None = None


class RealtimeAgentSpeechStartedEvent(RealtimeEvent):
    """The first audio of ``response_id`` arrived."""

    is_output: ClassVar[bool] = True
    type: str = "realtime.agent_speech_started"
    hook: ClassVar[str] = "realtime_on_agent_speech_started"
    response_id: str = ""


class RealtimeAgentSpeechStoppedEvent(RealtimeEvent):
    """The agent finished (or was cut off: ``interrupted=True``) speaking ``response_id``."""

    type: str = "realtime.agent_speech_stopped"
    hook: ClassVar[str] = "realtime_on_agent_speech_stopped"
    response_id: str = ""
    interrupted: bool = False


class RealtimeInterruptedEvent(RealtimeEvent):
    """The epoch moved on: stop playback now and discard queued agent audio.

    ``source`` is ``"local"`` for :meth:`Realtime.interrupt` and ``"server"`` for provider barge-in;
    ``heard_ms`` is how much of ``response_id`` counts as heard (never more than was received).
    """

    type: str = "realtime.interrupted"
    hook: ClassVar[str] = "realtime_on_interrupted"
    source: Literal["local", "server"] = "local"
    response_id: str | None = None
    heard_ms: float | None = None


class RealtimeToolCallStartedEvent(RealtimeEvent):
    """A tool call is about to run."""

    type: str = "realtime.tool_call_started"
    hook: ClassVar[str] = "realtime_on_tool_call_started"
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    response_id: str | None = None


class RealtimeToolCallFinishedEvent(RealtimeEvent):
    """A tool call ended; ``error`` is set if it raised, timed out or was unknown."""

    type: str = "realtime.tool_call_finished"
    hook: ClassVar[str] = "realtime_on_tool_call_finished"
    call_id: str
    name: str
    result: Any = None
    error: str | None = None
    timed_out: bool = False
    cancelled: bool = False
    duration_ms: float = 0.0
    response_id: str | None = None


class RealtimeUsageEvent(RealtimeEvent):
    """Token usage reported by the provider, split by modality where the provider says."""

    type: str = "realtime.usage"
    hook: ClassVar[str] = "realtime_on_usage"
    response_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    input_text_tokens: int | None = None
    input_audio_tokens: int | None = None
    input_image_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_text_tokens: int | None = None
    output_audio_tokens: int | None = None
    raw: dict[str, Any] = Field(default_factory=dict)


class RealtimeMetricsEvent(RealtimeEvent):
    """Timing of one response, measured by core.

    ``time_to_first_audio_ms`` runs from the end of the user's turn (speech stopped, manual end of turn or
    text input) to the first audio chunk; ``None`` if no such start point was seen.
    """

    type: str = "realtime.metrics"
    hook: ClassVar[str] = "realtime_on_metrics"
    response_id: str | None = None
    time_to_first_audio_ms: float | None = None
    audio_output_ms: float = 0.0
    interrupted: bool = False


class RateLimit(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    limit: float | None = None
    remaining: float | None = None
    reset_seconds: float | None = None


class RealtimeRateLimitsEvent(RealtimeEvent):
    """The provider's current rate limits."""

    type: str = "realtime.rate_limits"
    hook: ClassVar[str] = "realtime_on_rate_limits"
    limits: list[RateLimit] = Field(default_factory=list[RateLimit])


EVENT_TYPES: tuple[type[RealtimeEvent], ...] = (
    RealtimeConnectedEvent,
    RealtimeDisconnectedEvent,
    RealtimeReconnectedEvent,
    RealtimeAudioInputEvent,
    RealtimeAudioOutputEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeResponseEvent,
    RealtimeUserSpeechTranscriptionEvent,
    RealtimeAgentSpeechTranscriptionEvent,
    UserTranscriptEvent,
    RealtimeErrorEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechStoppedEvent,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeInterruptedEvent,
    RealtimeToolCallStartedEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeUsageEvent,
    RealtimeMetricsEvent,
    RealtimeRateLimitsEvent,
)
"""Every event class core defines, in a stable order."""

HOOK_NAMES: dict[type[RealtimeEvent], str] = {cls: cls.hook for cls in EVENT_TYPES}
"""The event hook (see :mod:`realtime_core.hookspecs`) called for each event class, from each class's
``hook``. Every class in :data:`EVENT_TYPES` has its own hook; a test proves that the hookspecs, this table
and the exports match one to one."""
