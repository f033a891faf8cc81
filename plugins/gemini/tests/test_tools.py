"""Function calling: declarations, ids echoed, parallel calls, errors, timeouts, schema dialects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from realtime_core import (
    RealtimeAudioOutputDoneEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeToolCallStartedEvent,
    Tool,
)
from realtime_core.emulator import Reply, Scenario, ToolCallSpec, Turn
from realtime_gemini import GeminiRealtime
from realtime_gemini.declarations import json_schema_to_openapi
from realtime_gemini.emulator import GeminiEmulator
from realtime_gemini.options import GeminiOptions
from realtime_gemini.protocol import build_setup

from .conftest import RecorderFactory, of


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    :param city: the city name
    """
    return {"city": city, "sky": "sunny"}


def get_time(zone: str = "UTC") -> str:
    """The time in a zone."""
    return "12:00"


def broken(city: str) -> str:
    """Always fails."""
    raise RuntimeError("backend down")


async def too_slow(city: str) -> str:
    """Never answers in time."""
    await asyncio.sleep(30)
    return "late"


def weather_turn(*calls: ToolCallSpec) -> Scenario:
    return Scenario(turns=[Turn(reply=Reply(tool_calls=list(calls)), after_tools=Reply(text="It is sunny in Paris."))])


async def test_single_call_runs_and_the_result_goes_back_with_its_id() -> None:
    async with GeminiEmulator(
        scenario=weather_turn(ToolCallSpec(name="get_weather", arguments={"city": "Paris"}))
    ) as emu:
        async with GeminiRealtime(**emu.session_options(), tools=[get_weather]) as session:
            stream = session.events()
            await session.simple_response("What's the weather in Paris?")
            started = await stream.wait_for(RealtimeToolCallStartedEvent)
            assert started.name == "get_weather" and started.arguments == {"city": "Paris"}
            assert started.call_id.startswith("function-call-")
            finished = await stream.wait_for(RealtimeToolCallFinishedEvent)
            assert finished.result == {"city": "Paris", "sky": "sunny"} and finished.error is None
            done = await stream.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id != started.response_id)
            assert not done.interrupted  # the continuation is a response of its own
        (response,) = emu.messages("toolResponse")
        (entry,) = response.payload["toolResponse"]["functionResponses"]
        assert entry == {
            "name": "get_weather",
            "id": started.call_id,
            "response": {"output": {"city": "Paris", "sky": "sunny"}},
        }
        fact = emu.facts_named("tool_result")[0]
        assert fact.data["call_id"] == started.call_id
        declared = emu.setups[1]["tools"][0]["functionDeclarations"]
        assert [d["name"] for d in declared] == ["get_weather"]
        assert declared[0]["description"] == "Current weather for a city."
        assert declared[0]["parametersJsonSchema"]["properties"]["city"]["description"] == "the city name"


async def test_parallel_calls_are_answered_together(recorder: RecorderFactory) -> None:
    calls = (
        ToolCallSpec(name="get_weather", arguments={"city": "Paris"}),
        ToolCallSpec(name="get_time", arguments={"zone": "CET"}),
    )
    async with GeminiEmulator(scenario=weather_turn(*calls)) as emu:
        async with GeminiRealtime(**emu.session_options(), tools=[get_weather, get_time]) as session:
            rec = await recorder(session)
            await session.simple_response("weather and time?")
            events = await rec.collect_until(RealtimeToolCallFinishedEvent)
            events += await rec.collect_until(RealtimeAudioOutputDoneEvent, after=events[-1])
            started = of(events, RealtimeToolCallStartedEvent)
            assert len(started) == 2 and len({s.response_id for s in started}) == 1
        (response,) = emu.messages("toolResponse")
        entries = response.payload["toolResponse"]["functionResponses"]
        assert {e["id"] for e in entries} == {s.call_id for s in started}
        assert {e["name"]: e["response"] for e in entries}["get_time"] == {"output": "12:00"}
        calls_sent = next(m for m in emu.sent_messages() if isinstance(m, dict) and "toolCall" in m)
        assert len(calls_sent["toolCall"]["functionCalls"]) == 2


@pytest.mark.parametrize(
    ("tool", "expected"), [(broken, "RuntimeError: backend down"), (Tool(too_slow, timeout=0.2), "timed out")]
)
async def test_failing_and_slow_tools_send_an_error_and_the_turn_goes_on(tool: Any, expected: str) -> None:
    name = tool.name if isinstance(tool, Tool) else tool.__name__
    async with GeminiEmulator(scenario=weather_turn(ToolCallSpec(name=name, arguments={"city": "Paris"}))) as emu:
        async with GeminiRealtime(**emu.session_options(), tools=[tool]) as session:
            stream = session.events()
            await session.simple_response("weather?")
            finished = await stream.wait_for(RealtimeToolCallFinishedEvent)
            assert finished.error and expected in finished.error
            await stream.wait_for(RealtimeAudioOutputDoneEvent)
        (response,) = emu.messages("toolResponse")
        assert expected in response.payload["toolResponse"]["functionResponses"][0]["response"]["error"]


async def test_2_5_models_declare_openapi_parameters_because_json_schema_loses_arguments() -> None:
    model = "gemini-2.5-flash-native-audio-preview-12-2025"
    scenario = weather_turn(ToolCallSpec(name="get_weather", arguments={"city": "Paris"})).model_copy(
        update={"when_exhausted": "repeat_last"}
    )
    async with GeminiEmulator(scenario=scenario) as emu:
        async with GeminiRealtime(**emu.session_options(), model=model, tools=[get_weather]) as session:
            stream = session.events()
            await session.simple_response("weather?")
            started = await stream.wait_for(RealtimeToolCallStartedEvent)
            assert started.arguments == {"city": "Paris"}
        declared = emu.setups[1]["tools"][0]["functionDeclarations"][0]
        assert "parametersJsonSchema" not in declared
        assert declared["parameters"]["type"] == "OBJECT"
        assert declared["parameters"]["properties"]["city"]["type"] == "STRING"

        # the reported 2.x behaviour, emulated: parametersJsonSchema declarations get called with no arguments
        session = GeminiRealtime(**emu.session_options(), model=model, tools=[get_weather], tool_schema="json_schema")
        async with session:
            stream = session.events()
            await session.simple_response("weather?")
            finished = await stream.wait_for(RealtimeToolCallFinishedEvent)
            assert finished.error and "city" in finished.error


def test_openapi_conversion_drops_what_the_live_api_rejects() -> None:
    def lookup(tags: dict[str, Any], limit: int | None = None, mode: str = "fast") -> str:
        """Look things up."""
        return ""

    schema = json_schema_to_openapi(Tool(lookup).parameters)
    text = repr(schema)
    assert "additionalProperties" not in text and "$defs" not in text and "anyOf" not in text
    assert schema["properties"]["limit"] == {"type": "INTEGER", "nullable": True, "default": None}
    assert schema["properties"]["tags"]["type"] == "OBJECT"
    assert schema["required"] == ["tags"]


def test_3_1_rejects_additional_properties_inside_parameters_so_we_never_send_them() -> None:
    def lookup(tags: dict[str, Any]) -> str:
        """Look things up."""
        return ""

    options = GeminiOptions(tool_schema="parameters")
    setup = build_setup(options, instructions=None, tools=[Tool(lookup)], handle=None)
    assert "additionalProperties" not in repr(setup)


async def test_vertex_calls_without_ids_are_answered_without_ids() -> None:
    from realtime_gemini import VertexAI

    vertex = VertexAI(project="p", access_token="emulator-access-token")
    spec = ToolCallSpec(name="get_weather", arguments={"city": "Paris"})
    async with GeminiEmulator(scenario=weather_turn(spec)) as emu:
        session = GeminiRealtime(
            base_url=emu.ws_base_url, vertex=vertex, model="gemini-live-2.5-flash-native-audio", tools=[get_weather]
        )
        async with session:
            stream = session.events()
            await session.simple_response("weather?")
            await stream.wait_for(RealtimeToolCallFinishedEvent)
            await stream.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted)
        call = next(m for m in emu.sent_messages() if isinstance(m, dict) and "toolCall" in m)
        assert "id" not in call["toolCall"]["functionCalls"][0]
        (response,) = emu.messages("toolResponse")
        assert "id" not in response.payload["toolResponse"]["functionResponses"][0]
        assert emu.messages("clientContent")  # Vertex takes text as clientContent
        assert emu.facts_named("tool_result")
