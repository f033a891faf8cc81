"""Lifecycle: connect, properties, close, leaks, identity, independent sessions (contract section 1)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from realtime_core import (
    ConnectionFailedError,
    PcmData,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputEvent,
    RealtimeConnectedEvent,
    RealtimeDisconnectedEvent,
    RealtimeReconnectedEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeToolCallStartedEvent,
    SessionClosedError,
)
from realtime_core.emulator import Fault, ToolCallSpec
from realtime_core.testing import pending_tasks

from ..clauses import clause, expect
from ..fixtures import HarnessFactory
from ..harness import Harness
from .base import SuiteBase, reply_turn, scenario, tool_turn
from .tools import get_weather


def describe_tasks(tasks: set[asyncio.Task[Any]]) -> str:
    names = []
    for task in tasks:
        coro = task.get_coro()
        where = getattr(coro, "__qualname__", type(coro).__name__)
        names.append(f"{task.get_name()} ({where})")
    return ", ".join(sorted(names))


class LifecycleTests(SuiteBase):
    @clause("connected_first", promise="1.1")
    async def test_connected_first(self, harness: HarnessFactory) -> None:
        """Exactly one connected event, before any other event of the session, carrying its capabilities."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        first = h.events[0]
        expect(isinstance(first, RealtimeConnectedEvent), "the connected event first", f"{first.type} first")
        count = len(h.of(RealtimeConnectedEvent))
        expect(count == 1, "one connected event", f"{count}")
        caps = first.capabilities if isinstance(first, RealtimeConnectedEvent) else None
        expect(caps == h.session.capabilities, "the connected event to carry the session's capabilities", caps)

    @clause("properties", promise="1.1")
    async def test_properties(self, harness: HarnessFactory) -> None:
        """connected, session_id (uuid4), provider_name, fps and epoch are right before and after connect."""
        h = await harness(connect=False, fps=2)
        session = h.session
        expect(session.connected is False, "connected=False before connect()", session.connected)
        expect(_is_uuid4(session.session_id), "session_id to be a uuid4", repr(session.session_id))
        expect(session.provider_name == self.spec().name, f"provider_name {self.spec().name!r}", repr(session.provider_name))
        expect(session.fps == 2.0, "fps=2.0 as configured", session.fps)
        expect(session.epoch == 0, "epoch 0 before any interrupt", session.epoch)
        await h.connect()
        expect(session.connected is True, "connected=True after connect()", session.connected)
        await h.wait_for(RealtimeConnectedEvent)
        wrong = [e.type for e in h.events if e.session_id != session.session_id or e.provider != session.provider_name]
        expect(not wrong, "every event stamped with the session's id and provider name", f"mis-stamped events: {wrong}")

    @clause("close_clean_once", promise="1.2")
    async def test_close_clean_once(self, harness: HarnessFactory) -> None:
        """close() emits exactly one disconnected event, was_clean=True, and nothing after it; the event stream ends."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        await h.close()
        disconnects = h.of(RealtimeDisconnectedEvent)
        expect(len(disconnects) == 1, "one disconnected event after close()", f"{len(disconnects)}")
        expect(disconnects[0].was_clean is True, "was_clean=True", f"was_clean={disconnects[0].was_clean}")
        after = [e.type for e in h.events[h.index_of(disconnects[0]) + 1 :]]
        expect(not after, "no event after the disconnected event", f"events after it: {after}")
        expect(h.ended.is_set(), "the event stream to end after close()", "it did not end")
        expect(h.session.connected is False, "connected=False after close()", h.session.connected)

    @clause("close_idempotent", promise="1.2")
    async def test_close_idempotent(self, harness: HarnessFactory) -> None:
        """close() can be called again, and concurrently, without errors or extra events."""
        h = await harness()
        await asyncio.gather(h.session.close(), h.session.close())
        await h.session.close()
        await h.close()
        count = len(h.of(RealtimeDisconnectedEvent))
        expect(count == 1, "one disconnected event for three close() calls", f"{count}")

    @clause("context_manager", promise="1.2")
    async def test_context_manager(self, harness: HarnessFactory) -> None:
        """``async with session`` connects and closes, with one clean disconnected event."""
        h = await harness(connect=False)
        async with h.session as session:
            expect(session.connected, "connected inside `async with`", session.state)
        expect(not h.session.connected, "not connected after `async with`", h.session.state)
        await h.close()
        count = len(h.of(RealtimeDisconnectedEvent))
        expect(count == 1, "one disconnected event", f"{count}")

    @clause("no_tasks_left", promise="1.3")
    async def test_no_tasks_left(self, harness: HarnessFactory) -> None:
        """After close() no task the session owns is still running."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        await h.close()
        leftover = pending_tasks(h.session)
        expect(not leftover, "no session task after close()", f"still running: {[t.get_name() for t in leftover]}")

    @clause("no_plugin_tasks_left", promise="1.3", offline_only=True)
    async def test_no_plugin_tasks_left(self, harness: HarnessFactory) -> None:
        """After close() no task is left running at all, including tasks the plugin started itself (every task
        of the event loop is compared before and after, once the emulator stopped)."""
        before = asyncio.all_tasks()
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        await h.close()
        await h.aclose()  # the emulator's and the proxy's tasks end here
        leftover = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()}
        if leftover:  # a task may be finishing its last step (a socket's closing handshake): give it a moment
            await asyncio.wait(leftover, timeout=1.0)
            leftover = {t for t in leftover if not t.done()}
        expect(not leftover, "no task left running after close()", f"still running: {describe_tasks(leftover)}")

    @clause("provider_told_on_close", promise="1.3", observes=("client_closed",), offline_only=True)
    async def test_provider_told_on_close(self, harness: HarnessFactory) -> None:
        """close() tells the provider where the protocol has a closing message, and closes the socket: the
        provider sees the client close it, and no connection of the session stays open."""
        h = await harness(scenario(reply_turn()))
        emulator = h.emulator_or_skip()
        await self.take_turn(h)
        await self.wait_reply(h)
        await h.close()
        await h.wait_fact("client_closed", connection=1)
        if emulator.can_observe("session_finished"):
            told = h.facts("session_finished", connection=1)
            expect(told, "the protocol's closing message before the socket closed", "the socket closed without it")
        await h.until(lambda: not emulator.open_connections, "every connection of the emulator to close")

    @clause("closed_session_refuses", promise="1.5", offline_only=True)
    async def test_closed_session_refuses(self, harness: HarnessFactory) -> None:
        """Sending on a closed session raises SessionClosedError, and so does connecting it again."""
        h = await harness()
        await h.close()
        for what, call in (
            ("simple_audio_response", lambda: h.session.simple_audio_response(PcmData.silence(20, 16000))),
            ("connect", h.session.connect),
        ):
            try:
                await call()
            except SessionClosedError:
                continue
            except Exception as exc:
                expect(False, f"{what}() on a closed session to raise SessionClosedError", f"{type(exc).__name__}: {exc}")
            expect(False, f"{what}() on a closed session to raise SessionClosedError", "it returned normally")

    @clause("dead_port_fails_fast", promise="1.5", offline_only=True)
    async def test_dead_port_fails_fast(self, harness: HarnessFactory) -> None:
        """Connecting to a port nobody listens on fails with ConnectionFailedError within connect_timeout."""
        h = await harness(connect=False, connect_timeout=3.0)
        emulator = h.emulator_or_skip()
        await emulator.stop()  # its options now point at a dead port
        session = self.make_session(emulator, connect_timeout=3.0)
        started = time.monotonic()
        try:
            await session.connect()
        except ConnectionFailedError:
            pass
        except Exception as exc:
            expect(False, "ConnectionFailedError", f"{type(exc).__name__}: {exc}")
        else:
            expect(False, "ConnectionFailedError", "connect() succeeded against a dead port")
        finally:
            await session.close()
        took = time.monotonic() - started
        expect(took < 6.0, "failure within the 3 s connect_timeout (+3 s slack)", f"{took:.1f} s")
        expect(session.connected is False, "connected=False", session.connected)

    @clause("session_id_stable", promise="1.6", offline_only=True)
    async def test_session_id_stable(self, harness: HarnessFactory) -> None:
        """session_id is the same uuid4 before connect, after it and after a reconnection; every event carries it."""
        reconnects = self.requirements.satisfied("reconnection")
        faults = [Fault(kind="close", at_turn=0, phase="after_reply")] if reconnects else []
        h = await harness(scenario(reply_turn(), reply_turn("Again."), faults=faults), connect=False)
        first = h.session.session_id
        expect(_is_uuid4(first), "a uuid4 before connect()", repr(first))
        await h.connect()
        expect(h.session.session_id == first, f"{first} after connect()", h.session.session_id)
        await self.take_turn(h)
        await self.wait_reply(h)
        if reconnects:
            await h.wait_for(RealtimeReconnectedEvent, timeout=h.timeout * 2)
            expect(h.session.session_id == first, f"{first} after the reconnection", h.session.session_id)
        await h.close()
        expect(h.session.session_id == first, f"{first} after close()", h.session.session_id)
        stamped = {e.session_id for e in h.events}
        expect(stamped == {first}, f"every event stamped {first}", f"events stamped {sorted(stamped)}")

    async def _spoken_reply(self, h: Harness) -> None:
        """The session's reply (after its tool call, if it makes one)."""
        after = 0
        if len(h.session.tools):
            after = h.index_of(await h.wait_for(RealtimeToolCallFinishedEvent)) + 1
        await self.wait_reply(h, after=after)

    @clause("sessions_independent", promise="1.7", offline_only=True)
    async def test_sessions_independent(self, harness: HarnessFactory) -> None:
        """Two sessions of the same provider at once never share state: each gets only its own replies, tool
        calls and events."""
        tools = self.requirements.satisfied("tools")
        a_turn = reply_turn("Reply for session A.")
        a_options: dict[str, Any] = {"instructions": "You are session A."}
        if tools:
            a_turn = tool_turn(ToolCallSpec(name="get_weather", arguments={"city": "Paris"}), after="Reply for session A.")
            a_options["tools"] = [get_weather]
        b_turn = reply_turn("Reply for session B.", audio_ms=400)
        a = await harness(scenario(a_turn), **a_options)
        b = await harness(scenario(b_turn), instructions="You are session B.")
        await asyncio.gather(self.take_turn(a), self.take_turn(b))
        await asyncio.gather(self._spoken_reply(a), self._spoken_reply(b))
        for h, name in ((a, "A"), (b, "B")):
            foreign = [e.type for e in h.events if e.session_id != h.session.session_id]
            expect(not foreign, f"session {name} to get only its own events", f"events of another session: {foreign[:5]}")
            spoken = sorted({e.response_id for e in h.of(RealtimeAudioOutputEvent)})
            if h.caps.audio_output:
                expect(len(spoken) == 1, f"one spoken reply in session {name}", f"{len(spoken)}: {spoken}")
        if tools:
            a_calls = len(a.of(RealtimeToolCallStartedEvent))
            b_calls = len(b.of(RealtimeToolCallStartedEvent))
            expect(a_calls == 1 and b_calls == 0, "one tool call in session A, none in session B",
                   f"A: {a_calls}, B: {b_calls}")  # fmt: skip
        if a.caps.agent_transcript != "none" and a.caps.audio_output:
            for h, name in ((a, "A"), (b, "B")):
                finals = [e.text for e in h.of(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")]
                expect(finals == [f"Reply for session {name}."], f"session {name}'s own reply transcript", finals)


def _is_uuid4(value: object) -> bool:
    try:
        return isinstance(value, str) and uuid.UUID(value).version == 4
    except ValueError:
        return False
