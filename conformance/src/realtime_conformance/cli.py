"""The ``realtime-conformance`` command.

    realtime-conformance PROVIDER[:VARIANT] [...] [--option KEY=VALUE ...] [--live]
                         [--report r.json] [--markdown r.md] [--allow-not-exercised] [-k EXPR] [-x] [-v]
    realtime-conformance init NAME [--dir DIR]         # a new provider plugin from the template
    realtime-conformance matrix REPORT.json [...] [-o matrix.md]
    realtime-conformance clauses                        # every clause, the promise it checks, what it needs

``PROVIDER:VARIANT`` runs a configuration the plugin names in its registration (``ProviderSpec.variants``);
the variants named ``text`` and ``manual`` are also what the text-reply and manual-turn clauses use.

Exit status: 0 when every applicable clause passed (declared-unsupported operations refused as declared);
1 when a clause failed; 2 on usage errors; 3 when nothing failed but some applicable clauses could not be
exercised (listed under NOT EXERCISED), unless ``--allow-not-exercised``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .configurations import CONFIGURATIONS, Configuration

__all__ = ["Configuration", "configuration", "main", "run_suite"]

_SUBCOMMANDS = ("init", "matrix", "clauses")
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_EXERCISED = 3


def configuration(target: str, options: Sequence[str], *, live: bool = False) -> Configuration:
    """``PROVIDER`` or ``PROVIDER:VARIANT`` with ``--option`` pairs, checked against the provider's options.

    :raises ConfigurationError: an unknown provider, variant or option, or a value of the wrong type.
    """
    from realtime_core import ConfigurationError, get_provider
    from realtime_core.options import parse_cli_options

    from .fixtures import spec_variants

    name, _, variant = target.partition(":")
    spec = get_provider(name)
    session_options: dict[str, Any] = {}
    if variant:
        variants = spec_variants(spec) or {}
        if variant not in variants:
            known = ", ".join(sorted(variants)) or "none"
            raise ConfigurationError(f"{name} names no variant {variant!r} (its variants: {known})")
        session_options.update(variants[variant])
    if options:
        session_class = spec.resolve_session_class()
        if not isinstance(session_class, type):
            raise ConfigurationError(f"{name}'s session factory does not describe its options; --option needs a class")
        session_options.update(parse_cli_options(name, session_class, options))
    label = target + "".join(f" {pair}" for pair in options)
    return Configuration(name, label, session_options, live)


_TEST_MODULE = textwrap.dedent(
    """\
    from realtime_conformance import ConformanceSuite, ProviderFixtures
    from realtime_conformance.configurations import CONFIGURATIONS

    for _i, _config in enumerate(CONFIGURATIONS):
        globals()[f"TestConformance_{_i}"] = type(
            f"TestConformance_{_i}",
            (ConformanceSuite, ProviderFixtures),
            {
                "provider": _config.provider,
                "label": _config.label,
                "session_options": _config.session_options,
                "live": _config.live,
            },
        )
    """
)


class _Collector:
    """Keeps the reports of an in-process pytest run."""

    def __init__(self) -> None:
        self.reports: list[Any] = []

    def pytest_sessionfinish(self, session: Any) -> None:
        from .pytest_plugin import collected_reports

        self.reports = collected_reports(session.config)


def run_suite(
    configurations: Sequence[Configuration],
    *,
    report: str | None = None,
    markdown: str | None = None,
    pytest_args: Sequence[str] = (),
    allow_not_exercised: bool = False,
) -> int:
    """Run the whole suite against each configuration; return the exit status (see the module docstring)."""
    import pytest

    CONFIGURATIONS[:] = list(configurations)
    collector = _Collector()
    with tempfile.TemporaryDirectory(prefix="realtime-conformance-") as tmp:
        root = Path(tmp)
        (root / "test_realtime_conformance.py").write_text(_TEST_MODULE, encoding="utf-8")
        (root / "pytest.ini").write_text(
            "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8"
        )
        args = [str(root), "-c", str(root / "pytest.ini"), "--rootdir", str(root), "-p", "no:cacheprovider", "-q",
                "--tb=line", "-p", "no:xdist",
                # this process already imported the kit (and pytest-asyncio), so pytest cannot rewrite them
                "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # fmt: skip
        if report:
            args += ["--realtime-report", str(Path(report).resolve())]
        if markdown:
            args += ["--realtime-markdown", str(Path(markdown).resolve())]
        status = int(pytest.main([*args, *pytest_args], plugins=[collector]))
    CONFIGURATIONS.clear()
    reports = collector.reports
    if not reports:
        return status or EXIT_FAILED
    if not all(r.ok for r in reports):
        return EXIT_FAILED
    if not allow_not_exercised and not all(r.complete for r in reports):
        return EXIT_NOT_EXERCISED
    return 0


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
    from .report import promise_key

    for cid, info in sorted(CLAUSES.items(), key=lambda item: promise_key(item[1].promise)):
        needs = [*info.requires, *(f"observes {o}" for o in info.observes)]
        extra = f"  [needs {', '.join(needs)}]" if needs else ""
        print(f"{info.promise:<5} {cid:<42} {info.summary}{extra}")
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
            description="Check realtime provider plugins against the contract (docs/contract.md). "
            "Subcommands: init NAME, matrix REPORTS, clauses.",
        )
        parser.add_argument("providers", nargs="+", metavar="PROVIDER[:VARIANT]")
        parser.add_argument("--live", action="store_true", help="against the real service (key from the environment)")
        parser.add_argument("--report", metavar="JSON", help="write a JSON report")
        parser.add_argument("--markdown", metavar="MD", help="write a Markdown matrix")
        parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                            help="a session option of the provider (repeatable; JSON values allowed)")  # fmt: skip
        parser.add_argument("--allow-not-exercised", action="store_true",
                            help="exit 0 even if some applicable clauses could not be exercised")  # fmt: skip
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
        configurations = [configuration(target, args.option, live=args.live) for target in args.providers]
        return run_suite(
            configurations,
            report=args.report,
            markdown=args.markdown,
            pytest_args=extra,
            allow_not_exercised=args.allow_not_exercised,
        )
    except Exception as exc:  # one readable line, as the core CLI does
        from realtime_core import RealtimeError

        if isinstance(exc, (RealtimeError, OSError, ValueError)):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise


if __name__ == "__main__":
    sys.exit(main())
