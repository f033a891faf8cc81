"""The README's example runs: a provider built on the protocol talks to realtime-openai's emulator."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) == 1, "the README has one Python example"
    result = subprocess.run(
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.startswith("agent: You said: Hello there"), result.stdout


def test_the_public_api_table_names_every_export() -> None:
    import realtime_openai_protocol as rop

    table = README.read_text(encoding="utf-8").split("## Public API", 1)[1].split("\n## ", 1)[0]
    for name in rop.__all__:
        if name != "__version__":
            assert f"`{name}" in table, f"{name} is exported but not in the README's API table"


def test_no_entry_point_no_provider() -> None:
    from importlib.metadata import distribution

    assert not distribution("realtime-openai-protocol").entry_points
