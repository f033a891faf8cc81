"""Response bookkeeping: which replies exist, which one is speaking, what was received and heard.

:class:`ResponseTracker` decides, without emitting anything:

* the **epoch**: incremented by every interruption; output of older epochs is never delivered;
* which responses are **stale** (interrupted: their late output is dropped) and which are done (at most
  one done event each);
* the **active** response (audio arriving, no done yet) and the last one that spoke (it may still be
  playing after all its audio arrived faster than real time);
* how much of a response was **received** and **heard** (``min(played, received)``: reported playback,
  or real-time playback from the first chunk when the app reports nothing);
* the **turn clock** that time to first audio is measured from.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["InterruptInfo", "Response", "ResponseTracker"]

MAX_TRACKED = 256
"""Responses (and stale ids) remembered; older ones are forgotten first."""


@dataclass(frozen=True, slots=True)
class InterruptInfo:
    """What a plugin's :meth:`Realtime._on_interrupt` needs to tell its provider.

    :ivar source: ``"local"`` (the app called ``interrupt()``) or ``"server"`` (provider barge-in).
    :ivar response_id: the response that was playing, if any.
    :ivar heard_ms: how much of it counts as heard: ``min(played, received)``; never past the audio that
        actually arrived, so a truncate built from it is always valid.
    :ivar received_ms: how much audio of that response arrived.
    :ivar epoch: the new epoch.
    :ivar generating: True if the provider was still sending the response (cancel it); False if all its
        audio had arrived and only playback was cut (truncate, but there is nothing to cancel).
    """

    source: str
    response_id: str | None
    heard_ms: float | None
    received_ms: float | None
    epoch: int
    generating: bool = True


class Response:
    """One reply as core tracks it."""

    __slots__ = (
        "announced",
        "created_at",
        "done",
        "first_audio_at",
        "interrupted",
        "played_ms",
        "received_frames",
        "response_id",
        "sample_rate",
        "ttfa_ms",
    )

    def __init__(self, response_id: str) -> None:
        self.response_id = response_id
        self.created_at = time.monotonic()
        self.first_audio_at: float | None = None
        self.announced = False  # agent speech started went out
        self.received_frames = 0
        self.sample_rate = 0
        self.done = False
        self.interrupted = False
        self.played_ms: float | None = None
        self.ttfa_ms: float | None = None

    @property
    def received_ms(self) -> float:
        return self.received_frames * 1000.0 / self.sample_rate if self.sample_rate else 0.0

    def heard_ms(self, now: float) -> float:
        if self.first_audio_at is None:
            return 0.0
        played = self.played_ms if self.played_ms is not None else (now - self.first_audio_at) * 1000.0
        return max(0.0, min(played, self.received_ms))

    def still_playing(self, now: float) -> bool:
        """All audio may have arrived while the user is still hearing it."""
        return not self.interrupted and self.heard_ms(now) < self.received_ms - 1.0


class ResponseTracker:
    """See the module docstring."""

    def __init__(self) -> None:
        self.epoch = 0
        self._responses: OrderedDict[str, Response] = OrderedDict()
        self._stale: OrderedDict[str, None] = OrderedDict()
        self._active: Response | None = None
        self._last_audio: Response | None = None
        self._turn_end_at: float | None = None

    # ------------------------------------------------------------------ queries
    def is_stale(self, response_id: str) -> bool:
        """The response was interrupted: drop anything that still arrives for it."""
        return response_id in self._stale

    def get(self, response_id: str) -> Response | None:
        return self._responses.get(response_id)

    @property
    def active(self) -> Response | None:
        """The response whose audio is arriving (no done event yet)."""
        active = self._active
        return active if active is not None and not active.done else None

    @property
    def responding(self) -> bool:
        return self.active is not None

    @property
    def current_response_id(self) -> str | None:
        active = self.active
        return active.response_id if active is not None else None

    def agent_audible(self, now: float | None = None) -> bool:
        """A response is streaming, or its audio all arrived but is (by estimate) still playing."""
        if self.responding:
            return True
        last = self._last_audio
        return last is not None and last.still_playing(time.monotonic() if now is None else now)

    # ------------------------------------------------------------------ changes
    def open(self, response_id: str) -> Response:
        """Start tracking ``response_id`` (or return it if known)."""
        resp = self._responses.get(response_id)
        if resp is None:
            resp = self._responses[response_id] = Response(response_id)
            if len(self._responses) > MAX_TRACKED:
                self._responses.popitem(last=False)
        return resp

    def audio_arrived(self, response_id: str, frames: int, sample_rate: int) -> Response | None:
        """Count ``frames`` of audio for ``response_id``; None if the audio must be dropped (stale or done).

        (The audio path: about 50 calls a second per session, so no allocation beyond the first chunk.)
        """
        if response_id in self._stale:
            return None
        resp = self._responses.get(response_id)
        if resp is None:
            resp = self.open(response_id)
        elif resp.done:
            return None
        if resp.first_audio_at is None:
            now = time.monotonic()
            resp.first_audio_at = now
            resp.sample_rate = sample_rate
            if self._turn_end_at is not None:
                resp.ttfa_ms = (now - self._turn_end_at) * 1000.0
                self._turn_end_at = None
        resp.received_frames += frames
        self._active = resp
        self._last_audio = resp
        return resp

    def finish(self, resp: Response, *, interrupted: bool) -> None:
        """Mark ``resp`` done (interrupted ones become stale)."""
        resp.done = True
        resp.interrupted = interrupted
        if interrupted:
            self._mark_stale(resp.response_id)
        if self._active is resp:
            self._active = None

    def _mark_stale(self, response_id: str) -> None:
        self._stale[response_id] = None
        if len(self._stale) > MAX_TRACKED:
            self._stale.popitem(last=False)

    def interrupt(self, source: str) -> tuple[InterruptInfo, Response | None]:
        """Move to a new epoch and say what was cut: the streaming response, or one still playing.

        :return: the :class:`InterruptInfo` for the provider, and the response whose done event must now
            go out (None when nothing was generating).
        """
        self.epoch += 1
        now = time.monotonic()
        resp = self.active
        generating = resp is not None
        if resp is None:
            last = self._last_audio
            if last is not None and last.still_playing(now):
                resp = last
        info = InterruptInfo(
            source=source,
            response_id=resp.response_id if resp is not None else None,
            heard_ms=resp.heard_ms(now) if resp is not None else None,
            received_ms=resp.received_ms if resp is not None else None,
            epoch=self.epoch,
            generating=generating,
        )
        if resp is not None and not generating:
            # its done event is already out: only stop stragglers and remember the cut
            resp.interrupted = True
            self._mark_stale(resp.response_id)
            return info, None
        return info, resp

    def report_playback(self, response_id: str, played_ms: float) -> None:
        resp = self._responses.get(response_id)
        if resp is not None:
            resp.played_ms = max(0.0, float(played_ms))

    def mark_turn_end(self, ago_ms: float = 0.0) -> None:
        """The user's turn ended ``ago_ms`` ago: time to first audio counts from there."""
        self._turn_end_at = time.monotonic() - max(0.0, ago_ms) / 1000.0
