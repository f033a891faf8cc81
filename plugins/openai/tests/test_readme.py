"""Every Python block of the README runs (each in a fresh interpreter, against the bundled emulator), and
the README's tables match the code: options, models, emulator switches."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from realtime_openai import MODEL_PROFILES, OpenAIRealtime
from realtime_openai.emulator import OpenAIEmulator
from realtime_openai_protocol.emulator import OpenAIStyleEmulator

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs(index: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}  # never the real service
    result = subprocess.run([sys.executable, "-c", BLOCKS[index]], capture_output=True, text=True, timeout=120,
                            check=False, env=env)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    if "print(" in BLOCKS[index]:
        assert result.stdout.strip(), "the example printed nothing"


def test_the_examples_say_what_they_should() -> None:
    assert len(BLOCKS) >= 5


def test_every_option_is_documented() -> None:
    table = README.split("## Configure", 1)[1].split("\n## ", 1)[0]
    for name in inspect.signature(OpenAIRealtime.__init__).parameters:
        if name not in ("self", "kwargs", "api_key"):
            assert f"`{name}`" in table, f"option {name} missing from the README"


def test_every_model_is_documented() -> None:
    table = README.split("## Models", 1)[1].split("\n## ", 1)[0]
    for model in MODEL_PROFILES:
        assert f"`{model}`" in table, f"model {model} missing from the README"


def test_every_emulator_switch_is_documented() -> None:
    section = README.split("## The emulator", 1)[1].split("\n## ", 1)[0]
    switches = {*inspect.signature(OpenAIEmulator.__init__).parameters, *inspect.signature(OpenAIStyleEmulator.__init__).parameters}
    for name in switches - {"self", "options", "rules", "dialect", "schema", "api_key", "model"}:
        assert f"`{name}`" in section, f"emulator switch {name} missing from the README"
