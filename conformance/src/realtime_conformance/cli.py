"""The ``realtime-conformance`` command.

    realtime-conformance PROVIDER [PROVIDER ...] [--live] [--report r.json] [--markdown r.md]
                         [--option KEY=VALUE ...] [-k EXPR] [-x] [-v]
    realtime-conformance init NAME [--dir DIR]         # a new provider plugin from the template
    realtime-conformance matrix REPORT.json [...] [-o matrix.md]
    realtime-conformance clauses                        # list every clause

Exit status: 0 when every clause passed or is honestly unsupported, 1 otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "run_suite"]

_SUBCOMMANDS = ("init", "matrix", "clauses")


def _parse_options(items: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --option takes KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def run_suite(
    providers: Sequence[str],
    *,
    live: bool = False,
    report: str | None = None,
    markdown: str | None = None,
    options: dict[str, Any] | None = None,
    pytest_args: Sequence[str] = (),
) -> int:
    """Run the whole suite against each installed provider; return pytest's exit status."""
    import pytest

    from realtime_core import get_provider

    for name in providers:
        get_provider(name)  # fail early, with the list of what is installed
    with tempfile.TemporaryDirectory(prefix="realtime-conformance-") as tmp:
        root = Path(tmp)
        classes = "\n\n".join(
            textwrap.dedent(
                f"""\
                class TestConformance_{i}(ConformanceSuite, ProviderFixtures):
                    provider = {name!r}
                    session_options = {options or {}!r}
                    live = {live!r}
                """
            )
            for i, name in enumerate(providers)
        )
        (root / "test_realtime_conformance.py").write_text(
            "from realtime_conformance import ConformanceSuite, ProviderFixtures\n\n\n" + classes, encoding="utf-8"
        )
        (root / "pytest.ini").write_text(
            "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8"
        )
        args = [str(root), "-c", str(root / "pytest.ini"), "--rootdir", str(root), "-p", "no:cacheprovider", "-q",
                # this process already imported the kit (and pytest-asyncio), so pytest cannot rewrite them
                "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        if report:
            args += ["--realtime-report", str(Path(report).resolve())]
        if markdown:
            args += ["--realtime-markdown", str(Path(markdown).resolve())]
        return int(pytest.main([*args, *pytest_args]))


def _cmd_init(argv: Sequence[str]) -> int:
    from .template import render_plugin

    parser = argparse.ArgumentParser(prog="realtime-conformance init", description="Create a provider plugin from the template.")
    parser.add_argument("name", help="provider name, lower case (e.g. acme)")
    parser.add_argument("--dir", default=".", help="where to create realtime-NAME/ (default: here)")
    args = parser.parse_args(argv)
    target = render_plugin(args.name, Path(args.dir))
    print(f"Created {target}")
    print(f"Next: pip install -e {target} && realtime-conformance {args.name}")
    return 0


def _cmd_matrix(argv: Sequence[str]) -> int:
    from .report import load_reports, markdown_matrix

    parser = argparse.ArgumentParser(prog="realtime-conformance matrix", description="Merge JSON reports into a Markdown matrix.")
    parser.add_argument("reports", nargs="+")
    parser.add_argument("-o", "--output", help="write here instead of printing")
    args = parser.parse_args(argv)
    text = markdown_matrix(load_reports(args.reports))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


def _cmd_clauses() -> int:
    from . import suite  # noqa: F401  (defining the suite registers the clauses)
    from .clauses import CLAUSES

    for cid, info in CLAUSES.items():
        needs = f"  [needs {', '.join(info.requires)}]" if info.requires else ""
        print(f"{cid:<45} {info.summary}{needs}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] in _SUBCOMMANDS:
            command, rest = args_list[0], args_list[1:]
            if command == "init":
                return _cmd_init(rest)
            if command == "matrix":
                return _cmd_matrix(rest)
            return _cmd_clauses()
        parser = argparse.ArgumentParser(
            prog="realtime-conformance",
            description="Check realtime provider plugins against the event contract "
            "(subcommands: init NAME, matrix REPORTS, clauses).",
        )
        parser.add_argument("providers", nargs="+", metavar="PROVIDER")
        parser.add_argument("--live", action="store_true", help="against the real service (key from the environment)")
        parser.add_argument("--report", metavar="JSON", help="write a JSON report")
        parser.add_argument("--markdown", metavar="MD", help="write a Markdown matrix")
        parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="session option")
        parser.add_argument("-k", dest="keyword", help="only clauses matching this pytest -k expression")
        parser.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
        parser.add_argument("-v", "--verbose", action="store_true")
        args = parser.parse_args(args_list)
        extra: list[str] = []
        if args.keyword:
            extra += ["-k", args.keyword]
        if args.exitfirst:
            extra.append("-x")
        if args.verbose:
            extra.append("-v")
        return run_suite(
            args.providers,
            live=args.live,
            report=args.report,
            markdown=args.markdown,
            options=_parse_options(args.option),
            pytest_args=extra,
        )
    except Exception as exc:  # one readable line, as the core CLI does
        from realtime_core import RealtimeError

        if isinstance(exc, (RealtimeError, OSError, ValueError)):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
