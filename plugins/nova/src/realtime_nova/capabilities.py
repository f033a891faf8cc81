"""What a Nova Sonic session supports, derived from its configuration."""

from __future__ import annotations

from realtime_core.capabilities import Capabilities

from .models import DEFAULT_MODEL, STREAM_LIMIT_SECONDS, ModelInfo, model_info

__all__ = ["INPUT_SAMPLE_RATE", "OUTPUT_SAMPLE_RATE", "build_capabilities", "default_capabilities"]

INPUT_SAMPLE_RATE = 16000
OUTPUT_SAMPLE_RATE = 24000


def build_capabilities(
    model: ModelInfo,
    *,
    output_sample_rate: int = OUTPUT_SAMPLE_RATE,
    reconnection: bool = True,
    stream_limit_s: float = STREAM_LIMIT_SECONDS,
) -> Capabilities:
    """Nova takes 16 kHz audio and speaks at the configured rate; it detects turns itself and barges in
    natively, transcribes both sides (the agent's as speculative deltas then a final), calls tools (one
    result block per call), reports usage, and continues a conversation on a new stream by replaying its
    history. It has no cancel or truncate message, no scripted speech, no video and no manual turns;
    typed text makes only Nova 2 Sonic answer.
    """
    return Capabilities(
        transports=("http2",),
        transport="http2",
        input_sample_rate=INPUT_SAMPLE_RATE,
        output_sample_rate=output_sample_rate,
        audio_output=True,
        text_output=False,
        text_input=model.text_input,
        say=False,
        video_input=False,
        tools=True,
        parallel_tool_calls=True,
        tool_call_cancellation=False,
        interruption=True,
        truncation=False,
        user_transcript="final",
        agent_transcript="delta",
        server_vad=True,
        manual_turns=False,
        user_speech_events=False,
        usage=True,
        session_resumption=reconnection,
        reconnection=reconnection,
        max_session_seconds=stream_limit_s,
    )


def default_capabilities() -> Capabilities:
    """Capabilities of a session built with default options (Nova 2 Sonic)."""
    return build_capabilities(model_info(DEFAULT_MODEL))
