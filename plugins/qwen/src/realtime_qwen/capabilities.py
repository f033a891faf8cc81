"""What a Qwen-Omni realtime session supports, derived from its model and configuration."""

from __future__ import annotations

from realtime_core import Capabilities

from .config import INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE, QwenSessionConfig

__all__ = [
    "MAX_SESSION_SECONDS",
    "MAX_VIDEO_FPS",
    "VIDEO_MAX_HEIGHT",
    "VIDEO_MAX_WIDTH",
    "build_capabilities",
    "default_capabilities",
]

MAX_SESSION_SECONDS = 7200.0
"""One WebSocket session lasts at most 120 minutes; core then reconnects (a new, empty conversation)."""
MAX_VIDEO_FPS = 2.0
"""The most images per second any DashScope page allows (1 per second is the recommendation)."""
VIDEO_MAX_WIDTH = 1280
VIDEO_MAX_HEIGHT = 720
"""720p is recommended (1080p is the maximum); frames are scaled down to fit."""


def build_capabilities(config: QwenSessionConfig, *, video_max_fps: float = 1.0) -> Capabilities:
    """The capabilities of a session configured with ``config``.

    * text input, tools (not together with web search), semantic VAD and streamed user transcripts exist on
      qwen3.5 only; qwen3-omni-flash accepts tools but never calls them, so they are declared unsupported;
    * user transcripts only with ``input_transcription``; speech events only with server turn detection;
    * manual turns without turn detection, or when it does not create responses itself;
    * no truncation (DashScope has no ``conversation.item.truncate``) and no resumption: a reconnect starts a
      new, empty conversation with the same configuration.
    """
    profile = config.profile
    audio = config.modality == "audio"
    td = config.turn_detection
    tools = profile.tools and not config.enable_search
    video = video_max_fps > 0
    if config.input_transcription:
        user_transcript = "delta" if profile.transcription_deltas else "final"
    else:
        user_transcript = "none"
    return Capabilities(
        transports=("websocket",),
        transport="websocket",
        input_sample_rate=INPUT_SAMPLE_RATE,
        output_sample_rate=OUTPUT_SAMPLE_RATE,
        audio_output=audio,
        text_output=not audio,
        text_input=profile.text_input,
        say=False,
        video_input=video,
        video_max_fps=video_max_fps,
        video_max_width=VIDEO_MAX_WIDTH if video else 0,
        video_max_height=VIDEO_MAX_HEIGHT if video else 0,
        tools=tools,
        parallel_tool_calls=tools,
        tool_call_cancellation=False,
        interruption=True,
        truncation=False,
        user_transcript=user_transcript,
        agent_transcript="delta" if audio else "none",
        server_vad=td is not None,
        manual_turns=td is None or not td.create_response,
        user_speech_events=td is not None,
        usage=True,
        session_resumption=False,
        reconnection=True,
        max_session_seconds=MAX_SESSION_SECONDS,
    )


def default_capabilities() -> Capabilities:
    """Capabilities of a session built with default options (qwen3.5-omni-plus-realtime, server VAD)."""
    return build_capabilities(QwenSessionConfig())
