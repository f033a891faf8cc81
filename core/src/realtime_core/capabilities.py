"""What a provider session can do, as data.

Each provider builds its :class:`Capabilities` *from its configuration* (model, turn detection,
transcription...), so two sessions of the same plugin can differ. Core checks the flags before an
operation reaches the plugin and raises :class:`~realtime_core.errors.UnsupportedCapability` without
sending anything; the conformance kit checks that every ``False`` really is refused and that every
``True`` really works.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Capabilities", "TranscriptSupport"]

TranscriptSupport = Literal["none", "final", "delta"]
"""``"delta"`` means streaming pieces followed by a final event; ``"final"`` means only the final event."""


class Capabilities(BaseModel):
    """A frozen declaration of what one configured session supports.

    Flags describe operations (``text_input``, ``say``...) and what events the app will see
    (``user_transcript``, ``agent_transcript``, ``usage``...). Keep them honest: the conformance kit
    fails a plugin whose declared-unsupported feature turns out to work (a stale declaration) as well as
    one whose declared feature does not.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    transports: tuple[str, ...] = Field(default=("websocket",), description="Transports this session can use.")
    transport: str = Field(default="websocket", description="The transport this session is configured to use.")
    input_sample_rate: int = Field(default=16000, gt=0, description="Sample rate the provider takes, in Hz.")
    output_sample_rate: int = Field(default=24000, gt=0, description="Sample rate of RealtimeAudioOutputEvent audio.")
    audio_output: bool = Field(default=True, description="Replies come as audio (False: text-only modality).")
    text_output: bool = Field(default=False, description="Replies come as RealtimeResponseEvent text.")
    text_input: bool = Field(default=False, description="simple_response(text) is supported.")
    say: bool = Field(default=False, description="say(text) speaks scripted text faithfully.")
    video_input: bool = Field(default=False, description="watch_video_track() is supported.")
    video_max_fps: float = Field(default=0.0, ge=0, description="Highest frame rate the provider accepts.")
    video_max_width: int = Field(default=0, ge=0, description="Frames are scaled down to fit this width.")
    video_max_height: int = Field(default=0, ge=0, description="Frames are scaled down to fit this height.")
    tools: bool = Field(default=False, description="Function tools can be declared and called.")
    parallel_tool_calls: bool = Field(default=False, description="Several calls may arrive in one response.")
    tool_call_cancellation: bool = Field(default=False, description="The provider can cancel calls in flight.")
    interruption: bool = Field(default=True, description="interrupt() and server barge-in are supported.")
    truncation: bool = Field(default=False, description="The provider is told how much of a reply was heard.")
    user_transcript: TranscriptSupport = Field(default="none", description="Transcripts of the user's speech.")
    agent_transcript: TranscriptSupport = Field(default="none", description="Transcripts of the agent's speech.")
    server_vad: bool = Field(default=False, description="The provider detects turns (speech started/stopped).")
    manual_turns: bool = Field(default=False, description="begin_user_turn()/end_user_turn() are supported.")
    user_speech_events: bool = Field(default=False, description="User speech started/stopped events are emitted.")
    usage: bool = Field(default=False, description="RealtimeUsageEvent carries token counts.")
    session_resumption: bool = Field(default=False, description="Reconnects restore the conversation state.")
    reconnection: bool = Field(default=True, description="Dropped connections are re-established by core.")
    max_session_seconds: float | None = Field(default=None, description="Provider's hard cap on one connection.")

    def supports(self, name: str) -> bool:
        """Whether the flag ``name`` is truthy (``"user_transcript"`` counts as supported unless ``"none"``)."""
        value = getattr(self, name)
        if isinstance(value, str):
            return value != "none"
        return bool(value)

    def summary(self) -> str:
        """A short human-readable line, e.g. for ``realtime providers``."""
        parts = [f"in {self.input_sample_rate // 1000}k", f"out {self.output_sample_rate // 1000}k"]
        flags = ("text_input", "say", "video_input", "tools", "truncation", "manual_turns")
        parts.extend(f.replace("_input", "").replace("_", "-") for f in flags if self.supports(f))
        if self.session_resumption:
            parts.append("resume")
        return ", ".join(parts)
