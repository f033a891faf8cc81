"""Conformance reports: JSON per run, and a Markdown matrix for one or many providers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .clauses import CLAUSES

__all__ = ["ClauseResult", "Report", "load_reports", "markdown_matrix"]

Outcome = Literal["passed", "failed", "unsupported", "skipped", "stale"]
SYMBOLS = {"passed": "+", "failed": "−", "stale": "− (stale)", "unsupported": "n/a", "skipped": "skip"}


@dataclass
class ClauseResult:
    clause: str
    outcome: Outcome
    reason: str = ""
    duration_s: float = 0.0


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
        return all(r.outcome not in ("failed", "stale") for r in self.results)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.counts()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        results = [ClauseResult(**r) for r in data.get("results", [])]
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "results"}
        return cls(**fields, results=results)


def load_reports(paths: list[str | Path]) -> list[Report]:
    reports: list[Report] = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        reports.extend(Report.from_json(item) for item in data.get("reports", [data]))
    return reports


def markdown_matrix(reports: list[Report]) -> str:
    """A table with one row per clause and one column per report: + / − / n/a."""
    if not reports:
        return "_no reports_\n"
    ids = list(CLAUSES) or sorted({r.clause for rep in reports for r in rep.results})
    seen = {r.clause for rep in reports for r in rep.results}
    ids = [i for i in ids if i in seen] + sorted(seen - set(ids))
    header = "| clause | " + " | ".join(r.label for r in reports) + " |"
    lines = [header, "|---|" + "---|" * len(reports)]
    lookup = [{res.clause: res for res in rep.results} for rep in reports]
    for cid in ids:
        cells = []
        for table in lookup:
            res = table.get(cid)
            cells.append(SYMBOLS.get(res.outcome, "?") if res else "")
        summary = CLAUSES[cid].summary if cid in CLAUSES else ""
        lines.append(f"| `{cid}` {('— ' + summary) if summary else ''} | " + " | ".join(cells) + " |")
    totals = " | ".join(f"{r.counts().get('passed', 0)}/{len(r.results)}" for r in reports)
    lines.append(f"| **passed** | {totals} |")
    legend = "\n+ passed · − failed · − (stale) declared unsupported but works · n/a declared unsupported · skip not run\n"
    return "\n".join(lines) + "\n" + legend
