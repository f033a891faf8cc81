"""The README matches the code: its Python examples run (against the emulator, each in a fresh interpreter),
its options table names every option of the session, its switches table every switch of the emulator."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from realtime_core.options import describe_options
from realtime_qwen import MODELS, QwenRealtime
from realtime_qwen.emulator import QwenEmulator

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


def _section(title: str) -> str:
    return TEXT.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(("index", "expected"), [(0, "agent: 800 ms of audio"), (1, "agent: Hello from the emulator.")])
def test_the_examples_run(index: int, expected: str) -> None:
    assert len(BLOCKS) == 2
    result = subprocess.run([sys.executable, "-c", BLOCKS[index]], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert expected in result.stdout, result.stdout


def test_the_options_table_names_every_option() -> None:
    table = _section("Configure")
    for option in describe_options(QwenRealtime):
        if not option.core:
            assert f"`{option.name}`" in table, f"option {option.name} is not in the README's table"


def test_the_switches_table_names_every_emulator_switch() -> None:
    table = _section("The emulator")
    for name in inspect.signature(QwenEmulator.__init__).parameters:
        if name not in ("self", "options"):
            assert f"`{name}`" in table, f"switch {name} is not in the README's table"


def test_the_models_table_names_every_model() -> None:
    header = _section("Models").split("\n", 3)[2]
    assert all(model in header for model in MODELS)
