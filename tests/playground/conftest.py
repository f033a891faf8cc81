"""Fixtures: the playground server in-process, and headless Chromium (Debian's) driven by Playwright.

Chromium comes from the system (``apt-get install chromium``; ``scripts/bootstrap`` installs it), never
from Playwright's own download. Without it the browser tests fail on CI and are skipped elsewhere, with
the reason.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, async_playwright

from realtime_core.playground.server import PlaygroundServer

from .helpers import CHROMIUM, chromium_args, write_speech_wav

ServerFactory = Callable[..., Awaitable[PlaygroundServer]]


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers it, but tests also run with -p no:xdist (and --strict-markers)
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker (--dist loadgroup)")


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM}: run scripts/bootstrap (apt-get install chromium) or set REALTIME_CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def mic_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_speech_wav(tmp_path_factory.mktemp("mic") / "speech.wav")


@pytest_asyncio.fixture
async def playground() -> AsyncIterator[ServerFactory]:
    """``server = await playground(**options)``: a started PlaygroundServer on a free port, stopped after."""
    made: list[PlaygroundServer] = []

    async def make(**options: Any) -> PlaygroundServer:
        options.setdefault("port", 0)
        server = PlaygroundServer(**options)
        await server.start()
        made.append(server)
        return server

    yield make
    for server in made:
        await server.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()
_DUMP = """() => [document.querySelector('#status').textContent,
                  ...[...document.querySelectorAll('#timeline li')].map((li) => li.textContent),
                  JSON.stringify(window.playground)].join('\\n')"""


@pytest_asyncio.fixture
async def browser(
    chromium: Path, mic_wav: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[BrowserContext]:
    """A fresh headless Chromium (own profile directory) with a fake microphone and camera.

    ``bypass_csp`` only lets Playwright evaluate its wait conditions; the page's own requests are checked
    separately (everything from the playground server itself).
    """
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(chromium),
            headless=True,
            args=chromium_args(mic_wav),
            bypass_csp=True,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield context
            if request.node.stash.get(_FAILED, False):
                for tab in context.pages:  # what each tab showed, for the failure report
                    if tab.url.startswith("http"):
                        print(f"--- {tab.url}\n" + await tab.evaluate(_DUMP))
        finally:
            await context.close()
