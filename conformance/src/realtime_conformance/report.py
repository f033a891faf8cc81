"""Conformance reports: JSON per run, and a Markdown matrix for one or many provider configurations."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .clauses import CLAUSES

__all__ = ["ClauseResult", "Outcome", "Report", "load_reports", "markdown_matrix", "promise_key"]

Outcome = Literal["passed", "failed", "stale", "unsupported", "not_applicable", "not_exercised"]
SYMBOLS: dict[str, str] = {
    "passed": "+",
    "failed": "−",
    "stale": "− stale",
    "unsupported": "n/a",
    "not_applicable": "·",
    "not_exercised": "**?**",
}
LEGEND = (
    "`+` passed · `−` failed (the promise is broken) · `− stale` declared unsupported, yet it works · "
    "`n/a` declared unsupported (checked: the operation is refused or fails as declared) · "
    "`·` does not apply to this configuration · **`?`** not exercised: the clause applies but could not be "
    "checked (the reason is listed below the table)"
)
_APPLICABLE = ("passed", "failed", "stale", "not_exercised")


def promise_key(promise: str) -> tuple[int, ...]:
    """``"10.2"`` as ``(10, 2)``, for sorting clauses in contract order."""
    return tuple(int(p) for p in promise.split(".") if p.isdigit())


@dataclass
class ClauseResult:
    clause: str
    outcome: Outcome
    reason: str = ""
    duration_s: float = 0.0
    promise: str = ""


@dataclass
class Report:
    """The result of one run of the suite against one provider configuration."""

    provider: str
    label: str
    distribution: str | None = None
    version: str | None = None
    model: str | None = None
    mode: Literal["offline", "live"] = "offline"
    capabilities: dict[str, Any] = field(default_factory=dict[str, Any])
    results: list[ClauseResult] = field(default_factory=list[ClauseResult])

    @property
    def ok(self) -> bool:
        """No clause failed (a stale declaration is a failure)."""
        return all(r.outcome not in ("failed", "stale") for r in self.results)

    @property
    def complete(self) -> bool:
        """Every applicable clause was exercised."""
        return all(r.outcome != "not_exercised" for r in self.results)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    @property
    def applicable(self) -> int:
        """Clauses whose promise applies to this configuration (passed, failed, stale or not exercised)."""
        return sum(1 for r in self.results if r.outcome in _APPLICABLE)

    def of(self, *outcomes: str) -> list[ClauseResult]:
        return [r for r in self.results if r.outcome in outcomes]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = {**self.counts(), "applicable": self.applicable}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        results: list[ClauseResult] = []
        for item in data.get("results", []):
            entry = dict(item)
            if entry.get("outcome") == "skipped":  # reports of kit 0.2.0
                entry["outcome"] = "not_applicable"
            results.append(ClauseResult(**entry))
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "results"}
        return cls(**fields, results=results)


def load_reports(paths: list[str | Path]) -> list[Report]:
    reports: list[Report] = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        reports.extend(Report.from_json(item) for item in data.get("reports", [data]))
    return reports


def _order(reports: list[Report]) -> list[str]:
    seen = {r.clause for rep in reports for r in rep.results}
    promises = {r.clause: r.promise for rep in reports for r in rep.results if r.promise}
    promises.update({cid: info.promise for cid, info in CLAUSES.items()})
    defined = list(CLAUSES)

    def key(cid: str) -> tuple[tuple[int, ...], int, str]:
        return (promise_key(promises.get(cid, "99")), defined.index(cid) if cid in defined else len(defined), cid)

    return sorted(seen, key=key)


def markdown_matrix(reports: list[Report]) -> str:
    """A table with one row per clause (in contract order) and one column per configuration, then what was
    not exercised and what failed, with the reasons."""
    if not reports:
        return "_no reports_\n"
    ids = _order(reports)
    lookup = [{res.clause: res for res in rep.results} for rep in reports]
    lines = [
        "| promise | clause | " + " | ".join(r.label for r in reports) + " |",
        "|---|---|" + "---|" * len(reports),
    ]
    for cid in ids:
        info = CLAUSES.get(cid)
        promise = info.promise if info else next((t[cid].promise for t in lookup if cid in t), "")
        cells = [SYMBOLS.get(t[cid].outcome, "?") if cid in t else "" for t in lookup]
        summary = f" — {info.summary}" if info else ""
        lines.append(f"| {promise} | `{cid}`{summary} | " + " | ".join(cells) + " |")
    passed = " | ".join(f"{r.counts().get('passed', 0)}/{r.applicable}" for r in reports)
    lines.append(f"| | **passed / applicable** | {passed} |")
    missing = " | ".join(str(len(r.of("not_exercised"))) for r in reports)
    lines.append(f"| | **not exercised** | {missing} |")
    out = "\n".join(lines) + "\n\n" + LEGEND + "\n"
    for title, outcomes in (("Failed", ("failed", "stale")), ("Not exercised", ("not_exercised",))):
        section = [
            f"- **{rep.label}** `{res.clause}` (promise {res.promise}): {res.reason}"
            for rep in reports
            for res in rep.of(*outcomes)
        ]
        if section:
            out += f"\n### {title}\n\n" + "\n".join(section) + "\n"
    return out
