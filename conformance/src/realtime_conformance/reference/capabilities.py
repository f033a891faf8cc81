"""Capabilities of the reference provider, derived from the session configuration."""

from __future__ import annotations

from realtime_core import Capabilities

from .protocol import INPUT_RATE, OUTPUT_RATE


def build_capabilities(*, modality: str = "audio", turn_detection: str = "server") -> Capabilities:
    audio = modality == "audio"
    return Capabilities(
        transports=("websocket",),
        transport="websocket",
        input_sample_rate=INPUT_RATE,
        output_sample_rate=OUTPUT_RATE,
        audio_output=audio,
        text_output=not audio,
        text_input=True,
        say=audio,
        video_input=True,
        video_max_fps=2.0,
        video_max_width=640,
        video_max_height=480,
        tools=True,
        parallel_tool_calls=True,
        tool_call_cancellation=False,
        interruption=True,
        truncation=audio,
        user_transcript="final",
        agent_transcript="delta" if audio else "none",
        server_vad=turn_detection == "server",
        manual_turns=True,
        user_speech_events=turn_detection == "server",
        usage=True,
        session_resumption=True,
        reconnection=True,
        max_session_seconds=None,
    )
