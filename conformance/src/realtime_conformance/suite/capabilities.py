"""Capabilities: unsupported operations are refused before anything is sent; declarations are consistent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from realtime_core import Realtime, RealtimeConnectedEvent, UnsupportedCapability
from realtime_core.emulator import Scenario

from ..clauses import clause
from ..fixtures import HarnessFactory
from ..harness import Harness
from .base import SuiteBase
from .inputs import PatternTrack


def _ops() -> dict[str, Callable[[Realtime], Awaitable[Any]]]:
    return {
        "text_input": lambda s: s.simple_response("hello"),
        "say": lambda s: s.say("hello"),
        "video_input": lambda s: s.watch_video_track(PatternTrack()),
        "manual_turns": lambda s: s.end_user_turn(),
        "interruption": lambda s: s.interrupt(),
    }


def _sent(h: Harness) -> int:
    return len(h.emulator.received) if h.emulator is not None else 0


def tool_stub(x: int) -> int:
    """A tool used only to check that tools are refused."""
    return x


class CapabilityTests(SuiteBase):
    @clause("unsupported_refused", offline_only=True)
    async def test_unsupported_refused(self, harness: HarnessFactory) -> None:
        """Every operation declared unsupported raises UnsupportedCapability and sends nothing."""
        h = await harness()
        await h.barrier()
        # how many messages a barrier itself produces with this plugin (it may chunk audio its own way)
        before = _sent(h)
        await h.barrier()
        barrier_cost = _sent(h) - before
        refused = 0
        for flag, op in _ops().items():
            if h.caps.supports(flag):
                continue
            before = _sent(h)
            with pytest.raises(UnsupportedCapability) as info:
                await op(h.session)
            assert info.value.capability == flag
            await h.barrier()
            assert _sent(h) <= before + barrier_cost, f"{flag}: something was sent after refusing"
            refused += 1
        assert h.session.connected
        if not refused:
            pytest.skip("this configuration supports every guarded operation")

    @clause("tools_refused_before_connect", offline_only=True)
    async def test_tools_refused_before_connect(self, harness: HarnessFactory) -> None:
        """Without tool support, a session configured with tools fails to connect before anything is sent."""
        h = await harness(Scenario(), connect=False, tools=[tool_stub])
        if h.caps.tools:
            pytest.skip("tools are supported")
        with pytest.raises(UnsupportedCapability):
            await h.connect()
        assert h.emulator is not None and h.emulator.connections == 0

    @clause("declaration_consistent")
    async def test_declaration_consistent(self, harness: HarnessFactory) -> None:
        """The connected event carries the session's capabilities; rates and limits are sane."""
        h = await harness()
        caps = h.caps
        connected = await h.wait_for(RealtimeConnectedEvent)
        assert connected.capabilities == caps
        assert caps.transport in caps.transports
        assert caps.input_sample_rate >= 8000 and caps.output_sample_rate >= 8000
        if caps.video_input:
            assert caps.video_max_fps > 0
        assert caps.audio_output or caps.text_output, "neither audio nor text output"
