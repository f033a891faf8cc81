"""Latency profiles: how long an emulated model takes to answer and how fast it streams.

Real services take a few hundred milliseconds to start a reply and stream its audio at about real time; an
emulator that answers in 0 ms hides client races that real latency would expose (and the other way round).
A :class:`LatencyProfile` is part of a :class:`~realtime_core.emulator.Scenario` (``latency:``) or given to an
emulator's constructor (``latency=``, which wins); ``"none"`` (the default: fast tests) and ``"realistic"``
(the default of ``realtime emulate``) are named presets.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigurationError

__all__ = ["LATENCY_PRESETS", "LatencyPreset", "LatencyProfile", "resolve_latency"]

LatencyPreset = Literal["none", "realistic"]


class LatencyProfile(BaseModel):
    """Delays every reply of an emulator gets (on top of a scripted ``Reply``'s own delays)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_event_ms: float = Field(
        default=0, ge=0, description="From the end of the user's turn (or a request) to the reply's first event."
    )
    first_audio_ms: float = Field(
        default=0, ge=0, description="From the reply's first event to its first audio (or text) chunk."
    )
    speed: float | None = Field(
        default=None,
        gt=0,
        description="Pacing of reply chunks: 1.0 streams audio in real time, 2.0 twice as fast; None: as fast as possible.",
    )


LATENCY_PRESETS: dict[str, LatencyProfile] = {
    "none": LatencyProfile(),
    "realistic": LatencyProfile(first_event_ms=250, first_audio_ms=200, speed=1.0),
}
"""``none``: answer at once, stream as fast as possible (unit tests). ``realistic``: about 450 ms to the
first audio, audio streamed in real time (what a client meets on a real service)."""


def resolve_latency(value: LatencyProfile | str | None) -> LatencyProfile:
    """A profile from a profile, a preset name, or None (``"none"``).

    :raises ConfigurationError: for an unknown preset name.
    """
    if value is None:
        return LATENCY_PRESETS["none"]
    if isinstance(value, LatencyProfile):
        return value
    try:
        return LATENCY_PRESETS[value]
    except KeyError:
        raise ConfigurationError(
            f"unknown latency preset {value!r}; choose one of {', '.join(LATENCY_PRESETS)}"
        ) from None
