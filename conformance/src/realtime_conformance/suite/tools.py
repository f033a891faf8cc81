"""Tools: a call runs and the reply continues; parallel calls get one reply; failures are survivable."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from realtime_core import (
    RealtimeAudioOutputDoneEvent,
    RealtimeErrorEvent,
    RealtimeResponseEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeToolCallStartedEvent,
    ToolExecutionError,
)
from realtime_core.emulator import ToolCallSpec

from ..clauses import clause
from ..fixtures import HarnessFactory
from ..harness import Harness
from .base import SuiteBase, scenario, tool_turn

WEATHER = {"city": "Paris", "sky": "sunny", "celsius": 21}


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    :param city: the city name
    """
    return {**WEATHER, "city": city}


async def get_time(zone: str = "UTC") -> str:
    """The current time in a time zone."""
    return f"12:00 {zone}"


def broken_tool(city: str) -> str:
    """A tool that always fails."""
    raise RuntimeError(f"weather service down for {city}")


async def slow_tool(city: str) -> str:
    """A tool that takes too long."""
    await asyncio.sleep(30)
    return "too late"


def _output_text(data: dict[str, Any]) -> str:
    out = data.get("output")
    return out if isinstance(out, str) else json.dumps(out)


class ToolTests(SuiteBase):
    async def _continuations(self, h: Harness, after: int) -> list[str]:
        """Response ids of replies that finished after index ``after``."""
        if h.caps.audio_output:
            return [e.response_id for e in h.of(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, after=after)]
        return [e.response_id for e in h.of(RealtimeResponseEvent, lambda e: e.is_complete, after=after)]

    @clause("call_runs_and_reply_continues", requires=("tools",), offline_only=True)
    async def test_call_runs_and_reply_continues(self, harness: HarnessFactory) -> None:
        """A tool call runs with its arguments, the result reaches the provider, and the reply continues."""
        h = await harness(scenario(tool_turn(ToolCallSpec(name="get_weather", arguments={"city": "Paris"}))), tools=[get_weather])
        await self.take_turn(h)
        finished = await h.wait_for(RealtimeToolCallFinishedEvent)
        started = h.of(RealtimeToolCallStartedEvent, lambda e: e.call_id == finished.call_id)
        assert len(started) == 1 and started[0].arguments == {"city": "Paris"}
        assert finished.error is None and finished.result == WEATHER
        assert h.emulator is not None
        fact = await h.emulator.wait_fact("tool_result", timeout=h.timeout)
        assert "sunny" in _output_text(fact.data)
        after = h.index_of(finished)
        await self.wait_reply(h, after=after)

    @clause("parallel_calls_one_reply", requires=("tools", "parallel_tool_calls"), offline_only=True)
    async def test_parallel_calls_one_reply(self, harness: HarnessFactory) -> None:
        """Several calls in one response are all answered, then exactly one continuation reply follows."""
        turn = tool_turn(
            ToolCallSpec(name="get_weather", arguments={"city": "Paris"}),
            ToolCallSpec(name="get_time", arguments={"zone": "CET"}),
        )
        h = await harness(scenario(turn), tools=[get_weather, get_time])
        await self.take_turn(h)
        await h.wait_for(RealtimeToolCallFinishedEvent, count=2)
        assert h.emulator is not None
        await h.emulator.wait_for(lambda m: m.kind == "fact:tool_result", count=2, timeout=h.timeout)
        last_finished = h.of(RealtimeToolCallFinishedEvent)[-1]
        after = h.index_of(last_finished)
        await self.wait_reply(h, after=after)
        await h.barrier()  # everything the session sent has reached the provider
        kinds = [m.kind for m in h.emulator.received if m.kind.startswith("fact:")]
        results = [i for i, k in enumerate(kinds) if k == "fact:tool_result"]
        requests = [i for i, k in enumerate(kinds) if k == "fact:response_requested" and i > results[0]]
        assert len(requests) <= 1, f"{len(requests)} continuation requests for one batch of tool results"
        assert all(i > results[-1] for i in requests), "the continuation was requested before all results were sent"
        assert not h.of(RealtimeErrorEvent, after=after), [str(e.error) for e in h.of(RealtimeErrorEvent, after=after)]
        continuations = await self._continuations(h, after)
        assert len(continuations) == 1, f"expected exactly one continuation reply, got {continuations}"

    @clause("raising_tool_survives", requires=("tools",), offline_only=True)
    async def test_raising_tool_survives(self, harness: HarnessFactory) -> None:
        """A tool that raises is reported (finished event and error event), the model is told, and the
        session goes on."""
        h = await harness(scenario(tool_turn(ToolCallSpec(name="broken_tool", arguments={"city": "Paris"}))), tools=[broken_tool])
        await self.take_turn(h)
        finished = await h.wait_for(RealtimeToolCallFinishedEvent)
        assert finished.error and "weather service down" in finished.error
        error = await h.wait_for(RealtimeErrorEvent, lambda e: isinstance(e.error, ToolExecutionError))
        assert error.context
        assert h.emulator is not None
        fact = await h.emulator.wait_fact("tool_result", timeout=h.timeout)
        assert "weather service down" in _output_text(fact.data)
        await self.wait_reply(h, after=h.index_of(finished))
        assert h.session.connected

    @clause("timing_out_tool_survives", requires=("tools",), offline_only=True)
    async def test_timing_out_tool_survives(self, harness: HarnessFactory) -> None:
        """A tool that exceeds its timeout is reported as timed out, the model is told, the session goes on."""
        h = await harness(
            scenario(tool_turn(ToolCallSpec(name="slow_tool", arguments={"city": "Paris"}))),
            tools=[slow_tool],
            tool_timeout=0.3,
        )
        await self.take_turn(h)
        finished = await h.wait_for(RealtimeToolCallFinishedEvent)
        assert finished.timed_out and finished.error
        assert h.emulator is not None
        await h.emulator.wait_fact("tool_result", timeout=h.timeout)
        await self.wait_reply(h, after=h.index_of(finished))
        assert h.session.connected
