"""Fixtures: a real emulator on 127.0.0.1 and sessions pointed at it (torn down after each test)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio

from realtime_core.emulator import Scenario
from realtime_core.testing import EventRecorder, pending_tasks
from realtime_openai import OpenAIRealtime
from realtime_openai.emulator import OpenAIEmulator

from .helpers import FAST_RECONNECT, EmulatorFactory, RecorderFactory

LATENCY = os.environ.get("REALTIME_TEST_LATENCY", "none")
"""The emulators' latency profile: ``none`` (the default) or ``realistic`` (run the suite under both)."""


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[EmulatorFactory]:
    """``emu = await emulator(scenario, **options)``: a started emulator, stopped after the test."""
    made: list[OpenAIEmulator] = []

    async def make(scenario: Scenario | None = None, **options: Any) -> OpenAIEmulator:
        options.setdefault("latency", LATENCY)
        emu = OpenAIEmulator(scenario=scenario, **options)
        await emu.start()
        made.append(emu)
        return emu

    yield make
    for emu in made:
        await emu.stop()


@pytest_asyncio.fixture
async def session() -> AsyncIterator[Callable[..., OpenAIRealtime]]:
    """``s = session(emu, **options)``: an unconnected session for ``emu``, closed after the test."""
    made: list[OpenAIRealtime] = []

    def make(emu: OpenAIEmulator, **options: Any) -> OpenAIRealtime:
        options.setdefault("reconnect", FAST_RECONNECT)
        s = OpenAIRealtime(**{**emu.session_options(), **options})
        made.append(s)
        return s

    yield make
    for s in made:
        await s.close()
        leftover = pending_tasks(s)
        assert not leftover, f"tasks left running: {[t.get_name() for t in leftover]}"


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[RecorderFactory]:
    """``rec = await recorder(s)``: an :class:`EventRecorder` of ``s``'s events from now on, closed after the test."""
    async with contextlib.AsyncExitStack() as stack:
        yield lambda s: stack.enter_async_context(EventRecorder(s))
