"""The ``@clause`` decorator: a test method becomes a named clause that checks one numbered promise of
docs/contract.md, gated on what it needs, bounded in time, and failing with a message that names the
promise, what was expected and what happened."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from realtime_core import RealtimeError

__all__ = [
    "CLAUSES",
    "ClauseFailure",
    "ClauseInfo",
    "clause",
    "expect",
    "failure_detail",
    "not_applicable",
    "not_exercised",
]

NOT_EXERCISED = "not exercised: "
NOT_APPLICABLE = "not applicable: "


@dataclass(frozen=True)
class ClauseInfo:
    """Metadata of one clause: ``id`` is ``"<area>.<name>"``.

    :ivar promise: the number of the promise in docs/contract.md this clause checks.
    :ivar summary: what the clause checks (its docstring's first paragraph, whole).
    :ivar requires: capability flags (or :class:`~realtime_conformance.Requirements` properties) it needs.
    :ivar observes: facts and audio counts (``realtime_core.emulator.FACTS``/``AUDIO_ACCOUNTING``) the
        emulator must declare in ``observes`` for the clause to be able to see what it checks.
    :ivar offline_only: it needs the emulator; a live run reports it as not applicable.
    :ivar budget: seconds the whole clause may take offline (three times as much live).
    """

    area: str
    name: str
    promise: str
    summary: str
    requires: tuple[str, ...]
    observes: tuple[str, ...]
    offline_only: bool
    budget: float

    @property
    def id(self) -> str:
        return f"{self.area}.{self.name}"


CLAUSES: dict[str, ClauseInfo] = {}
"""Every clause of the suite, by id, in definition order."""


class ClauseFailure(AssertionError):
    """A promise is broken: what the clause expected, and what it got instead."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"expected {expected}; got {actual}")
        self.expected = expected
        self.actual = actual


def expect(condition: object, expected: str, actual: object) -> None:
    """Fail the clause unless ``condition`` holds; ``expected`` and ``actual`` go into the message."""
    if not condition:
        raise ClauseFailure(expected, str(actual))


def not_exercised(reason: str) -> None:
    """The clause applies to this configuration but cannot be checked (reported, never silent)."""
    pytest.skip(NOT_EXERCISED + reason)


def not_applicable(reason: str) -> None:
    """The promise does not apply to this configuration."""
    pytest.skip(NOT_APPLICABLE + reason)


def failure_detail(exc: BaseException) -> str:
    """What went wrong, readable without a traceback: expected, then what happened."""
    if isinstance(exc, AssertionError):
        text = str(exc).strip()
        return text or "expected the check to hold; got a bare AssertionError (a kit bug: report it)"
    if isinstance(exc, TimeoutError):
        return f"expected it within its timeout; got: {exc or 'a timeout'}"
    if isinstance(exc, RealtimeError):
        return f"expected no error; the session raised {type(exc).__name__}: {exc}"
    return f"expected no exception; got {type(exc).__name__}: {exc}"


def _summary(fn: Callable[..., Any], name: str) -> str:
    doc = inspect.cleandoc(fn.__doc__ or name)
    return " ".join(doc.split("\n\n", 1)[0].split())


def clause(
    name: str,
    *,
    promise: str,
    requires: tuple[str, ...] = (),
    observes: tuple[str, ...] = (),
    offline_only: bool = False,
    budget: float = 30.0,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a test method as clause ``name`` of its module's area, checking contract promise ``promise``.

    A clause whose ``requires`` are not met still runs, expecting to fail: it is reported ``unsupported``
    when it fails and as a **stale declaration** (a failure) when it passes. A clause whose ``observes``
    the emulator does not declare is reported *not exercised*. Every other failure names the promise.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        area = fn.__module__.rsplit(".", 1)[-1]
        info = ClauseInfo(area, name, promise, _summary(fn, name), requires, observes, offline_only, budget)
        CLAUSES[info.id] = info

        @functools.wraps(fn)
        async def run(self: Any, *args: Any, **kwargs: Any) -> None:
            self.current_clause = info
            if offline_only and self.live_mode:
                not_applicable("live mode: the clause needs the emulator (scenarios, faults or facts)")
            reason = self.expected_failure(info)
            self.expecting_failure = reason is not None
            limit = info.budget * (3 if self.live_mode else 1)
            failure = await _run_bounded(fn(self, *args, **kwargs), limit)
            if reason is None:
                if failure is not None:
                    pytest.fail(f"promise {info.promise} broken ({info.id}: {info.summary}): {failure}", pytrace=False)
                return
            if failure is not None:
                pytest.xfail(f"unsupported: {reason} ({failure})")
            pytest.fail(
                f"stale declaration (promise {info.promise}, {info.id}): {reason}, yet the clause passes; "
                "declare the capability (or remove the known failure)",
                pytrace=False,
            )

        run.clause_info = info  # type: ignore[attr-defined]
        return pytest.mark.asyncio(pytest.mark.realtime_clause(info.id)(run))

    return decorate


async def _run_bounded(coro: Any, limit: float) -> str | None:
    """Run a clause body within ``limit`` seconds; None when it passed, else what went wrong. Skips and
    pytest outcomes pass through."""
    try:
        async with asyncio.timeout(limit):
            try:
                await coro
            except pytest.fail.Exception as exc:
                return str(exc.msg)
            except Exception as exc:  # the budget's own expiry is a CancelledError in here, not caught
                return failure_detail(exc)
    except TimeoutError:
        return f"expected the clause to finish within its {limit:g} s budget; it was still waiting (a hang)"
    return None
