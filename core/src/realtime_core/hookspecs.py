"""Hook specifications for realtime-core plugins (pluggy, project name ``"realtime"``).

Plugins are modules or objects with functions decorated by :data:`realtime_core.hookimpl`, published
through the entry-point group ``realtime``::

    [project.entry-points.realtime]
    myprovider = "my_package.plugin"

Three kinds of hooks:

* **Registration** -- :func:`realtime_register_providers` is how a provider plugin makes itself known.
* **Method hooks** mirror the abstract methods of :class:`realtime_core.Realtime` (connect, audio in, text
  in, say, video frame, interrupt, close; listed in :data:`METHOD_HOOKS`). Core calls them before the
  provider sees the call, so a plugin can observe it or, for the ``firstresult`` hooks, replace the payload.
* **Event hooks** mirror the emitters: one per event class (each class names its hook in its ``hook``
  attribute) plus :func:`realtime_on_event` for all of them. An observer plugin implementing only event
  hooks sees every event of every provider, in emission order. They are called synchronously from the
  session's receive path: keep them fast, never block.

Rules:

* Hook implementations may accept any subset of the documented arguments (pluggy passes what they name).
* Exceptions raised by a hook implementation are logged and swallowed; they never break a session.
* Order follows pluggy: ``tryfirst``/``trylast``, then the latest registered first.
* Wrappers (``@hookimpl(wrapper=True)`` or the older ``hookwrapper=True``) are honoured: a hook that has
  a wrapper is called through pluggy as a whole, so the wrapper runs around the other implementations
  (for the audio hooks this costs a few microseconds per chunk; plain implementations are called
  directly). If an implementation under a wrapper raises, the rest of that one call is skipped and the
  error is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .audio import PcmData
    from .events import (
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
        UserTranscriptEvent,
    )
    from .plugins import ProviderSpec
    from .session import Realtime
    from .video import VideoFrameJpeg

PROJECT_NAME = "realtime"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

METHOD_HOOKS: tuple[str, ...] = (
    "realtime_connect",
    "realtime_audio_input",
    "realtime_text_input",
    "realtime_say",
    "realtime_video_frame",
    "realtime_interrupt",
    "realtime_close",
)
"""The method hooks, in the order of the session methods they mirror (a test checks they are exactly the
non-event, non-registration hookspecs below)."""

# --------------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------------


@hookspec
def realtime_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register the provider(s) this plugin implements.

    :param register: call it once per provider with a :class:`realtime_core.ProviderSpec`. Core
        validates the name (unique, lower-case) and records the plugin's distribution and version.

    Use in provider plugins::

        @hookimpl
        def realtime_register_providers(register):
            register(ProviderSpec(name="acme", session_class=AcmeRealtime, emulator=AcmeEmulator, ...))
    """


# --------------------------------------------------------------------------------------------------
# Method hooks: called by core before the provider's implementation runs
# --------------------------------------------------------------------------------------------------


@hookspec
def realtime_connect(session: Realtime) -> None:
    """Called when ``session.connect()`` starts, before any network activity.

    :param session: the session about to connect (``session.provider_name``, ``session.session_id``...).
    """


@hookspec(firstresult=True)
def realtime_audio_input(session: Realtime, pcm: PcmData, participant: Any) -> PcmData | None:
    """Called for every chunk passed to ``simple_audio_response`` before it is sent.

    :param session: the session receiving audio.
    :param pcm: the chunk as the app passed it.
    :param participant: the ``participant`` argument, if any.
    :return: a replacement :class:`~realtime_core.PcmData` (e.g. after noise suppression), or ``None``
        to leave the audio unchanged. Stops at the first non-None result.

    This runs about 50 times a second per session: implement it only if you need it.
    """


@hookspec(firstresult=True)
def realtime_text_input(session: Realtime, text: str) -> str | None:
    """Called when ``simple_response(text)`` is about to send text.

    :param session: the session.
    :param text: the text the app passed.
    :return: replacement text, or ``None`` to keep it. Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def realtime_say(session: Realtime, text: str) -> str | None:
    """Called when ``say(text)`` is about to ask the provider to speak scripted text.

    :return: replacement text, or ``None`` to keep it. Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def realtime_video_frame(session: Realtime, frame: VideoFrameJpeg) -> VideoFrameJpeg | None:
    """Called for each sampled, encoded video frame before it is sent.

    :param frame: the JPEG frame (already resized to the provider's limits).
    :return: a replacement frame or ``None`` to keep it. Stops at the first non-None result.
    """


@hookspec
def realtime_interrupt(session: Realtime, source: str, response_id: str | None) -> None:
    """Called when the session is interrupted, after the epoch was incremented.

    :param source: ``"local"`` (``session.interrupt()``) or ``"server"`` (provider barge-in).
    :param response_id: the response that was cut off, if one was playing.
    """


@hookspec
def realtime_close(session: Realtime) -> None:
    """Called when ``session.close()`` starts (once, even if close is called again)."""


# --------------------------------------------------------------------------------------------------
# Event hooks: one per emitter, plus a catch-all
# --------------------------------------------------------------------------------------------------


@hookspec
def realtime_on_event(session: Realtime, event: RealtimeEvent) -> None:
    """Called for every event, before the per-type hook.

    :param session: the emitting session.
    :param event: any :class:`~realtime_core.RealtimeEvent`.
    """


@hookspec
def realtime_on_connected(session: Realtime, event: RealtimeConnectedEvent) -> None:
    """Mirrors ``_emit_connected_event``: the session is ready."""


@hookspec
def realtime_on_disconnected(session: Realtime, event: RealtimeDisconnectedEvent) -> None:
    """Mirrors ``_emit_disconnected_event``: the connection ended (see ``was_clean``)."""


@hookspec
def realtime_on_reconnected(session: Realtime, event: RealtimeReconnectedEvent) -> None:
    """The session reconnected (see ``state_restored``)."""


@hookspec
def realtime_on_audio_input(session: Realtime, event: RealtimeAudioInputEvent) -> None:
    """Mirrors ``_emit_audio_input_event``: audio the app sent."""


@hookspec
def realtime_on_audio_output(session: Realtime, event: RealtimeAudioOutputEvent) -> None:
    """Mirrors ``_emit_audio_output_event``: a chunk of agent speech."""


@hookspec
def realtime_on_audio_output_done(session: Realtime, event: RealtimeAudioOutputDoneEvent) -> None:
    """Mirrors ``_emit_audio_output_done_event``: a response's audio ended (maybe interrupted)."""


@hookspec
def realtime_on_response(session: Realtime, event: RealtimeResponseEvent) -> None:
    """Mirrors ``_emit_response_event``: response text (delta or complete)."""


@hookspec
def realtime_on_user_speech_transcription(
    session: Realtime, event: RealtimeUserSpeechTranscriptionEvent
) -> None:
    """Mirrors ``_emit_user_speech_transcription``: what the user said."""


@hookspec
def realtime_on_user_transcript(session: Realtime, event: UserTranscriptEvent) -> None:
    """The STT-style user transcript that accompanies every user transcription."""


@hookspec
def realtime_on_agent_speech_transcription(
    session: Realtime, event: RealtimeAgentSpeechTranscriptionEvent
) -> None:
    """Mirrors ``_emit_agent_speech_transcription``: what the agent said."""


@hookspec
def realtime_on_error(session: Realtime, event: RealtimeErrorEvent) -> None:
    """Mirrors ``_emit_error_event``: an error the session survived (or is reconnecting from)."""


@hookspec
def realtime_on_user_speech_started(session: Realtime, event: RealtimeUserSpeechStartedEvent) -> None:
    """The provider heard the user start speaking."""


@hookspec
def realtime_on_user_speech_stopped(session: Realtime, event: RealtimeUserSpeechStoppedEvent) -> None:
    """The provider heard the user stop speaking."""


@hookspec
def realtime_on_agent_speech_started(session: Realtime, event: RealtimeAgentSpeechStartedEvent) -> None:
    """The first audio of a response arrived."""


@hookspec
def realtime_on_agent_speech_stopped(session: Realtime, event: RealtimeAgentSpeechStoppedEvent) -> None:
    """A response's speech ended or was interrupted."""


@hookspec
def realtime_on_interrupted(session: Realtime, event: RealtimeInterruptedEvent) -> None:
    """The epoch moved on (local interrupt or server barge-in): playback must stop."""


@hookspec
def realtime_on_tool_call_started(session: Realtime, event: RealtimeToolCallStartedEvent) -> None:
    """A tool call is about to run."""


@hookspec
def realtime_on_tool_call_finished(session: Realtime, event: RealtimeToolCallFinishedEvent) -> None:
    """A tool call finished, failed, timed out or was cancelled."""


@hookspec
def realtime_on_usage(session: Realtime, event: RealtimeUsageEvent) -> None:
    """Token usage for a response."""


@hookspec
def realtime_on_metrics(session: Realtime, event: RealtimeMetricsEvent) -> None:
    """Timing metrics for a response (time to first audio...)."""


@hookspec
def realtime_on_rate_limits(session: Realtime, event: RealtimeRateLimitsEvent) -> None:
    """The provider's rate limits changed."""
