"""Core's components on their own, wired by hand: dispatcher, tool batch runner, reconnect runner, tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from realtime_core import (
    Capabilities,
    ConnectionFailedError,
    PcmData,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeEvent,
    RealtimeReconnectedEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeToolCallStartedEvent,
    ReconnectContext,
    ReconnectPolicy,
    ToolCall,
    ToolRegistry,
    ToolResult,
)
from realtime_core.dispatch import EventDispatcher
from realtime_core.emitter import Emitter
from realtime_core.history import ConversationHistory
from realtime_core.lifecycle import Lifecycle, SessionState
from realtime_core.reconnect import ReconnectRunner
from realtime_core.responses import ResponseTracker
from realtime_core.tasks import TaskSet
from realtime_core.tool_runner import ToolBatchRunner


class Parts:
    """The pieces an Emitter needs, plus a task set, as a session would build them."""

    def __init__(self) -> None:
        self.failures: list[BaseException] = []
        self.tracker = ResponseTracker()
        self.history = ConversationHistory()
        self.dispatcher = EventDispatcher(object(), is_stale=lambda e: False, buffer=1000)
        self.emitter = Emitter(
            session_id="s1",
            provider="unit",
            tracker=self.tracker,
            history=self.history,
            dispatcher=self.dispatcher,
            capabilities=Capabilities,
        )
        self.tasks = TaskSet(lambda task, exc: self.failures.append(exc))
        self.stream = self.dispatcher.stream(maxsize=None, types=None, replay_connected=False)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro, name=name)

    def drain(self) -> list[RealtimeEvent]:
        out: list[RealtimeEvent] = []
        while (event := self.stream.get_nowait()) is not None:
            out.append(event)
        return out


# ---------------------------------------------------------------------------------------- dispatcher
async def test_dispatcher_replays_connected_and_ends_streams() -> None:
    parts = Parts()
    parts.emitter.connected({"model": "m"})
    late = parts.dispatcher.stream(maxsize=None, types=None, replay_connected=True)
    assert [e.type for e in parts.drain()] == ["realtime.connected"]
    parts.dispatcher.end()
    assert [e.type async for e in late] == ["realtime.connected"]
    assert [e async for e in parts.dispatcher.stream(maxsize=None, types=None, replay_connected=True)] == []


async def test_handlers_run_in_order_and_survive_their_own_errors() -> None:
    parts = Parts()
    seen: list[str] = []

    def boom(event: RealtimeEvent) -> None:
        raise ValueError("handler bug")

    async def record(event: RealtimeEvent) -> None:
        seen.append(event.type)

    parts.dispatcher.on(RealtimeEvent, boom)
    parts.dispatcher.on(RealtimeErrorEvent, record)
    parts.emitter.error("one")
    parts.emitter.error("two")
    parts.dispatcher.end()
    await parts.dispatcher.drain_handlers(5)
    assert seen == ["realtime.error", "realtime.error"]


# ---------------------------------------------------------------------------------------- tool runner
async def test_tool_batch_sends_results_together_and_skips_cancelled_calls() -> None:
    parts = Parts()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "late"

    def add(a: int, b: int) -> int:
        return a + b

    sent: list[list[ToolResult]] = []

    async def wait_connected(operation: str) -> None:
        return None

    async def send(results: list[ToolResult]) -> None:
        sent.append(results)

    runner = ToolBatchRunner(
        tools=ToolRegistry([slow, add]),
        timeout=30,
        emitter=parts.emitter,
        spawn=parts.spawn,
        wait_connected=wait_connected,
        send_results=send,
    )
    batch = runner.start([ToolCall("c1", "slow", {}), ToolCall("c2", "add", '{"a": 2, "b": 3}')])
    assert batch is not None and runner.running
    runner.cancel(["c1"])
    await asyncio.wait_for(batch, 5)
    assert [[r.call_id for r in results] for results in sent] == [["c2"]]
    assert sent[0][0].output == 5
    finished = {e.call_id: e for e in parts.drain() if isinstance(e, RealtimeToolCallFinishedEvent)}
    assert finished["c1"].cancelled and not finished["c2"].cancelled
    assert not runner.running
    await parts.tasks.cancel_all()


async def test_a_tool_that_times_out_becomes_an_error_result() -> None:
    parts = Parts()

    async def never() -> None:
        await asyncio.Event().wait()

    sent: list[list[ToolResult]] = []

    async def ok(operation: str) -> None:
        return None

    async def send(results: list[ToolResult]) -> None:
        sent.append(results)

    runner = ToolBatchRunner(tools=ToolRegistry([never]), timeout=0.05, emitter=parts.emitter, spawn=parts.spawn, wait_connected=ok, send_results=send)
    batch = runner.start([ToolCall("c1", "never", {})])
    assert batch is not None
    await asyncio.wait_for(batch, 5)
    assert sent[0][0].timed_out and sent[0][0].error
    kinds = [type(e).__name__ for e in parts.drain()]
    assert kinds.count("RealtimeToolCallStartedEvent") == 1 and "RealtimeErrorEvent" in kinds
    assert not [e for e in parts.drain() if isinstance(e, RealtimeToolCallStartedEvent)]


# ---------------------------------------------------------------------------------------- reconnect runner
class Provider:
    def __init__(self, fail: int = 0, fatal: bool = False) -> None:
        self.fail = fail
        self.fatal = fatal
        self.attempts: list[ReconnectContext] = []
        self.audio: list[PcmData] = []
        self.released = 0

    async def reconnect(self, ctx: ReconnectContext) -> bool:
        self.attempts.append(ctx)
        if len(self.attempts) <= self.fail:
            raise ConnectionFailedError("still down", recoverable=not self.fatal)
        return True

    async def send_audio(self, pcm: PcmData, participant: Any) -> None:
        self.audio.append(pcm)

    async def release(self) -> None:
        self.released += 1


def runner(parts: Parts, provider: Provider, policy: ReconnectPolicy) -> tuple[ReconnectRunner, Lifecycle]:
    life = Lifecycle()
    life.move(SessionState.CONNECTING)
    life.move(SessionState.CONNECTED)
    return (
        ReconnectRunner(
            policy=policy,
            lifecycle=life,
            emitter=parts.emitter,
            history=parts.history,
            connect_timeout=5,
            reconnect=provider.reconnect,
            can_reconnect=lambda: True,
            send_audio=provider.send_audio,
            release=provider.release,
            spawn=parts.spawn,
        ),
        life,
    )


FAST = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02, jitter=0)


async def test_a_drop_is_reconnected_with_the_gap_replayed() -> None:
    parts, provider = Parts(), Provider(fail=1)
    rec, life = runner(parts, provider, FAST)
    rec.sent(PcmData.silence(40, 16000), None)  # unconfirmed when the connection dies
    rec.connection_lost(ConnectionFailedError("reset"), "reset")
    assert life.state is SessionState.RECONNECTING
    rec.gap.add(PcmData.silence(60, 16000), None)  # the app kept talking
    assert rec.task is not None
    await asyncio.wait_for(rec.task, 5)
    assert life.state is SessionState.CONNECTED and len(provider.attempts) == 2
    events = parts.drain()
    gone = [e for e in events if isinstance(e, RealtimeDisconnectedEvent)]
    back = [e for e in events if isinstance(e, RealtimeReconnectedEvent)]
    assert len(gone) == 1 and gone[0].will_reconnect and not gone[0].was_clean
    assert len(back) == 1 and back[0].attempts == 2 and back[0].replayed_audio_ms == pytest.approx(100)
    assert sum(p.duration_ms for p in provider.audio) == pytest.approx(100)


async def test_a_fatal_error_stops_retrying_and_reports_the_lost_audio() -> None:
    parts, provider = Parts(), Provider(fail=5, fatal=True)
    rec, life = runner(parts, provider, FAST)
    rec.connection_lost(ConnectionFailedError("reset"), "reset")
    rec.gap.add(PcmData.silence(60, 16000), None)
    assert rec.task is not None
    await asyncio.wait_for(rec.task, 5)
    assert life.state is SessionState.FAILED and len(provider.attempts) == 1 and provider.released == 1
    gone = [e for e in parts.drain() if isinstance(e, RealtimeDisconnectedEvent)]
    assert [g.will_reconnect for g in gone] == [True, False]
    assert gone[-1].lost_audio_ms == pytest.approx(60)
    assert parts.dispatcher.ended


async def test_an_unrecoverable_loss_fails_at_once() -> None:
    parts, provider = Parts(), Provider()
    rec, life = runner(parts, provider, FAST)
    rec.connection_lost(ConnectionFailedError("bad key", recoverable=False), "auth")
    assert life.state is SessionState.FAILED and rec.task is None
    await parts.tasks.cancel_all()
    kinds = [type(e).__name__ for e in parts.drain()]
    assert kinds == ["RealtimeErrorEvent", "RealtimeDisconnectedEvent"]
    assert provider.attempts == []


async def test_a_planned_renewal_does_not_replay_what_the_old_connection_got() -> None:
    parts, provider = Parts(), Provider()
    rec, _life = runner(parts, provider, FAST)
    rec.sent(PcmData.silence(40, 16000), None)
    rec.renew("go_away")
    rec.unsent_audio(PcmData.silence(20, 16000), None)  # the old transport closed with this queued
    assert rec.task is not None
    await asyncio.wait_for(rec.task, 5)
    back = [e for e in parts.drain() if isinstance(e, RealtimeReconnectedEvent)]
    assert back[0].planned and back[0].replayed_audio_ms == pytest.approx(20)
    assert provider.attempts[0].planned


# ---------------------------------------------------------------------------------------- tasks
async def test_task_set_reports_failures_and_cancels_everything() -> None:
    parts = Parts()

    async def fail() -> None:
        raise KeyError("oops")

    async def forever() -> None:
        await asyncio.Event().wait()

    failing = parts.tasks.spawn(fail(), name="f")
    parts.tasks.spawn(forever(), name="forever")
    await asyncio.wait({failing})
    assert len(parts.failures) == 1 and isinstance(parts.failures[0], KeyError)
    assert len(parts.tasks) == 1
    await parts.tasks.cancel_all()
    assert parts.tasks.pending() == []
