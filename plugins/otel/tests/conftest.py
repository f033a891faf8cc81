"""Fixtures: the observer sending to an in-memory span exporter and metric reader; real emulators on
127.0.0.1 and sessions pointed at them (closed after each test)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import realtime_otel
from realtime_conformance.reference import ReferenceEmulator, ReferenceRealtime
from realtime_core import Realtime, ReconnectPolicy
from realtime_core.emulator import EmulatorServer, Scenario
from realtime_core.testing import EventRecorder
from realtime_openai import OpenAIEmulator, OpenAIRealtime

FAST_RECONNECT = ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.3)


class Telemetry:
    """What the observer recorded: finished spans and collected metric points."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self, prefix: str = "") -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith(prefix)]

    def span(self, prefix: str) -> ReadableSpan:
        found = self.spans(prefix)
        assert len(found) == 1, f"expected one {prefix!r} span, got {[s.name for s in self.spans()]}"
        return found[0]

    def points(self, name: str) -> list[Any]:
        """Data points of metric ``name`` (a counter's sums or a histogram's buckets), all attribute sets."""
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def value(self, name: str, **attributes: Any) -> float:
        """The sum of metric ``name`` over the points whose attributes include ``attributes``."""
        total = 0.0
        for point in self.points(name):
            if all(point.attributes.get(k) == v for k, v in attributes.items()):
                total += point.value if hasattr(point, "value") else point.sum
        return total

    def count(self, name: str, **attributes: Any) -> int:
        """How many values histogram ``name`` recorded with ``attributes``."""
        return sum(
            p.count for p in self.points(name) if all(p.attributes.get(k) == v for k, v in attributes.items())
        )


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    """The observer instrumented with in-memory exporters for this test; uninstrumented after it."""
    t = Telemetry()
    realtime_otel.uninstrument()  # start clean: forget sessions other tests left open
    realtime_otel.instrument(tracer_provider=t.tracer_provider, meter_provider=t.meter_provider)
    yield t
    realtime_otel.uninstrument()
    t.meter_provider.shutdown()
    t.tracer_provider.shutdown()


@pytest_asyncio.fixture
async def emulators() -> AsyncIterator[Any]:
    """``emu = await emulators(EmulatorClass, scenario, **options)``: started, stopped after the test."""
    made: list[EmulatorServer] = []

    async def make(cls: type[EmulatorServer], scenario: Scenario | None = None, **options: Any) -> Any:
        emu = cls(scenario=scenario, **options)
        await emu.start()
        made.append(emu)
        return emu

    yield make
    for emu in made:
        await emu.stop()


@pytest_asyncio.fixture
async def sessions() -> AsyncIterator[Any]:
    """``s = sessions(emu, **options)``: an unconnected session for a reference or OpenAI emulator."""
    made: list[Realtime] = []

    def make(emu: ReferenceEmulator | OpenAIEmulator, **options: Any) -> Realtime:
        options.setdefault("reconnect", FAST_RECONNECT)
        cls = OpenAIRealtime if isinstance(emu, OpenAIEmulator) else ReferenceRealtime
        session = cls(**{**emu.session_options(), **options})
        made.append(session)
        return session

    yield make
    for session in made:
        await session.close()


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[Any]:
    """``rec = await recorder(s)``: an :class:`EventRecorder` of ``s``, closed after the test."""
    async with contextlib.AsyncExitStack() as stack:
        yield lambda s: stack.enter_async_context(EventRecorder(s))
