"""The ``@clause`` decorator: turns a test method into a named, capability-aware contract clause."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from realtime_core import RealtimeError

__all__ = ["CLAUSES", "ClauseInfo", "clause"]


@dataclass(frozen=True)
class ClauseInfo:
    """Metadata of one clause: ``id`` is ``"<area>.<name>"``."""

    area: str
    name: str
    summary: str
    requires: tuple[str, ...]
    offline_only: bool

    @property
    def id(self) -> str:
        return f"{self.area}.{self.name}"


CLAUSES: dict[str, ClauseInfo] = {}
"""Every clause of the suite, by id, in definition order."""

EXPECTED_FAILURES = (AssertionError, TimeoutError, RealtimeError, NotImplementedError)


def clause(
    name: str, *, requires: tuple[str, ...] = (), offline_only: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a test method as clause ``name`` of its module's area.

    :param requires: capability flags (or :class:`Requirements` properties) the clause needs.
    :param offline_only: the clause needs the emulator (scenarios, faults, facts); skipped in live mode.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        area = fn.__module__.rsplit(".", 1)[-1]
        summary = inspect.cleandoc(fn.__doc__ or name).splitlines()[0]
        info = ClauseInfo(area, name, summary, requires, offline_only)
        CLAUSES[info.id] = info

        @functools.wraps(fn)
        async def run(self: Any, *args: Any, **kwargs: Any) -> None:
            if offline_only and self.live_mode:
                pytest.skip("needs the emulator (scripted scenario, faults or facts); not run live")
            reason = self.expected_failure(info)
            if reason is None:
                await fn(self, *args, **kwargs)
                return
            self.expecting_failure = True
            try:
                await fn(self, *args, **kwargs)
            except EXPECTED_FAILURES as exc:
                pytest.xfail(f"unsupported: {reason} ({type(exc).__name__}: {exc})")
            pytest.fail(
                f"stale declaration: {reason}, yet clause {info.id} passes; declare the capability "
                "(or remove the known failure)",
                pytrace=False,
            )

        run.clause_info = info  # type: ignore[attr-defined]
        return pytest.mark.asyncio(pytest.mark.realtime_clause(info.id)(run))

    return decorate
