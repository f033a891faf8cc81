"""Cross-package checks: the bundled providers are installed like third-party plugins and each one's demo
runs offline against its emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

import realtime_core
from realtime_core import read_wav
from realtime_core.demo import run_demo

BUNDLED = {
    "openai": "realtime-openai",
    "gemini": "realtime-gemini",
    "nova": "realtime-nova",
    "qwen": "realtime-qwen",
}


def test_bundled_providers_come_through_entry_points() -> None:
    specs = {s.name: s for s in realtime_core.providers()}
    for name, dist in BUNDLED.items():
        assert name in specs, f"{name} not installed; plugin errors: {realtime_core.plugin_errors()}"
        spec = specs[name]
        assert spec.distribution == dist and spec.version, spec
        assert spec.plugin == name  # registered through the `realtime` entry point, like any third party
        assert spec.emulator is not None
        assert spec.api_key_env or name == "nova"  # nova uses the AWS credential chain
        caps = spec.resolve_capabilities()
        assert caps.output_sample_rate >= 16000 and caps.input_sample_rate >= 8000
    assert realtime_core.plugin_errors() == []


@pytest.mark.slow
@pytest.mark.parametrize("provider", list(BUNDLED))
async def test_demo_runs_offline(provider: str, tmp_path: Path) -> None:
    out = tmp_path / f"{provider}.wav"
    result = await run_demo(provider, output_path=out, realtime_pace=False)
    assert result.reply is not None and result.output_path == out
    reply = read_wav(out)
    assert reply.duration > 1.0  # the echo of the bundled question
    labels = [label for _, label, _ in result.timeline.entries]
    assert labels[0] == "connected" and "disconnected" in labels
