"""The kit's pytest plugin (entry point ``pytest11``): options, the clause marker, and reports.

Options:

``--realtime-live``
    run the suite against the real services (keys from the environment) instead of the emulators.
``--realtime-report PATH``
    write a JSON report: per provider configuration, every clause passed / failed / stale / unsupported /
    not applicable / not exercised, with the promise it checks and the reason.
``--realtime-markdown PATH``
    write the same as a Markdown matrix, one column per configuration.

Works with pytest-xdist: outcomes travel in ``user_properties`` and are aggregated by the controller.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .clauses import CLAUSES, NOT_APPLICABLE, NOT_EXERCISED
from .fixtures import ProviderFixtures
from .report import ClauseResult, Outcome, Report, markdown_matrix

_KEY = pytest.StashKey[dict[str, Report]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtime-conformance", "realtime provider conformance kit")
    group.addoption("--realtime-live", action="store_true", default=False, help="run against the real services")
    group.addoption("--realtime-report", metavar="PATH", default=None, help="write a JSON conformance report")
    group.addoption("--realtime-markdown", metavar="PATH", default=None, help="write a Markdown conformance matrix")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "realtime_clause(id): a clause of the realtime conformance contract")
    ProviderFixtures._live_flag = bool(config.getoption("--realtime-live", default=False))  # pyright: ignore[reportPrivateUsage]
    config.stash[_KEY] = {}


def _describe(item: pytest.Item) -> dict[str, Any] | None:
    marker = item.get_closest_marker("realtime_clause")
    if marker is None:
        return None
    instance = getattr(item, "instance", None)
    if not isinstance(instance, ProviderFixtures):
        return None
    clause_id = marker.args[0]
    info: dict[str, Any] = {"clause": clause_id, "provider": instance.provider}
    if clause_id in CLAUSES:
        info["promise"] = CLAUSES[clause_id].promise
    info["label"] = instance.label or instance.provider
    info["mode"] = "live" if instance.live_mode else "offline"
    # a provider that cannot even be built is reported by the tests themselves
    with contextlib.suppress(BaseException):
        spec = instance.spec()
        info["distribution"], info["version"] = spec.distribution, spec.version
        info["model"] = instance.session_options.get("model") or spec.default_model
        info["capabilities"] = instance.requirements.capabilities.model_dump(mode="json")
    return info


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        info = _describe(item)
        if info is not None:
            report.user_properties.append(("realtime_conformance", json.dumps(info)))


def _outcome(report: pytest.TestReport) -> tuple[Outcome, str]:
    if hasattr(report, "wasxfail"):
        return "unsupported", str(report.wasxfail)
    if report.skipped:
        longrepr = report.longrepr
        reason = (longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)).removeprefix("Skipped: ")
        if reason.startswith(NOT_APPLICABLE):
            return "not_applicable", reason.removeprefix(NOT_APPLICABLE)
        return "not_exercised", reason.removeprefix(NOT_EXERCISED)
    if report.failed:
        text = str(report.longrepr).strip()
        if "stale declaration" in text:
            return "stale", text.splitlines()[-1]
        if report.when != "call":
            return "failed", f"the clause could not start ({report.when}): {text.splitlines()[-1]}"
        lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
        return "failed", " ".join(lines) or text
    return "passed", ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    found = [json.loads(str(v)) for k, v in report.user_properties if k == "realtime_conformance"]
    if not found:
        return
    info = found[-1]
    config = _config
    if config is None:
        return
    reports = config.stash[_KEY]
    rep = reports.get(info["label"])
    if rep is None:
        rep = reports[info["label"]] = Report(
            provider=info["provider"],
            label=info["label"],
            distribution=info.get("distribution"),
            version=info.get("version"),
            model=info.get("model"),
            mode=info.get("mode", "offline"),
            capabilities=info.get("capabilities") or {},
        )
    outcome, reason = _outcome(report)
    rep.results = [r for r in rep.results if r.clause != info["clause"]]
    promise = CLAUSES[info["clause"]].promise if info["clause"] in CLAUSES else info.get("promise", "")
    rep.results.append(ClauseResult(info["clause"], outcome, reason, round(report.duration, 3), promise))


_config: pytest.Config | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _config
    _config = session.config


def collected_reports(config: pytest.Config) -> list[Report]:
    order = list(CLAUSES)
    reports = list(config.stash.get(_KEY, {}).values())
    for rep in reports:
        rep.results.sort(key=lambda r: order.index(r.clause) if r.clause in order else len(order))
    return reports


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: the controller writes the report
        return
    reports = collected_reports(config)
    json_path = config.getoption("--realtime-report")
    md_path = config.getoption("--realtime-markdown")
    if json_path:
        Path(json_path).write_text(json.dumps({"reports": [r.to_json() for r in reports]}, indent=2), encoding="utf-8")
    if md_path:
        Path(md_path).write_text(markdown_matrix(reports), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    reports = collected_reports(config)
    if not reports:
        return
    terminalreporter.section("realtime conformance")
    for rep in reports:
        passed = rep.counts().get("passed", 0)
        others = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(rep.counts().items()) if k != "passed")
        terminalreporter.write_line(f"{rep.label} ({rep.mode}): {passed}/{rep.applicable} applicable clauses passed; {others}")
        for r in rep.of("failed", "stale"):
            terminalreporter.write_line(f"  {r.outcome.upper():<7} {r.clause}: {r.reason}")
    missing = [(rep, r) for rep in reports for r in rep.of("not_exercised")]
    if missing:
        terminalreporter.section("NOT EXERCISED: these clauses apply but were not checked", sep="!")
        for rep, r in missing:
            terminalreporter.write_line(f"  {rep.label}: {r.clause} (promise {r.promise}): {r.reason}")
