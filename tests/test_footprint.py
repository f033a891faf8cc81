"""The app install stays slim: what core and each provider plugin require, without the emulators.

(benchmarks/footprint.py measures the real install; this checks the declarations offline.)
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"av", "aiohttp", "trustme", "pyyaml", "cryptography", "aiortc", "h2"}
"""Packages an app talking to a real provider does not need: emulators, video, WebRTC."""


def requirements(pyproject: Path) -> set[str]:
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    return {d.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].split("~")[0].strip().lower() for d in deps}


def test_core_requires_only_the_slim_set() -> None:
    assert requirements(ROOT / "core/pyproject.toml") == {"numpy", "soxr", "pydantic", "pluggy", "websockets"}


PENDING = {"openai", "gemini", "qwen"}  # their emulator extras land with their v0.2 re-layout


@pytest.mark.parametrize("plugin", ["openai", "gemini", "qwen"])
def test_websocket_plugins_need_no_emulator_packages_to_talk(plugin: str, request: pytest.FixtureRequest) -> None:
    if plugin in PENDING:
        request.applymarker(pytest.mark.xfail(reason="aiohttp still a hard requirement", strict=True))
    found = requirements(ROOT / f"plugins/{plugin}/pyproject.toml") & HEAVY
    assert not found, f"realtime-{plugin} requires {sorted(found)}: put them in an [emulator] (or [webrtc]) extra"
