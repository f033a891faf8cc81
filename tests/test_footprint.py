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


@pytest.mark.parametrize("plugin", ["openai", "gemini", "qwen"])
def test_websocket_plugins_need_no_emulator_packages_to_talk(plugin: str) -> None:
    found = requirements(ROOT / f"plugins/{plugin}/pyproject.toml") & HEAVY
    assert not found, f"realtime-{plugin} requires {sorted(found)}: put them in an [emulator] (or [webrtc]) extra"


def test_an_emulator_without_its_extra_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime_core import ConfigurationError, ProviderSpec

    (tmp_path / "acme_emulator_needs_more.py").write_text("import not_installed_web_framework_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = ProviderSpec(name="acme", session_class="acme:Session", emulator="acme_emulator_needs_more:Emulator")
    with pytest.raises(ConfigurationError, match=r"not_installed_web_framework_xyz.*pip install 'realtime-acme\[emulator\]'"):
        spec.resolve_emulator()
    broken = ProviderSpec(name="acme", session_class="acme:Session", emulator="acme_no_such_module_xyz:Emulator")
    with pytest.raises(ImportError):  # the plugin's own module missing is a bug in the plugin, not an extra
        broken.resolve_emulator()
