"""The README's Python example runs (against the emulator it starts itself), in a fresh interpreter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks, "the README has a Python example"
    for block in blocks:
        done = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=100, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "agent: You spoke for" in done.stdout, done.stdout[-2000:]


def test_readme_lists_every_option_and_model() -> None:
    from realtime_core.options import describe_options
    from realtime_nova import MODELS, NovaRealtime

    text = README.read_text(encoding="utf-8")
    for option in describe_options(NovaRealtime):
        if not option.core:
            assert f"`{option.name}`" in text, f"option {option.name} is not in the README"
    for model in MODELS:
        assert f"`{model}`" in text
