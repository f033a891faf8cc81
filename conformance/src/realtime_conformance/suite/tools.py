"""Tools: a call runs and the reply continues, its result goes back under its own id, parallel calls get one
reply, failures are survived (contract section 6)."""

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

from ..clauses import clause, expect
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


WEATHER_ID = "call_conformance_weather"
TIME_ID = "call_conformance_time"


class ToolTests(SuiteBase):
    async def _continuations(self, h: Harness, after: int) -> list[str]:
        """Response ids of replies that finished after index ``after``."""
        if h.caps.audio_output:
            return [e.response_id for e in h.of(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, after=after)]
        return [e.response_id for e in h.of(RealtimeResponseEvent, lambda e: e.is_complete, after=after)]

    @clause("call_and_continue", promise="6.1", requires=("tools",), offline_only=True)
    async def test_call_and_continue(self, harness: HarnessFactory) -> None:
        """A tool call runs with its arguments, its result is reported, and the reply continues."""
        h = await harness(scenario(tool_turn(ToolCallSpec(name="get_weather", arguments={"city": "Paris"}))), tools=[get_weather])
        await self.take_turn(h)
        finished = await h.wait_for(RealtimeToolCallFinishedEvent)
        started = h.of(RealtimeToolCallStartedEvent, lambda e: e.call_id == finished.call_id)
        expect(len(started) == 1 and started[0].arguments == {"city": "Paris"},
               "one started event with arguments {'city': 'Paris'}", [s.arguments for s in started])  # fmt: skip
        expect(finished.error is None and finished.result == WEATHER, f"the result {WEATHER}",
               f"result {finished.result!r}, error {finished.error!r}")  # fmt: skip
        await self.wait_reply(h, after=h.index_of(finished))

    @clause("result_under_call_id", promise="6.1", requires=("tools",), observes=("tool_result",), offline_only=True)
    async def test_result_under_call_id(self, harness: HarnessFactory) -> None:
        """Each tool result goes back to the provider under the id of the call it answers."""
        calls = [ToolCallSpec(name="get_weather", arguments={"city": "Paris"}, call_id=WEATHER_ID)]
        parallel = self.requirements.satisfied("parallel_tool_calls")
        if parallel:
            calls.append(ToolCallSpec(name="get_time", arguments={"zone": "CET"}, call_id=TIME_ID))
        h = await harness(scenario(tool_turn(*calls)), tools=[get_weather, get_time])
        await self.take_turn(h)
        await h.wait_fact("tool_result", count=len(calls))
        results = {str(f.data.get("call_id")): f.data for f in h.facts("tool_result")}
        wanted = {WEATHER_ID: "sunny", TIME_ID: "12:00 CET"} if parallel else {WEATHER_ID: "sunny"}
        expect(set(results) == set(wanted), f"results under the call ids {sorted(wanted)}", f"under {sorted(results)}")
        for call_id, content in wanted.items():
            data = results[call_id]
            expect(data.get("pending") is not False, f"{call_id} answered while the provider awaited it", "an unexpected id")
            expect(content in _output_text(data), f"{call_id}'s own result (containing {content!r})", _output_text(data))

    @clause("parallel_calls", promise="6.2", requires=("tools", "parallel_tool_calls"),
            observes=("tool_result", "response_requested"), offline_only=True)  # fmt: skip
    async def test_parallel_calls(self, harness: HarnessFactory) -> None:
        """Several calls in one response are all answered together, then exactly one continuation is requested
        and exactly one continuation reply follows."""
        turn = tool_turn(
            ToolCallSpec(name="get_weather", arguments={"city": "Paris"}),
            ToolCallSpec(name="get_time", arguments={"zone": "CET"}),
        )
        h = await harness(scenario(turn), tools=[get_weather, get_time])
        emulator = h.emulator_or_skip()
        await self.take_turn(h)
        await h.wait_for(RealtimeToolCallFinishedEvent, count=2)
        await h.wait_fact("tool_result", count=2)
        last_finished = h.of(RealtimeToolCallFinishedEvent)[-1]
        after = h.index_of(last_finished)
        await self.wait_reply(h, after=after)
        await h.barrier()  # everything the session sent has reached the provider
        kinds = [m.kind for m in emulator.received if m.kind.startswith("fact:")]
        results = [i for i, k in enumerate(kinds) if k == "fact:tool_result"]
        requests = [i for i, k in enumerate(kinds) if k == "fact:response_requested" and i > results[0]]
        expect(len(requests) <= 1, "one continuation request for the batch", f"{len(requests)}")
        expect(all(i > results[-1] for i in requests), "the continuation requested after all results",
               "it was requested between them")  # fmt: skip
        errors = [str(e.error) for e in h.of(RealtimeErrorEvent, after=after)]
        expect(not errors, "no error event", errors)
        continuations = await self._continuations(h, after)
        expect(len(continuations) == 1, "one continuation reply", f"{len(continuations)}: {continuations}")

    @clause("raising_tool", promise="6.3", requires=("tools",), observes=("tool_result",), offline_only=True)
    async def test_raising_tool(self, harness: HarnessFactory) -> None:
        """A tool that raises is reported (finished and error events), the model is told, the session goes on."""
        h = await harness(scenario(tool_turn(ToolCallSpec(name="broken_tool", arguments={"city": "Paris"}))), tools=[broken_tool])
        await self.take_turn(h)
        finished = await h.wait_for(RealtimeToolCallFinishedEvent)
        expect(finished.error and "weather service down" in finished.error, "the tool's error in the finished event",
               repr(finished.error))  # fmt: skip
        error = await h.wait_for(RealtimeErrorEvent, lambda e: isinstance(e.error, ToolExecutionError))
        expect(error.context, "an error event with a context", repr(error.context))
        fact = await h.wait_fact("tool_result")
        expect("weather service down" in _output_text(fact.data), "the model told about the failure",
               _output_text(fact.data))  # fmt: skip
        await self.wait_reply(h, after=h.index_of(finished))
        expect(h.session.connected, "the session still connected", h.session.state)

    @clause("slow_tool", promise="6.3", requires=("tools",), observes=("tool_result",), offline_only=True)
    async def test_slow_tool(self, harness: HarnessFactory) -> None:
        """A tool that exceeds its timeout is reported as timed out, the model is told, the session goes on."""
        h = await harness(
            scenario(tool_turn(ToolCallSpec(name="slow_tool", arguments={"city": "Paris"}))),
            tools=[slow_tool],
            tool_timeout=0.3,
        )
        await self.take_turn(h)
        finished = await h.wait_for(RealtimeToolCallFinishedEvent)
        expect(finished.timed_out and finished.error, "a finished event saying it timed out",
               f"timed_out={finished.timed_out}, error={finished.error!r}")  # fmt: skip
        await h.wait_fact("tool_result")
        await self.wait_reply(h, after=h.index_of(finished))
        expect(h.session.connected, "the session still connected", h.session.state)
