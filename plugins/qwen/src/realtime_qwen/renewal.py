"""Renewing a connection before DashScope's 120-minute cap, at a quiet moment.

DashScope ends a WebSocket session after 120 minutes. :class:`CapRenewal` asks core for a planned renewal
(``SessionCore.renew``: make before break, input buffered meanwhile) once the connection is within
``margin_s`` of the cap, at the next quiet moment (no reply playing or generating, the user not speaking),
and at the latest a quarter of the margin before the cap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from realtime_core import SessionCore

__all__ = ["CapRenewal"]

REASON = "session cap"


class CapRenewal:
    """See the module docstring; one per session, armed again on every new connection.

    :param max_seconds: the cap on one connection (0: never renew).
    :param margin_s: how long before the cap a quiet moment is looked for.
    :param quiet: whether now is a quiet moment.
    """

    def __init__(self, core: SessionCore, *, max_seconds: float, margin_s: float, quiet: Callable[[], bool]) -> None:
        self._core = core
        self._max_seconds = max_seconds
        self._margin_s = min(margin_s, max_seconds)
        self._quiet = quiet
        self._timers: list[asyncio.TimerHandle] = []
        self.pending = False
        """The cap is near and the renewal waits for a quiet moment."""

    def arm(self) -> None:
        """A new connection opened: count from now."""
        self.cancel()
        if not self._max_seconds:
            return
        loop = asyncio.get_running_loop()
        cap, margin = self._max_seconds, self._margin_s
        self._timers = [loop.call_later(cap - margin, self.near), loop.call_later(cap - margin / 4, self.force)]

    def cancel(self) -> None:
        """The connection is being replaced or closed."""
        self.pending = False
        for timer in self._timers:
            timer.cancel()
        self._timers = []

    def response_ended(self) -> None:
        """A reply ended: renew now if the cap is near and nothing else goes on."""
        if self.pending and self._quiet():
            self.force()

    def near(self) -> None:
        """The cap is ``margin_s`` away (the first timer): renew now if quiet, else at the next quiet moment."""
        if self._quiet():
            self.force()
        else:
            self.pending = True

    def force(self) -> None:
        """Renew now (the second timer: the cap is too close to wait for a quiet moment any longer)."""
        self.cancel()
        self._core.renew(REASON)
