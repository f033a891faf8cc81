"""The README's Python blocks run (each is a complete program against the emulator), in a fresh interpreter."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
# one interpreter for all blocks (a cold start costs seconds), each block in a namespace of its own
RUNNER = "import json, sys\nfor i, block in enumerate(json.loads(sys.argv[1])):\n    print(f'--- block {i}')\n    exec(compile(block, f'README.md block {i}', 'exec'), {'__name__': '__main__'})\n"


def test_readme_blocks_run() -> None:
    assert len(BLOCKS) == 2
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(BLOCKS)], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Task exception was never retrieved" not in done.stderr
    outputs = done.stdout.split("--- block ")[1:]
    assert "agent: You spoke for 0.8 seconds." in outputs[0], done.stdout
    assert "Hi!" in outputs[1], done.stdout
