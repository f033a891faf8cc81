"""What an OpenAI Realtime session supports, derived from its configuration."""

from __future__ import annotations

import importlib.util

from realtime_core import Capabilities

from .config import SAMPLE_RATE, SessionConfig

__all__ = [
    "MAX_SESSION_SECONDS",
    "TRANSPORTS",
    "WEBRTC_SAMPLE_RATE",
    "available_transports",
    "build_capabilities",
    "default_capabilities",
]

TRANSPORTS = ("websocket", "webrtc")
"""Every transport the plugin knows; ``webrtc`` needs the ``realtime-openai[webrtc]`` extra (aiortc)."""
WEBRTC_SAMPLE_RATE = 48000
"""Audio rate on WebRTC in both directions: Opus is 48 kHz, so nothing is resampled down on the way."""


def available_transports() -> tuple[str, ...]:
    """The transports usable in this environment (``webrtc`` only when aiortc is installed)."""
    return tuple(t for t in TRANSPORTS if t != "webrtc" or _has_aiortc())


def _has_aiortc() -> bool:
    try:
        return importlib.util.find_spec("aiortc") is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules
        return False


MAX_SESSION_SECONDS = 3600.0
"""GA caps one connection at 60 minutes; the session then reconnects and replays the conversation."""


def build_capabilities(
    config: SessionConfig,
    *,
    transport: str = "websocket",
    say: bool = False,
    video_max_fps: float = 1.0,
) -> Capabilities:
    """The capabilities of a session configured with ``config``.

    * audio vs text replies follow ``config.modality``; truncation only exists for audio replies;
    * user transcripts only with ``input_transcription``; turn events only with server turn detection;
    * manual turns when there is no turn detection, or when it does not create responses itself;
    * ``say`` only when the app opted into instruction-driven reading (see ``say_mode``);
    * over WebRTC audio is 48 kHz both ways (Opus), over WebSocket 24 kHz PCM.
    """
    audio = config.modality == "audio"
    td = config.turn_detection
    rate = WEBRTC_SAMPLE_RATE if transport == "webrtc" else SAMPLE_RATE
    return Capabilities(
        transports=available_transports(),
        transport=transport,
        input_sample_rate=rate,
        output_sample_rate=rate,
        audio_output=audio,
        text_output=not audio,
        text_input=True,
        say=say,
        video_input=video_max_fps > 0,
        video_max_fps=video_max_fps,
        video_max_width=1024 if video_max_fps > 0 else 0,
        video_max_height=1024 if video_max_fps > 0 else 0,
        tools=True,
        parallel_tool_calls=True,
        tool_call_cancellation=False,
        interruption=True,
        truncation=audio,
        user_transcript="delta" if config.input_transcription is not None else "none",
        agent_transcript="delta" if audio else "none",
        server_vad=td is not None,
        manual_turns=td is None or not td.create_response,
        user_speech_events=td is not None,
        usage=True,
        session_resumption=True,
        reconnection=True,
        max_session_seconds=MAX_SESSION_SECONDS,
    )


def default_capabilities() -> Capabilities:
    """Capabilities of a session built with default options."""
    return build_capabilities(SessionConfig())
