"""The kit proves itself: broken providers fail the right clause; the template makes a passing plugin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from realtime_conformance import CLAUSES, markdown_matrix
from realtime_conformance.cli import main as kit_main
from realtime_conformance.reference.broken import VARIANTS
from realtime_conformance.report import Report, load_reports
from realtime_conformance.template import render_plugin

REPO = Path(__file__).resolve().parents[2]


def _pytest(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        capture_output=True,
        check=False,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def _ini(directory: Path) -> Path:
    ini = directory / "pytest.ini"
    ini.write_text("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    return ini


def test_every_broken_variant_fails_its_clause(tmp_path: Path) -> None:
    classes = []
    selections = []
    for i, (name, cls) in enumerate(VARIANTS.items()):
        classes.append(f"class TestBroken{i}(ConformanceSuite, ProviderFixtures):\n    provider = {name!r}\n    label = {name!r}\n")
        tests = " or ".join(f"test_{clause.split('.')[1]}" for clause in cls.BREAKS)
        selections.append(f"(TestBroken{i} and ({tests}))")
    (tmp_path / "test_broken.py").write_text(
        textwrap.dedent(
            """\
            import pytest
            from realtime_conformance import ConformanceSuite, ProviderFixtures
            from realtime_conformance.reference import broken
            from realtime_core import register_plugin, unregister_plugin


            @pytest.fixture(scope="module", autouse=True)
            def broken_providers():
                name = register_plugin(broken, name="broken-variants")
                yield
                unregister_plugin(name)


            """
        )
        + "\n\n".join(classes)
    )
    report = tmp_path / "report.json"
    result = _pytest(
        [str(tmp_path), "-c", str(_ini(tmp_path)), "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
         "-k", " or ".join(selections), "--realtime-report", str(report)],
        cwd=tmp_path,
    )
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    by_label = {r.label: r for r in load_reports([report])}
    for name, cls in VARIANTS.items():
        outcomes = {r.clause: r.outcome for r in by_label[name].results}
        for clause in cls.BREAKS:
            assert outcomes.get(clause) in ("failed", "stale"), f"{name}: {clause} was {outcomes.get(clause)}"
    assert by_label["broken-declaration"].results[0].outcome == "stale"


def _uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    local = REPO / ".tools" / "bin" / "uv"
    return str(local) if local.exists() else None


def test_template_plugin_installs_and_passes_the_kit(tmp_path: Path) -> None:
    root = render_plugin("acme", tmp_path)
    assert (root / "src" / "realtime_acme" / "session.py").exists()
    uv = _uv()
    if uv is None:
        pytest.fail("uv is needed to install the generated plugin (run scripts/bootstrap)")
    site = tmp_path / "site"
    install = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", sys.executable, "--target", str(site), "--no-deps", str(root)],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert list(site.glob("realtime_acme-*.dist-info")), "no dist-info: the plugin was not installed"
    env = {"PYTHONPATH": str(site)}
    report, matrix = tmp_path / "acme.json", tmp_path / "acme.md"
    run = subprocess.run(
        [sys.executable, "-m", "realtime_conformance.cli", "acme", "--report", str(report), "--markdown", str(matrix)],
        capture_output=True,
        check=False,
        text=True,
        timeout=600,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    (rep,) = load_reports([report])
    assert rep.provider == "acme" and rep.distribution == "realtime-acme" and rep.version == "0.1.0"
    counts = rep.counts()
    assert counts.get("failed", 0) == 0 and counts.get("stale", 0) == 0
    assert counts["passed"] >= len(CLAUSES) - 6  # text and manual-turn variants need options the CLI run lacks
    assert "| `lifecycle.connected_first`" in matrix.read_text()
    # the generated plugin's own test file runs the kit too
    tests = _pytest([str(root / "tests"), "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-k", "lifecycle or registered"],
                    cwd=root, env=env)
    assert tests.returncode == 0, tests.stdout[-3000:]


def test_matrix_and_clause_listing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert kit_main(["clauses"]) == 0
    listed = capsys.readouterr().out
    assert "interruption.no_stale_output" in listed and "tools.parallel_calls_one_reply" in listed
    a = Report(provider="a", label="a")
    b = Report(provider="b", label="b")
    from realtime_conformance.report import ClauseResult

    a.results = [ClauseResult("lifecycle.connected_first", "passed"), ClauseResult("inputs.say", "unsupported")]
    b.results = [ClauseResult("lifecycle.connected_first", "failed"), ClauseResult("inputs.say", "stale")]
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"reports": [a.to_json(), b.to_json()]}))
    assert kit_main(["matrix", str(path), "-o", str(tmp_path / "m.md")]) == 0
    text = (tmp_path / "m.md").read_text()
    assert text == markdown_matrix(load_reports([path]))
    row = next(line for line in text.splitlines() if "inputs.say" in line)
    assert row.endswith("| n/a | − (stale) |")


def test_unknown_provider_is_a_readable_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert kit_main(["no-such-provider"]) == 2
    assert "unknown realtime provider 'no-such-provider'" in capsys.readouterr().err


def test_init_refuses_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_plugin("Bad-Name", tmp_path)
    with pytest.raises(ValueError):
        render_plugin("class", tmp_path)


def test_live_mode_without_a_key_skips_with_a_clear_reason(tmp_path: Path) -> None:
    (tmp_path / "test_live.py").write_text(
        textwrap.dedent(
            """\
            import pytest
            from realtime_conformance import ConformanceSuite, ProviderFixtures
            from realtime_conformance.reference import plugin
            from realtime_core import register_plugin, unregister_plugin


            @pytest.fixture(scope="module", autouse=True)
            def reference():
                name = register_plugin(plugin, name="reference-live")
                yield
                unregister_plugin(name)


            class TestLive(ConformanceSuite, ProviderFixtures):
                provider = "reference"
            """
        )
    )
    report = tmp_path / "live.json"
    env = {k: v for k, v in os.environ.items() if k != "REFERENCE_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "-c", str(_ini(tmp_path)), "-p", "no:cacheprovider",
         "-p", "no:xdist", "-q", "--realtime-live", "--realtime-report", str(report), "-k", "connected_first or context_manager or call_runs"],
        capture_output=True, check=False, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    (rep,) = load_reports([report])
    assert rep.mode == "live"
    assert {r.outcome for r in rep.results} == {"skipped"}
    reasons = {r.reason for r in rep.results}
    assert any("REFERENCE_API_KEY" in r for r in reasons) and any("needs the emulator" in r for r in reasons)
