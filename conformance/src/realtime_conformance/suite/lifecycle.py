"""Lifecycle: connect, properties, close, dead ports."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from realtime_core import (
    ConnectionFailedError,
    PcmData,
    RealtimeConnectedEvent,
    RealtimeDisconnectedEvent,
    SessionClosedError,
)
from realtime_core.testing import pending_tasks

from ..clauses import clause
from ..fixtures import HarnessFactory
from .base import SuiteBase, reply_turn, scenario


class LifecycleTests(SuiteBase):
    @clause("connected_first")
    async def test_connected_first(self, harness: HarnessFactory) -> None:
        """Exactly one connected event, before any other event of the session."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        assert isinstance(h.events[0], RealtimeConnectedEvent), f"first event was {h.events[0].type}"
        assert len(h.of(RealtimeConnectedEvent)) == 1
        assert h.events[0].capabilities == h.session.capabilities

    @clause("properties")
    async def test_properties(self, harness: HarnessFactory) -> None:
        """connected, session_id (uuid4), provider_name, fps and epoch are right before and after connect."""
        h = await harness(connect=False, fps=2)
        session = h.session
        assert session.connected is False
        assert uuid.UUID(session.session_id).version == 4
        assert session.provider_name == self.spec().name
        assert session.fps == 2.0
        assert session.epoch == 0
        await h.connect()
        assert session.connected is True
        assert all(e.session_id == session.session_id for e in h.events)
        assert all(e.provider == session.provider_name for e in h.events)

    @clause("close_clean_once")
    async def test_close_clean_once(self, harness: HarnessFactory) -> None:
        """close() emits exactly one disconnected event, was_clean=True, and nothing after it."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        await h.close()
        disconnects = h.of(RealtimeDisconnectedEvent)
        assert len(disconnects) == 1, f"{len(disconnects)} disconnected events"
        assert disconnects[0].was_clean is True
        assert h.events[-1] is disconnects[0], f"events after disconnected: {[e.type for e in h.events[h.index_of(disconnects[0]) + 1:]]}"
        assert h.ended.is_set(), "the event stream did not end after close()"
        assert h.session.connected is False

    @clause("close_idempotent")
    async def test_close_idempotent(self, harness: HarnessFactory) -> None:
        """close() can be called again, and concurrently, without errors or extra events."""
        h = await harness()
        await asyncio.gather(h.session.close(), h.session.close())
        await h.session.close()
        await h.close()
        assert len(h.of(RealtimeDisconnectedEvent)) == 1

    @clause("no_tasks_left")
    async def test_no_tasks_left(self, harness: HarnessFactory) -> None:
        """After close() no task created by the session is still running."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        await h.close()
        leftover = pending_tasks(h.session)
        assert not leftover, f"tasks still running after close(): {[t.get_name() for t in leftover]}"

    @clause("closed_session_refuses", offline_only=True)
    async def test_closed_session_refuses(self, harness: HarnessFactory) -> None:
        """Sending on a closed session raises SessionClosedError, and so does connecting it again."""
        h = await harness()
        await h.close()
        with pytest.raises(SessionClosedError):
            await h.session.simple_audio_response(PcmData.silence(20, 16000))
        with pytest.raises(SessionClosedError):
            await h.session.connect()

    @clause("dead_port_fails_fast", offline_only=True)
    async def test_dead_port_fails_fast(self, harness: HarnessFactory) -> None:
        """Connecting to a port nobody listens on fails with ConnectionFailedError in bounded time."""
        h = await harness(connect=False, connect_timeout=3.0)
        assert h.emulator is not None
        await h.emulator.stop()  # its options now point at a dead port
        session = self.make_session(h.emulator, connect_timeout=3.0)
        started = time.monotonic()
        with pytest.raises(ConnectionFailedError):
            await session.connect()
        assert time.monotonic() - started < 6.0
        assert session.connected is False
        await session.close()

    @clause("context_manager")
    async def test_context_manager(self, harness: HarnessFactory) -> None:
        """``async with session`` connects and closes."""
        h = await harness(connect=False)
        async with h.session as session:
            assert session.connected
        assert not h.session.connected
        await h.close()
        assert len(h.of(RealtimeDisconnectedEvent)) == 1
