"""Tasks owned by a session: every background task is created here, and cancelled and awaited on close."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["TaskSet"]

_T = TypeVar("_T")


class TaskSet:
    """The session's tasks.

    :param on_failure: called with a task that ended with an exception (unless it was spawned with
        ``report_errors=False``).
    :param fresh_context: runs in each new task's context before it starts (core uses it to clear the
        "inside a wrapped method" marker, so a task's calls get core's guards again).
    """

    def __init__(
        self,
        on_failure: Callable[[asyncio.Task[Any], BaseException], None],
        fresh_context: Callable[[], object] | None = None,
    ) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_failure = on_failure
        self._fresh_context = fresh_context

    def spawn(self, coro: Coroutine[Any, Any, _T], *, name: str | None = None, report_errors: bool = True) -> asyncio.Task[_T]:
        ctx = contextvars.copy_context()
        if self._fresh_context is not None:
            ctx.run(self._fresh_context)
        task = asyncio.get_running_loop().create_task(coro, name=name, context=ctx)
        self._tasks.add(task)
        task.add_done_callback(self._done if report_errors else self._tasks.discard)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            exc = task.exception()
            if exc is not None:
                self._on_failure(task, exc)

    def pending(self) -> list[asyncio.Task[Any]]:
        """Tasks not finished yet."""
        return [t for t in self._tasks if not t.done()]

    async def cancel_all(self) -> None:
        """Cancel every task (except the calling one) and wait until they have ended."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self.pending())
