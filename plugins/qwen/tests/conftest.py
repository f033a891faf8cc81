"""Fixtures: a real Qwen emulator on 127.0.0.1 and sessions pointed at it (torn down after each test).

``REALTIME_TEST_LATENCY=realistic`` runs every test against emulators with realistic latency (about 450 ms to
a reply's first audio, real-time pacing) instead of none; tests that name a latency keep theirs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio

from realtime_core.emulator import Scenario
from realtime_core.testing import EventRecorder, pending_tasks
from realtime_qwen import QwenRealtime
from realtime_qwen.emulator import QwenEmulator

from .helpers import FAST_RECONNECT, EmulatorFactory, RecorderFactory


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[EmulatorFactory]:
    """``emu = await emulator(scenario, **options)``: a started emulator, stopped after the test."""
    made: list[QwenEmulator] = []

    async def make(scenario: Scenario | None = None, **options: Any) -> QwenEmulator:
        options.setdefault("latency", os.environ.get("REALTIME_TEST_LATENCY") or None)
        emu = QwenEmulator(scenario=scenario, **options)
        await emu.start()
        made.append(emu)
        return emu

    yield make
    for emu in made:
        await emu.stop()


@pytest_asyncio.fixture
async def session() -> AsyncIterator[Callable[..., QwenRealtime]]:
    """``s = session(emu, **options)``: an unconnected session for ``emu``, closed after the test."""
    made: list[QwenRealtime] = []

    def make(emu: QwenEmulator, **options: Any) -> QwenRealtime:
        options.setdefault("reconnect", FAST_RECONNECT)
        s = QwenRealtime(**{**emu.session_options(), **options})
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
