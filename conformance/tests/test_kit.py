"""The kit proves itself: broken providers fail the right clause; the template makes a passing plugin."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from realtime_conformance import CLAUSES, markdown_matrix
from realtime_conformance.cli import main as kit_main
from realtime_conformance.reference.broken import HONEST, VARIANTS, Variant
from realtime_conformance.reference.known_issues import CORE_ISSUES
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
        timeout=1700,
        env={**os.environ, **(env or {})},
    )


def _ini(directory: Path) -> Path:
    ini = directory / "pytest.ini"
    ini.write_text("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    return ini


CONTROL = ("lifecycle.connected_first", "audio.output_format", "tools.call_and_continue")
"""Clauses every variant must still pass unless it breaks them: the kit's failures are specific."""

FULL = os.environ.get("REALTIME_KIT_FULL_SELFTEST") == "1"
"""Run every clause against every variant (minutes): proves each variant fails exactly its BREAKS."""


def _run_variants(tmp_path: Path, variants: dict[str, type[Variant]], clauses: Callable[[type[Variant]], set[str]]) -> dict[str, Report]:
    """Run the suite's ``clauses(variant)`` against each variant in one pytest process; the reports by name."""
    classes: list[str] = []
    nodes: list[str] = []
    for i, (name, cls) in enumerate(variants.items()):
        known = {k: v for k, v in CORE_ISSUES.items() if k not in cls.BREAKS}
        classes.append(
            f"class TestVariant{i}(ConformanceSuite, ProviderFixtures):\n    provider = {name!r}\n    label = {name!r}\n"
            f"    text_mode_options = VARIANTS['text']\n    manual_turn_options = VARIANTS['manual']\n"
            f"    known_failures = {known!r}\n"
        )
        nodes += [f"test_variants.py::TestVariant{i}::test_{CLAUSES[c].name}" for c in sorted(clauses(cls))]
    (tmp_path / "test_variants.py").write_text(
        textwrap.dedent(
            """\
            import pytest
            from realtime_conformance import ConformanceSuite, ProviderFixtures
            from realtime_conformance.reference import broken
            from realtime_conformance.reference.plugin import VARIANTS
            from realtime_core import register_plugin, unregister_plugin


            @pytest.fixture(scope="module", autouse=True)
            def variants():
                name = register_plugin(broken, name="reference-variants")
                yield
                unregister_plugin(name)


            """
        )
        + "\n\n".join(classes)
    )
    report = tmp_path / "report.json"
    result = _pytest(
        [*nodes, "-c", str(_ini(tmp_path)), "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "--realtime-report", str(report)],
        cwd=tmp_path,
    )
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    return {r.label: r for r in load_reports([report])}


def _check_variant(name: str, cls: type[Variant], report: Report, *, full: bool) -> list[str]:
    """What the kit got wrong about one variant (empty when it reported exactly what it must)."""
    outcomes = {r.clause: r for r in report.results}
    problems: list[str] = []
    for clause in cls.BREAKS:
        got = outcomes.get(clause)
        if got is None or got.outcome not in ("failed", "stale"):
            problems.append(f"{name}: {clause} must fail, was {got.outcome if got else 'not run'}")
    for clause in cls.NOT_EXERCISED:
        got = outcomes.get(clause)
        if got is None or got.outcome not in ("not_exercised", "not_applicable"):
            problems.append(f"{name}: {clause} must be reported as not checked, was {got.outcome if got else 'not run'}")
    must_pass = set(cls.PASSES) | (set(CONTROL) - set(cls.BREAKS))
    for clause in must_pass:
        got = outcomes.get(clause)
        if got is None or got.outcome != "passed":
            problems.append(f"{name}: {clause} must pass, was {got.outcome if got else 'not run'}: {got.reason if got else ''}")
    if full:  # nothing but its own bug fails, nothing goes unexercised
        for r in report.results:
            if r.outcome in ("failed", "stale") and r.clause not in cls.BREAKS + cls.MAY_BREAK:
                problems.append(f"{name}: {r.clause} failed too: {r.reason}")
            if r.outcome == "not_exercised" and r.clause not in cls.NOT_EXERCISED:
                problems.append(f"{name}: {r.clause} not exercised: {r.reason}")
    for r in report.results:  # a failure must name its promise
        if r.outcome == "failed" and f"promise {r.promise}" not in r.reason:
            problems.append(f"{name}: {r.clause}'s failure does not name promise {r.promise}: {r.reason}")
    return problems


_EVERYTHING = {**VARIANTS, **HONEST}
_GROUPS = 4
"""The variants run in this many pytest processes (xdist spreads them over its workers)."""


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("group", range(_GROUPS))
def test_broken_variants_fail_their_clauses(tmp_path: Path, group: int) -> None:
    """Every broken variant fails its own clauses (and the control clauses still pass); the honest variants
    pass; what the kit cannot see is reported as not exercised, never as passed. With
    REALTIME_KIT_FULL_SELFTEST=1 every clause runs against every variant, and nothing else may fail."""
    variants = dict(list(_EVERYTHING.items())[group::_GROUPS])

    def selected(cls: type[Variant]) -> set[str]:
        if FULL:
            return set(CLAUSES)
        return set(cls.BREAKS) | set(cls.NOT_EXERCISED) | set(cls.PASSES) | set(CONTROL)

    reports = _run_variants(tmp_path, variants, selected)
    problems = [p for name, cls in variants.items() for p in _check_variant(name, cls, reports[name], full=FULL)]
    assert not problems, "\n".join(problems)


def test_every_bug_class_has_a_variant() -> None:
    """Each class of bug issue 13 lists is broken on purpose by at least one variant, on the clause that
    checks it."""
    broken = {c for cls in VARIANTS.values() for c in cls.BREAKS}
    classes = {
        "audio that lies about itself": {"audio.output_format", "audio.output_duration_exact", "audio.done_after_all_audio",
                                         "audio.input_received_exactly"},
        "setup that never reaches the provider": {"setup.instructions_sent", "setup.tools_sent", "setup.configuration_sent"},
        "setup errors": {"setup.error_during_setup"},
        "tools wired wrong": {"tools.result_under_call_id"},
        "truncation ignoring what was heard": {"interruption.truncate_at_reported_playback"},
        "leaks on close": {"lifecycle.no_plugin_tasks_left", "lifecycle.provider_told_on_close", "errors.old_connection_closed"},
        "identity": {"lifecycle.session_id_stable"},
        "a blocked event loop": {"audio.loop_not_blocked"},
        "secrets": {"errors.no_secrets"},
        "typed errors": {"errors.wrong_key"},
        "liveness": {"liveness.dead_path_detected", "liveness.close_while_opening"},
    }  # fmt: skip
    missing = {name: sorted(want - broken) for name, want in classes.items() if want - broken}
    assert not missing, missing
    unobserved = {c for cls in VARIANTS.values() for c in cls.NOT_EXERCISED}
    assert "interruption.provider_told" in unobserved  # a clause that cannot see must not pass


def test_every_promise_has_a_clause() -> None:
    """Every numbered promise of docs/contract.md is checked by a clause, and every clause's promise exists."""
    text = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    promises = set(re.findall(r"^(\d+\.\d+) \*\*", text, flags=re.MULTILINE))
    checked = {info.promise for info in CLAUSES.values()}
    assert promises - checked == set(), f"promises without a clause: {sorted(promises - checked)}"
    assert checked - promises == set(), f"clauses citing unknown promises: {sorted(checked - promises)}"
    for cid in CLAUSES:
        assert f"`{cid}`" in text, f"docs/contract.md does not name clause {cid}"


def _uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    local = REPO / ".tools" / "bin" / "uv"
    return str(local) if local.exists() else None


@pytest.mark.slow
@pytest.mark.timeout(900)
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
        timeout=1700,
        env={**os.environ, **env},
        cwd=tmp_path,
    )  # fmt: skip
    (rep,) = load_reports([report])
    assert rep.provider == "acme" and rep.distribution == "realtime-acme" and rep.version == "0.1.0"
    assert rep.ok, [f"{r.clause}: {r.reason}" for r in rep.of("failed", "stale")]
    missing = {r.clause for r in rep.of("not_exercised")}
    # the text and manual-turn configurations reach the CLI through ProviderSpec.variants (a newer core)
    assert missing <= {"transcripts.text_reply", "inputs.manual_turns"}, missing
    assert run.returncode == (3 if missing else 0), run.stdout[-4000:] + run.stderr[-2000:]
    assert rep.applicable - len(missing) == rep.counts()["passed"]
    assert "| `lifecycle.connected_first`" in matrix.read_text()
    # the generated plugin's own test file runs the kit too
    tests = _pytest([str(root / "tests"), "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-k", "lifecycle or registered"],
                    cwd=root, env=env)
    assert tests.returncode == 0, tests.stdout[-3000:]


_CLI = """\
import sys
from realtime_core import register_plugin
from realtime_conformance.reference import broken, plugin
register_plugin(plugin, name="reference-cli")
register_plugin(broken, name="reference-variants-cli")
from realtime_conformance.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``realtime-conformance ARGS`` with the reference provider and its variants installed."""
    script = tmp_path / "cli.py"
    script.write_text(_CLI)
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, check=False, text=True, timeout=600, cwd=tmp_path
    )


@pytest.mark.timeout(600)
def test_cli_options_variants_and_usage_errors(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    ok = _cli(tmp_path, "reference", "--option", "voice=calm", "--option", "fps=2", "-k", "properties",
              "--report", str(report))  # fmt: skip
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-2000:]
    (rep,) = load_reports([report])
    assert rep.label == "reference voice=calm fps=2"
    assert [r.outcome for r in rep.results] == ["passed"]
    wrong = _cli(tmp_path, "reference", "--option", "vioce=calm")
    assert wrong.returncode == 2 and "did you mean 'voice'" in wrong.stderr, wrong.stderr
    typed = _cli(tmp_path, "reference", "--option", "fps=fast")
    assert typed.returncode == 2 and "fps" in typed.stderr, typed.stderr
    unknown = _cli(tmp_path, "reference:karaoke")
    assert unknown.returncode == 2 and "no variant 'karaoke'" in unknown.stderr, unknown.stderr


@pytest.mark.timeout(600)
def test_cli_reports_what_was_not_exercised(tmp_path: Path) -> None:
    """A provider that names no text configuration: the text-reply clause is not exercised, said loudly,
    and the exit status is 3 unless --allow-not-exercised."""
    run = _cli(tmp_path, "honest-no-reconnect", "-k", "text_reply or connected_first")
    assert run.returncode == 3, run.stdout[-3000:] + run.stderr[-2000:]
    assert "NOT EXERCISED" in run.stdout and "transcripts.text_reply" in run.stdout
    allowed = _cli(tmp_path, "honest-no-reconnect", "-k", "text_reply or connected_first", "--allow-not-exercised")
    assert allowed.returncode == 0, allowed.stdout[-3000:]


@pytest.mark.timeout(600)
def test_cli_failures_name_the_promise(tmp_path: Path) -> None:
    """In CLI mode (no assertion rewriting) a failure still says which promise, what was expected and what
    happened; and it does not wait out long timeouts."""
    run = _cli(tmp_path, "broken-session-id", "-k", "session_id_stable or properties")
    assert run.returncode == 1, run.stdout[-3000:]
    assert "promise 1.6 broken (lifecycle.session_id_stable" in run.stdout, run.stdout[-3000:]
    assert "expected " in run.stdout and "; got sess_" in run.stdout
    assert "AssertionError" not in run.stdout and "TimeoutError" not in run.stdout


def test_matrix_and_clause_listing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert kit_main(["clauses"]) == 0
    listed = capsys.readouterr().out
    assert "interruption.no_stale_output" in listed and "tools.parallel_calls" in listed
    assert listed.splitlines()[0].startswith("1.1 ")  # in contract order, with the promise
    from realtime_conformance.report import ClauseResult

    a = Report(provider="a", label="a")
    b = Report(provider="b", label="b")
    a.results = [
        ClauseResult("lifecycle.connected_first", "passed", promise="1.1"),
        ClauseResult("inputs.say", "unsupported", promise="7.1"),
        ClauseResult("inputs.text", "not_exercised", "the emulator cannot observe text_in", promise="4.4"),
        ClauseResult("capabilities.tools_refused", "not_applicable", "tools are supported", promise="9.1"),
    ]
    b.results = [
        ClauseResult("lifecycle.connected_first", "failed", "promise 1.1 broken: expected x; got y", promise="1.1"),
        ClauseResult("inputs.say", "stale", promise="7.1"),
    ]
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"reports": [a.to_json(), b.to_json()]}))
    assert kit_main(["matrix", str(path), "-o", str(tmp_path / "m.md")]) == 0
    text = (tmp_path / "m.md").read_text()
    assert text == markdown_matrix(load_reports([path]))
    row = next(line for line in text.splitlines() if "`inputs.say`" in line)
    assert row.startswith("| 7.1 |") and row.endswith("| n/a | − stale |")
    assert CLAUSES["inputs.say"].summary in row  # never cut
    assert "| | **passed / applicable** | 1/2 | 0/2 |" in text  # n/a and not applicable do not count
    assert "| | **not exercised** | 1 | 0 |" in text
    assert "the emulator cannot observe text_in" in text and "expected x; got y" in text


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
         "-p", "no:xdist", "-q", "--realtime-live", "--realtime-report", str(report), "-k", "connected_first or context_manager or call_and_continue"],
        capture_output=True, check=False, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    (rep,) = load_reports([report])
    assert rep.mode == "live"
    outcomes = {r.clause: r for r in rep.results}
    assert outcomes["lifecycle.connected_first"].outcome == "not_exercised"
    assert "REFERENCE_API_KEY" in outcomes["lifecycle.connected_first"].reason
    assert outcomes["tools.call_and_continue"].outcome == "not_applicable"
    assert "needs the emulator" in outcomes["tools.call_and_continue"].reason
