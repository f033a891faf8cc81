"""The ``realtime`` command: providers, emulate, demo, talk, and readable errors."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime_conformance.reference import ReferenceRealtime
from realtime_conformance.reference import plugin as reference_plugin
from realtime_core import PcmData, RealtimeAudioOutputDoneEvent, read_wav, register_plugin, unregister_plugin, write_wav
from realtime_core.cli import _cmd_emulate, main
from realtime_core.demo import bundled_speech


@pytest.fixture
def reference() -> Iterator[None]:
    name = register_plugin(reference_plugin, name="reference-cli-test")
    yield
    unregister_plugin(name)


def test_providers_table_and_json(reference: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:5] == ["NAME", "FROM", "KEY", "DEFAULT", "MODEL"]
    assert any(line.startswith("reference") and "REFERENCE_API_KEY" in line for line in out.splitlines())
    assert main(["providers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ref = next(p for p in data["providers"] if p["name"] == "reference")
    assert ref["emulator"] is True and ref["capabilities"]["output_sample_rate"] == 24000
    assert ref["api_key_env"] == ["REFERENCE_API_KEY"] and ref["api_key_set"] is False
    options = {o["name"]: o for o in ref["options"]}
    assert options["voice"]["default"] == "default" and options["voice"]["type"] == "str"
    assert options["instructions"]["core"] is True and "instructions" in options["instructions"]["description"]


def test_provider_detail_view(reference: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "reference"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("reference: ") and "REFERENCE_API_KEY (not set)" in out
    assert "turn_detection" in out and "input_sample_rate" in out
    assert main(["providers", "refrence"]) == 2
    assert "did you mean 'reference'?" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import realtime_core

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith(f"realtime-core {realtime_core.__version__}")


def test_bad_options_and_outputs_fail_before_any_session(
    reference: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wav = tmp_path / "in.wav"
    write_wav(wav, PcmData.tone(200, 16000))
    base = ["talk", "--provider", "reference", "--input", str(wav), "--emulator"]
    assert main([*base, "--output", str(tmp_path / "out.wav"), "--option", "voise=calm"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'voice'?" in err and "Traceback" not in err
    assert main([*base, "--output", str(tmp_path / "no-such-dir" / "out.wav")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*base, "--output", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulate", "--schema"]) == 0
    assert "turns" in json.loads(capsys.readouterr().out)["properties"]


def test_errors_are_one_readable_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--provider", "no-such-provider"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown realtime provider 'no-such-provider'") and "\n" not in err
    assert "Traceback" not in err
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["emulate", "openai", "--scenario", str(bad)]) == 2


def test_demo_against_an_emulator(reference: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reply.wav"
    assert main(["demo", "--provider", "reference", "--fast", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    for label in ("connected", "user speech started", "user speech stopped", "agent speech started",
                  "audio done", "time to first audio", "usage", "disconnected"):
        assert label in text, f"{label!r} missing from the timeline:\n{text}"
    assert f"Reply written to {out}" in text
    reply = read_wav(out)
    assert reply.sample_rate == 24000 and reply.duration > 1.0  # the echo of the bundled speech


def test_talk_with_emulator(reference: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "in.wav"
    write_wav(wav, bundled_speech().slice_ms(0, 2500))
    out = tmp_path / "out.wav"
    code = main(["talk", "--provider", "reference", "--emulator", "--input", str(wav), "--output", str(out),
                 "--option", "voice=calm"])
    assert code == 0, capsys.readouterr()
    assert out.exists()


async def test_emulate_serves_until_stopped(reference: None, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(provider="reference", port=0, tls=True, scenario=None, schema=False)
    task = asyncio.create_task(_cmd_emulate(args))
    printed = ""
    async with asyncio.timeout(10):
        while "press Ctrl+C" not in printed:
            await asyncio.sleep(0.02)
            printed += capsys.readouterr().out
    url = next(line.split()[-1] for line in printed.splitlines() if "listening on" in line)
    ca = next(line.split()[-1] for line in printed.splitlines() if "trust this CA" in line)
    assert url.startswith("wss://127.0.0.1:")
    session = ReferenceRealtime(url=url, api_key="reference-test-key", ca_file=ca)
    events = session.events()
    await session.connect()
    await session.simple_response("hello")
    await events.wait_for(RealtimeAudioOutputDoneEvent, timeout=10)
    await session.close()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
