"""pluggy wrappers are honoured: a wrapper really runs around the other implementations."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import realtime_core
from realtime_core import PcmData, RealtimeAudioOutputEvent, hookimpl, register_plugin, unregister_plugin
from realtime_core.testing import FakeRealtime


class NewStyleWrapper:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl(wrapper=True)
    def realtime_on_audio_output(self, event: RealtimeAudioOutputEvent) -> Generator[None, Any, Any]:
        self.calls.append("before")
        result = yield
        self.calls.append("after")
        return result

    @hookimpl(wrapper=True)
    def realtime_text_input(self, text: str) -> Generator[None, Any, Any]:
        result = yield  # the plain implementation's replacement text
        return (result or text) + "!"


class OldStyleWrapper:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(hookwrapper=True)
    def realtime_on_event(self, event: realtime_core.RealtimeEvent) -> Generator[None, Any, None]:
        self.seen.append(event.type)
        yield


class Plain:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    @hookimpl
    def realtime_on_audio_output(self) -> None:
        self.log.append("plain")

    @hookimpl
    def realtime_text_input(self, text: str) -> str:
        return text.upper()


async def test_new_style_wrappers_wrap_event_and_method_hooks() -> None:
    wrapper = NewStyleWrapper()
    names = [register_plugin(wrapper, name="new-wrapper"), register_plugin(Plain(wrapper.calls), name="plain")]
    try:
        session = FakeRealtime()
        await session.connect()
        session._emit_audio_output_event(PcmData.silence(20, 24000), "r1")
        await session.simple_response("hello")
        await session.close()
    finally:
        for name in names:
            unregister_plugin(name)
    assert wrapper.calls[:3] == ["before", "plain", "after"]
    assert session.log.texts == ["HELLO!"]


async def test_old_style_hookwrappers_run() -> None:
    wrapper = OldStyleWrapper()
    name = register_plugin(wrapper, name="old-wrapper")
    try:
        session = FakeRealtime()
        events = session.events()
        await session.connect()
        await session.close()
    finally:
        unregister_plugin(name)
    delivered = [e.type async for e in events]
    assert wrapper.seen == delivered and delivered[0] == "realtime.connected"


async def test_a_failing_wrapper_never_breaks_the_session() -> None:
    class Broken:
        @hookimpl(wrapper=True)
        def realtime_on_event(self) -> Generator[None, Any, Any]:
            raise RuntimeError("buggy observer")
            yield  # pragma: no cover

    name = register_plugin(Broken(), name="broken-wrapper")
    try:
        session = FakeRealtime()
        events = session.events()
        await session.connect()
        await session.close()
    finally:
        unregister_plugin(name)
    assert [e.type async for e in events] == ["realtime.connected", "realtime.disconnected"]
