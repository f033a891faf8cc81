"""Observers: a plugin implementing only event hooks sees every event the app sees, in order (promise 11.1)."""

from __future__ import annotations

from typing import Any

from realtime_core import RealtimeEvent, hookimpl, register_plugin, unregister_plugin

from ..clauses import clause, expect
from ..fixtures import HarnessFactory
from .base import SuiteBase, reply_turn, scenario


class _Observer:
    def __init__(self) -> None:
        self.events: list[RealtimeEvent] = []
        self.session_id: str | None = None

    @hookimpl
    def realtime_on_event(self, session: Any, event: RealtimeEvent) -> None:
        if session.session_id == self.session_id:
            self.events.append(event)


class ObserverTests(SuiteBase):
    @clause("sees_everything", promise="11.1")
    async def test_sees_everything(self, harness: HarnessFactory) -> None:
        """An observer registered through the plugin manager receives every event the app receives, in order."""
        observer = _Observer()
        name = register_plugin(observer, name=f"conformance-observer-{id(observer)}")
        try:
            h = await harness(scenario(reply_turn()), connect=False)
            observer.session_id = h.session.session_id
            await h.connect()
            await self.take_turn(h)
            await self.wait_reply(h)
            await h.close()
        finally:
            unregister_plugin(name)
        seen = iter(observer.events)
        missing = [e.type for e in h.events if not any(o is e for o in seen)]
        expect(not missing, "the observer to see every event, in order", f"missed or out of order: {missing[:5]}")
