"""Which event-loop callbacks blocked, and for how long: the measurement behind promise 3.9.

Wall-clock lag alone cannot tell a plugin that blocks the loop (a synchronous sleep, blocking I/O, a lock)
from a busy machine that descheduled the process. The thread's *voluntary* context switches can: a callback
that sleeps or waits gives up the CPU voluntarily, a preempted one does not. :class:`LoopBlockMeter` wraps
every callback of the running loop's thread while active (``asyncio.Handle._run``) and keeps the duration
of each one that took at least ``min_seconds`` and switched voluntarily inside.
"""

from __future__ import annotations

import asyncio
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LoopBlockMeter"]


class LoopBlockMeter:
    """``with LoopBlockMeter() as meter: ...`` then ``meter.blocked``: seconds of each blocking callback.

    :param min_seconds: shorter callbacks are not counted (a thread handing over the GIL...).
    :ivar blocked: durations of the callbacks that blocked, in order.
    :ivar callbacks: callbacks measured in all.
    """

    def __init__(self, *, min_seconds: float = 0.002) -> None:
        self.min_seconds = min_seconds
        self.blocked: list[float] = []
        self.callbacks = 0
        self._original: Callable[[asyncio.Handle], None] | None = None

    @staticmethod
    def available() -> bool:
        """Whether this platform and loop can be measured (Linux thread rusage, a stock asyncio loop)."""
        loop = asyncio.get_running_loop()
        return hasattr(resource, "RUSAGE_THREAD") and isinstance(loop, asyncio.BaseEventLoop)

    def __enter__(self) -> LoopBlockMeter:
        original = asyncio.Handle._run  # pyright: ignore[reportPrivateUsage]
        self._original = original
        thread = threading.get_ident()
        meter = self

        def _run(handle: asyncio.Handle) -> None:
            if threading.get_ident() != thread:
                original(handle)
                return
            switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
            started = time.perf_counter()
            try:
                original(handle)
            finally:
                took = time.perf_counter() - started
                meter.callbacks += 1
                if took >= meter.min_seconds and resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw > switches:
                    meter.blocked.append(took)

        asyncio.Handle._run = _run  # type: ignore[method-assign]  # pyright: ignore[reportPrivateUsage]
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._original is not None:
            asyncio.Handle._run = self._original  # type: ignore[method-assign]  # pyright: ignore[reportPrivateUsage]
            self._original = None
