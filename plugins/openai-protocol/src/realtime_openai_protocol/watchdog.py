"""The watch on a response that goes silent: created, then nothing more for ``timeout`` seconds.

A lost ``response.done`` would otherwise hold every later ``response.create`` back for good (the server
refuses a second response while one is active, so the client defers them). Traffic is a timestamp written
per event of the active response (cheap on the audio path); one timer per connection checks it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["SilentResponseWatch"]


class SilentResponseWatch:
    """Calls ``on_silent(response_id, idle_seconds)`` when the active response sent nothing for ``timeout``.

    :param active: returns the active response id (None: nothing to watch).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float | None,
        active: Callable[[], str | None],
        on_silent: Callable[[str, float], None],
    ) -> None:
        self._loop = loop
        self.timeout = timeout
        self._active = active
        self._on_silent = on_silent
        self._traffic_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def traffic(self) -> None:
        """An event of the active response arrived (or it was just created)."""
        self._traffic_at = self._loop.time()

    def arm(self, delay: float | None = None) -> None:
        """Watch the active response (idempotent; no-op when there is none or no timeout)."""
        timeout = self.timeout
        if timeout is None or self._closed or self._timer is not None or self._active() is None:
            return
        self._timer = self._loop.call_later(timeout if delay is None else delay, self._check)

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        rid, timeout = self._active(), self.timeout
        if rid is None or timeout is None or self._closed:
            return
        idle = self._loop.time() - self._traffic_at
        if idle < timeout:
            self.arm(timeout - idle)
        else:
            self._on_silent(rid, idle)
