"""What a Gemini Live session can do, derived from its options and its model's profile (models.py)."""

from __future__ import annotations

from realtime_core import Capabilities

from .options import GeminiOptions
from .protocol import INPUT_RATE, OUTPUT_RATE

__all__ = ["CONNECTION_SECONDS", "VIDEO_MAX_FPS", "VIDEO_MAX_SIDE", "build_capabilities", "default_capabilities"]

VIDEO_MAX_FPS = 1.0
"""Google's documented ceiling for realtime video frames."""
VIDEO_MAX_SIDE = 768
"""Frames are scaled to fit 768x768, the recommended native resolution."""
CONNECTION_SECONDS = 600.0
"""One connection lasts about ten minutes (goAway arrives at ~540 s); resumption carries the session on."""


def build_capabilities(options: GeminiOptions) -> Capabilities:
    profile = options.profile
    transcribe_only = profile.transcription_only
    audio = options.modality == "audio" and not transcribe_only
    manual = options.manual_activity
    return Capabilities(
        transports=("websocket",),
        transport="websocket",
        input_sample_rate=INPUT_RATE,
        output_sample_rate=OUTPUT_RATE,
        audio_output=audio,
        text_output=not audio and not transcribe_only,
        text_input=not transcribe_only,
        say=False,  # Gemini has no "speak this verbatim" message; a prompt would only paraphrase
        video_input=not transcribe_only,
        video_max_fps=VIDEO_MAX_FPS,
        video_max_width=VIDEO_MAX_SIDE,
        video_max_height=VIDEO_MAX_SIDE,
        tools=profile.tools,
        parallel_tool_calls=profile.tools,
        tool_call_cancellation=profile.tools,
        # With NO_INTERRUPTION the server never barges in, so interruption is refused rather than half-done.
        interruption=options.activity_handling != "no_interruption" and not transcribe_only,
        truncation=False,  # no truncate message: the server keeps everything it sent in its history
        user_transcript="delta" if options.wants_input_transcription else "none",
        agent_transcript="delta" if options.wants_output_transcription and audio else "none",
        server_vad=not manual,
        manual_turns=manual,
        # voiceActivity messages when the server sends them; otherwise derived from transcripts and turns
        user_speech_events=manual or options.wants_input_transcription,
        usage=True,
        session_resumption=options.session_resumption,
        reconnection=True,
        max_session_seconds=CONNECTION_SECONDS,
    )


def default_capabilities() -> Capabilities:
    """The capabilities of a session built with default options."""
    return build_capabilities(GeminiOptions())
