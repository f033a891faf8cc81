"""As installed: the entry point registers the observer, which uses the global providers; `realtime providers`
lists it; REALTIME_LOAD_PLUGINS leaves it out; the README's example runs. Each in a fresh interpreter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def run_python(code: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_realtime_providers_lists_the_observer() -> None:
    out = run_python("from realtime_core.cli import main; main(['providers', '--json'])")
    (otel,) = [o for o in json.loads(out)["observers"] if o["name"] == "otel"]
    assert otel["distribution"] == "realtime-otel" and otel["version"]
    assert "realtime_on_usage" in otel["hooks"] and "realtime_register_providers" not in otel["hooks"]
    table = run_python("from realtime_core.cli import main; main(['providers'])")
    observers = table.split("Observers (plugins without a provider):", 1)[1].splitlines()
    assert observers[1].split()[:3] == ["NAME", "FROM", "HOOKS"]
    assert observers[2].split()[:2] == ["otel", "realtime-otel"]


def test_realtime_load_plugins_leaves_it_out() -> None:
    out = run_python(
        "from realtime_core.cli import main; main(['providers', '--json'])", env={"REALTIME_LOAD_PLUGINS": "openai"}
    )
    data = json.loads(out)
    assert data["observers"] == [] and [p["name"] for p in data["providers"]] == ["openai"]


GLOBAL_PROVIDERS = textwrap.dedent(
    """
    import asyncio, json
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from realtime_conformance.reference import ReferenceEmulator, ReferenceRealtime
    from realtime_core import RealtimeUsageEvent

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    async def main():
        async with ReferenceEmulator() as emu:
            session = ReferenceRealtime(**emu.session_options())
            events = session.events()
            async with session:
                await session.simple_response("Hello?")
                async for event in events:
                    if isinstance(event, RealtimeUsageEvent):
                        break

    asyncio.run(main())
    names = sorted(m.name for r in reader.get_metrics_data().resource_metrics for s in r.scope_metrics for m in s.metrics)
    print(json.dumps({"spans": [s.name for s in exporter.get_finished_spans()], "metrics": names}))
    """
)


def test_installed_it_records_to_the_global_providers() -> None:
    """No instrument() call: the entry point registered the observer and it found the app's providers."""
    out = json.loads(run_python(GLOBAL_PROVIDERS))
    assert out["spans"] == ["realtime_inference reference", "realtime_session reference"]
    assert {"gen_ai.client.token.usage", "realtime.client.session.duration"} <= set(out["metrics"])


def test_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README has Python examples"
    out = run_python(blocks[0])
    spans = [json.loads(chunk) for chunk in re.findall(r"^\{\n.*?^\}$", out, flags=re.DOTALL | re.MULTILINE)]
    names = [s["name"] for s in spans if "name" in s]
    assert names[:2] == ["realtime_inference gpt-realtime-2.1", "realtime_session gpt-realtime-2.1"], out[-2000:]
    response = spans[0]["attributes"]
    assert response["gen_ai.operation.name"] == "realtime_inference" and response["gen_ai.usage.output_tokens"] > 0
    assert response["gen_ai.response.time_to_first_chunk"] > 0
    for metric in ("gen_ai.client.token.usage", "gen_ai.client.operation.time_to_first_chunk",
                   "gen_ai.client.inference.usage.output_tokens", "realtime.client.session.duration"):
        assert f'"name": "{metric}"' in out, f"{metric} missing from the console output"
    for block in blocks[1:]:  # the others only configure: they must at least run
        run_python(block)
