"""The README's Python example runs (against the emulator it starts itself) and the README lists every
option and model of the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    # In this interpreter: the SDK is imported already (conftest), as in an app that has been running; a
    # fresh interpreter without bytecode caches spends seconds compiling the SDK's models on a busy machine.
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks, "the README has a Python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
        assert "agent: You spoke for" in capsys.readouterr().out


def test_readme_lists_every_option_and_model() -> None:
    from realtime_core.options import describe_options
    from realtime_nova import MODELS, NovaRealtime

    text = README.read_text(encoding="utf-8")
    for option in describe_options(NovaRealtime):
        if not option.core:
            assert f"`{option.name}`" in text, f"option {option.name} is not in the README"
    for model in MODELS:
        assert f"`{model}`" in text
