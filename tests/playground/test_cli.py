"""`realtime playground` as a command: it serves, prints its URL, stops cleanly, and says what is missing."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from realtime_core.cli import main

pytestmark = pytest.mark.timeout(180)


async def test_serves_the_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    scenario = tmp_path / "hello.json"
    scenario.write_text(json.dumps({"name": "hello", "turns": [{"on": "speech", "reply": {"text": "Hi."}}]}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realtime_core.cli", "playground", "--emulator", "--port", "0",
        "--provider", "qwen", "--scenario", str(scenario),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        async with asyncio.timeout(90):
            line = (await proc.stdout.readline()).decode()
        match = re.search(r"open (http://127\.0\.0\.1:\d+/) in your browser", line)
        assert match, line
        async with aiohttp.ClientSession() as http:
            async with http.get(match[1]) as resp:
                assert resp.status == 200 and "realtime playground" in await resp.text()
            async with http.get(match[1] + "api/config") as resp:
                config = await resp.json()
        assert config["provider"] == "qwen" and config["emulator"] and config["scenario"] == "hello"
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            stderr = (await proc.stderr.read()).decode()
            code = await proc.wait()
        assert code == 130 and "Traceback" not in stderr, stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "aiortc", None)  # import aiortc now fails, as without the extra
    assert main(["playground", "--emulator"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'realtime-core[playground]'" in err and "aiortc" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "x.yaml"], "--scenario scripts the emulators: add --emulator"),
        (["--provider", "opena", "--emulator"], "opena"),
        (["--emulator", "--option", "novalue"], "--option takes KEY=VALUE"),
    ],
)
def test_bad_arguments_are_one_line_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["playground", "--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
