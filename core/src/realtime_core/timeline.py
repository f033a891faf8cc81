"""A human-readable timeline of session events (used by ``realtime demo`` and ``realtime talk``).

Audio chunks are summarised per response (first chunk, then a total at the done event) instead of one
line per chunk; transcript deltas are folded into their final text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TextIO

from .audio import PcmData
from .events import (
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAgentSpeechTranscriptionEvent,
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
)

__all__ = ["Timeline"]


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Timeline:
    """Formats events as ``+1.234s  label  detail`` lines and collects the agent's audio.

    :param out: where lines go (``None``: collect only).
    """

    out: TextIO | None = None
    started: float = field(default_factory=time.monotonic)
    audio: list[PcmData] = field(default_factory=list[PcmData])
    lines: list[str] = field(default_factory=list[str])
    entries: list[tuple[float, str, str]] = field(default_factory=list[tuple[float, str, str]])
    """(seconds since start, label, detail) for every printed line."""
    _chunks: dict[str, tuple[int, float]] = field(default_factory=dict[str, tuple[int, float]])

    def add(self, event: RealtimeEvent) -> None:
        if isinstance(event, RealtimeAudioOutputEvent):
            self.audio.append(event.audio_data)
        line = self.describe(event)
        if line is None:
            return
        label, detail = line
        elapsed = time.monotonic() - self.started
        self.entries.append((elapsed, label, detail))
        text = f"  +{elapsed:7.3f}s  {label:<20} {detail}".rstrip()
        self.lines.append(text)
        if self.out is not None:
            print(text, file=self.out, flush=True)

    def describe(self, event: RealtimeEvent) -> tuple[str, str] | None:
        """The (label, detail) for an event, or None for events folded into others."""
        match event:
            case RealtimeConnectedEvent():
                caps = event.capabilities
                return "connected", (
                    f"session {event.session_id[:8]} via {caps.transport} "
                    f"(in {caps.input_sample_rate} Hz, out {caps.output_sample_rate} Hz)"
                )
            case RealtimeUserSpeechStartedEvent():
                return "user speech started", ""
            case RealtimeUserSpeechStoppedEvent():
                return "user speech stopped", ""
            case RealtimeUserSpeechTranscriptionEvent() if event.mode == "final":
                return "user transcript", f'"{_short(event.text)}"'
            case RealtimeAgentSpeechStartedEvent():
                return "agent speech started", event.response_id
            case RealtimeAudioOutputEvent():
                count, ms = self._chunks.get(event.response_id, (0, 0.0))
                self._chunks[event.response_id] = (count + 1, ms + event.audio_data.duration_ms)
                if count == 0:
                    pcm = event.audio_data
                    return "audio", f"first chunk: {pcm.duration_ms:.0f} ms at {pcm.sample_rate} Hz"
                return None
            case RealtimeAgentSpeechTranscriptionEvent() if event.mode == "final":
                return "agent transcript", f'"{_short(event.text)}"'
            case RealtimeResponseEvent() if event.is_complete:
                return "response text", f'"{_short(event.text)}"'
            case RealtimeAudioOutputDoneEvent():
                count, ms = self._chunks.pop(event.response_id, (0, 0.0))
                how = " (interrupted)" if event.interrupted else ""
                return "audio done", f"{event.response_id}: {count} chunks, {ms / 1000:.2f} s{how}"
            case RealtimeAgentSpeechStoppedEvent():
                return None
            case RealtimeInterruptedEvent():
                return "interrupted", f"{event.source} (heard {event.heard_ms or 0:.0f} ms)"
            case RealtimeMetricsEvent():
                ttfa = event.time_to_first_audio_ms
                return "metrics", "time to first audio " + (f"{ttfa:.0f} ms" if ttfa is not None else "n/a")
            case RealtimeUsageEvent():
                parts = [
                    f"{name} {value}"
                    for name, value in (
                        ("in", event.input_tokens),
                        ("out", event.output_tokens),
                        ("audio in", event.input_audio_tokens),
                        ("audio out", event.output_audio_tokens),
                    )
                    if value is not None
                ]
                return "usage", ", ".join(parts) + " tokens" if parts else "reported"
            case RealtimeRateLimitsEvent():
                return "rate limits", ", ".join(f"{r.name} {r.remaining}/{r.limit}" for r in event.limits)
            case RealtimeToolCallStartedEvent():
                return "tool call", f"{event.name}({_short(str(event.arguments), 60)})"
            case RealtimeToolCallFinishedEvent():
                outcome = event.error or _short(str(event.result), 60)
                return "tool result", f"{event.name}: {outcome} ({event.duration_ms:.0f} ms)"
            case RealtimeErrorEvent():
                return "error", f"{_short(str(event.error), 120)} [{event.context}]"
            case RealtimeReconnectedEvent():
                return "reconnected", f"{event.reason}; state restored: {event.state_restored}"
            case RealtimeDisconnectedEvent():
                return "disconnected", f"{event.reason or 'closed'} ({'clean' if event.was_clean else 'unclean'})"
            case _:
                return None

    def reply_audio(self) -> PcmData | None:
        """All agent audio received, concatenated (None if there was none)."""
        chunks = [c for c in self.audio if c]
        return PcmData.concat(chunks) if chunks else None
