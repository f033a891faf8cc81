"""Running the tool calls of one response as a batch and sending their results together.

Each call runs in its own session-owned task with a timeout (a raising or slow tool becomes an error
result the model is told about); results of calls the provider cancelled are not sent; the batch's results
go to the provider in one :meth:`Realtime._send_tool_results` call, after waiting out a reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any

from .emitter import Emitter
from .errors import RealtimeError, ToolExecutionError, ToolTimeoutError
from .tools import ToolCall, ToolRegistry, ToolResult

__all__ = ["ToolBatchRunner"]

class ToolBatchRunner:
    """See the module docstring.

    :param spawn: the session's task spawner.
    :param wait_connected: waits out a reconnect (raises if the session is gone).
    :param send_results: the provider's :meth:`Realtime._send_tool_results`.
    """

    def __init__(
        self,
        *,
        tools: ToolRegistry,
        timeout: float,
        emitter: Emitter,
        spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
        wait_connected: Callable[[str], Awaitable[None]],
        send_results: Callable[[list[ToolResult]], Awaitable[None]],
    ) -> None:
        self.tools = tools
        self.timeout = timeout
        self._emitter = emitter
        self._spawn = spawn
        self._wait_connected = wait_connected
        self._send_results = send_results
        self._running: dict[str, asyncio.Task[ToolResult]] = {}
        self._cancelled: set[str] = set()
        self._batches: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        """A batch is running (its tools, or sending its results)."""
        return any(not t.done() for t in self._batches)

    def start(self, calls: Sequence[ToolCall]) -> asyncio.Task[None] | None:
        if not calls:
            return None
        batch = self._spawn(self._run(list(calls)), "realtime-tools")
        self._batches.add(batch)
        batch.add_done_callback(self._batches.discard)
        return batch

    def cancel(self, call_ids: Iterable[str]) -> None:
        for call_id in call_ids:
            self._cancelled.add(call_id)
            task = self._running.get(call_id)
            if task is not None and not task.done():
                task.cancel()

    async def _run(self, calls: list[ToolCall]) -> None:
        started: list[tuple[ToolCall, asyncio.Task[ToolResult]]] = []
        for call in calls:
            try:
                args = call.parsed_arguments()
            except ValueError:
                args = {}
            self._emitter.tool_call_started(call, args)
            if call.call_id in self._cancelled:  # cancelled before it could start: it still gets its end
                self._emitter.tool_call_finished(
                    ToolResult(call.call_id, call.name, error="cancelled", cancelled=True, response_id=call.response_id)
                )
                continue
            task = self._spawn(self.tools.run(call, timeout=self.timeout), f"realtime-tool-{call.name}")
            self._running[call.call_id] = task
            started.append((call, task))
        results = [await self._result(call, task) for call, task in started]
        for call in calls:
            self._cancelled.discard(call.call_id)
        to_send = [r for r in results if not r.cancelled]
        for result in to_send:
            self._emitter.tool_result_sent(result)
        if not to_send:
            return
        try:
            await self._wait_connected("send tool results")
            await self._send_results(to_send)
        except RealtimeError as exc:
            self._emitter.error(exc, context="tool results")

    async def _result(self, call: ToolCall, task: asyncio.Task[ToolResult]) -> ToolResult:
        try:
            result = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the batch itself is being cancelled (session closing)
            result = ToolResult(call.call_id, call.name, error="cancelled", cancelled=True, response_id=call.response_id)
        finally:
            self._running.pop(call.call_id, None)
        if call.call_id in self._cancelled:
            result.cancelled = True
        self._emitter.tool_call_finished(result)
        if result.error is not None and not result.cancelled:
            err_cls = ToolTimeoutError if result.timed_out else ToolExecutionError
            self._emitter.error(err_cls(f"tool {result.name!r}: {result.error}", provider=self._emitter.provider), context="tool")
        return result
