"""The playground in a real browser: headless Chromium, a fake microphone, every bundled provider's emulator.

Each test starts the playground server in-process (``--emulator``: one emulator per call), opens the page
in Chromium, presses Start and lets the fake microphone speak one utterance (a WAV played once when the
page opens the microphone). Everything is awaited on page or server conditions with generous timeouts;
audio energy is measured in the page with a WebAudio AnalyserNode on the agent's remote track.

Screenshots go to ``artifacts/playground/`` (git-ignored; ``REALTIME_ARTIFACTS`` moves it). The README's
docs/playground.png is ``echo-openai.png``: refresh it with ``cp artifacts/playground/echo-openai.png docs/playground.png``
after a run.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, Page

from realtime_core import SessionState
from realtime_core.emulator import Fault, Reply, Scenario, ToolCallSpec, Turn
from realtime_core.playground.bridge import Bridge
from realtime_core.playground.server import PlaygroundServer

from .conftest import ServerFactory
from .helpers import ARTIFACTS, TIMEOUT_MS, page_errors, start_call, timeline, until, watch

PROVIDERS = ["openai", "gemini", "nova", "qwen"]
AUDIBLE = 0.01  # RMS of the agent's track while it speaks (a 0.3-amplitude tone measures about 0.2)
SILENT = 0.003

# one browser at a time (`make test` runs with --dist loadgroup): each test runs Chromium plus every call's
# audio on two cores shared with the rest of the suite
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), pytest.mark.xdist_group("browser")]

# On a busy machine a first connect can take longer than the default 10 s (Nova's loads the AWS SDK
# inside connect(): about 4 s when idle); these tests are about the browser path, not connect speed.
PATIENT = {"connect_timeout": 60.0}

SCRIPT = Scenario(
    name="playground-test",
    turns=[
        Turn(
            on="speech",
            user_transcript="What time is it?",
            reply=Reply(text="", audio="none", tool_calls=[ToolCallSpec(name="get_time", arguments={"timezone": "UTC"})]),
            after_tools=Reply(text="It is time to test the playground.", audio="tone", audio_ms=2000),
        ),
        Turn(
            on="speech",
            user_transcript="Tell me a long story.",
            # long, and streamed at real-time pace, so the reply is still arriving when Interrupt is pressed
            reply=Reply(text="Once upon a time, a very long story began.", audio="tone", audio_ms=30000,
                        chunk_ms=100, chunk_interval_ms=100),
        ),
    ],
    when_exhausted="echo",
)


def screenshot_path(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


async def wait_closed(server: PlaygroundServer, call_id: str) -> Bridge:
    await server.wait_until(lambda: call_id not in server.bridges, timeout=60)
    return next(b for b in server.closed if b.id == call_id)


def assert_ended(bridge: Bridge) -> None:
    assert bridge.session is not None and bridge.session.state is SessionState.CLOSED, bridge.session
    assert not bridge.session.connected
    assert bridge.track.readyState == "ended"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_spoken_turns_tool_call_interrupt_text_and_close(
    provider: str, playground: ServerFactory, browser: BrowserContext
) -> None:
    server = await playground(provider=provider, emulator=True, scenario=SCRIPT, options=PATIENT)
    page = await browser.new_page()
    log = watch(page)
    call_id = await start_call(page, server, provider)
    bridge = server.bridges[call_id]
    assert bridge.provider == provider and bridge.emulator is not None and bridge.session is not None
    caps = bridge.session.capabilities

    # turn 1: the utterance is heard, the tool runs, the agent answers with audio the page can hear
    if caps.user_speech_events:  # Nova's protocol has no speech started/stopped events
        await page.wait_for_selector(timeline("user speech started"), timeout=TIMEOUT_MS)
    await page.wait_for_selector(timeline("tool call", tool="get_time"), timeout=TIMEOUT_MS)
    assert 'get_time({"timezone":"UTC"})' in await page.inner_text(timeline("tool call", tool="get_time"))
    result = page.locator(timeline("tool result", tool="get_time"))
    await result.wait_for(timeout=TIMEOUT_MS)
    assert re.search(r'"time":"\d\d:\d\d:\d\d"', await result.inner_text()), await result.inner_text()
    assert await result.get_attribute("data-failed") == "false"
    await until(page, f"window.playground.agentPeak > {AUDIBLE}")
    await page.locator('.bubble.user[data-final="true"] p', has_text="What time is it?").wait_for(timeout=TIMEOUT_MS)
    await page.locator(
        '.bubble.agent[data-final="true"] p', has_text="It is time to test the playground."
    ).wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_selector('#turns tr[data-reply="done"]', timeout=TIMEOUT_MS)
    await until(page, f"window.playground.agentLevel < {SILENT}")
    await page.screenshot(path=screenshot_path(f"turn-{provider}"))

    # turn 2: mute and unmute (the fake microphone speaks again); Interrupt cuts the long reply
    await page.evaluate("() => { window.playground.agentPeak = 0; }")  # measure turn 2's reply on its own
    await page.click("#mute")
    await until(page, "!window.playground.micOn")
    await page.click("#mute")
    await until(page, "window.playground.micOn")
    await page.locator(timeline("agent speech started")).nth(1).wait_for(timeout=TIMEOUT_MS)
    await until(page, f"window.playground.agentPeak > {AUDIBLE}")
    await page.click("#interrupt")
    await page.wait_for_selector(timeline("interrupted", source="local"), timeout=TIMEOUT_MS)
    await page.wait_for_selector(timeline("audio done", interrupted="true"), timeout=TIMEOUT_MS)
    await until(page, f"window.playground.agentLevel < {SILENT}")
    row = page.locator('#turns tr[data-reply="interrupted"]')
    await row.wait_for(timeout=TIMEOUT_MS)
    response_id = await row.get_attribute("data-response")
    assert response_id
    assert bridge.track.queued_ms == 0
    assert 0 < bridge.track.played_ms(response_id) < 25_000  # the browser got only part of the 30 s reply
    # the cut reply's bubble says so (on a loaded machine the looping fake mic may barge in on another too)
    assert await page.locator(f'.bubble.agent.interrupted[data-key="{response_id}"]').count() == 1
    await page.locator(".bubble.user p", has_text="Tell me a long story.").wait_for(timeout=TIMEOUT_MS)

    # typed text, where the provider takes it (all four bundled ones do by default)
    assert caps.text_input
    agents_before = await page.locator(".bubble.agent").count()
    await page.fill("#text", "hello from the keyboard")
    await page.click("#text-form button")
    await page.locator(".bubble.user.typed p", has_text="hello from the keyboard").wait_for(timeout=TIMEOUT_MS)
    await until(page, f"document.querySelectorAll('.bubble.agent').length > {agents_before}")

    # the camera, for providers that take video: frames reach the provider
    if caps.video_input:
        await page.click("#camera")
        await until(page, "window.playground.cameraOn")
        assert bridge.emulator is not None
        frame = await bridge.emulator.wait_fact("video_frame", timeout=TIMEOUT_MS / 1000)
        assert frame.data["size"] > 0
    else:
        assert await page.is_hidden("#camera")

    assert await page_errors(page) == []
    assert log.script_errors == []
    assert log.foreign_requests(server) == []

    # closing the tab ends the session on the server, and the emulator with it
    await page.close()
    closed = await wait_closed(server, call_id)
    assert_ended(closed)
    assert closed.closed_reason


async def test_echo_turn_then_stop(playground: ServerFactory, browser: BrowserContext) -> None:
    """`realtime playground --emulator` as a newcomer sees it: the echo scenario answers a spoken turn."""
    server = await playground(emulator=True, options=PATIENT)
    page = await browser.new_page()
    log = watch(page)
    await page.goto(server.url)
    await page.wait_for_selector('#status[data-state="idle"]', timeout=TIMEOUT_MS)
    assert await page.input_value("#provider") == "openai"  # the default provider
    assert set(await page.eval_on_selector_all("#provider option", "os => os.map(o => o.value)")) >= set(PROVIDERS)
    assert await page.inner_text("#mode") == "emulator · scenario echo"
    assert await page.text_content('#caps dd[data-capability="tools"]') == "yes"

    call_id = await start_call(page, server, "openai")
    await page.locator(".bubble.user p", has_text=re.compile(r"\[\d+\.\d seconds of speech\]")).wait_for(
        timeout=TIMEOUT_MS
    )
    await page.locator(".bubble.agent p", has_text=re.compile(r"You spoke for \d+\.\d seconds")).wait_for(
        timeout=TIMEOUT_MS
    )
    await until(page, f"window.playground.agentPeak > {AUDIBLE}")
    await page.wait_for_selector('#turns tr[data-reply="done"]', timeout=TIMEOUT_MS)
    row = await page.inner_text('#turns tr[data-reply="done"]')
    assert re.search(r"\d+ ms", row), row  # time to first audio
    assert re.search(r"\d+ / \d+", row), row  # tokens in / out
    # the echo has played out: a finished turn, as the README shows it
    await until(page, f"window.playground.agentLevel < {SILENT}")
    await page.screenshot(path=screenshot_path("echo-openai"), full_page=True)
    assert await page_errors(page) == [] and log.script_errors == []
    assert log.foreign_requests(server) == []

    await page.click("#stop")
    await page.wait_for_selector('#status[data-state="ended"]', timeout=TIMEOUT_MS)
    closed = await wait_closed(server, call_id)
    assert_ended(closed)
    assert closed.closed_reason in ("the page hung up", "the page closed")


async def test_two_tabs_are_independent(playground: ServerFactory, browser: BrowserContext) -> None:
    server = await playground(emulator=True, options=PATIENT)
    first, second = await browser.new_page(), await browser.new_page()
    first_id = await start_call(first, server, "gemini")
    second_id = await start_call(second, server, "qwen")
    assert server.bridges.keys() == {first_id, second_id}
    one, two = server.bridges[first_id], server.bridges[second_id]
    assert one.emulator is not two.emulator and one.session is not two.session

    for tab in (first, second):
        await tab.locator(".bubble.agent p", has_text="You spoke for").wait_for(timeout=TIMEOUT_MS)
        await until(tab, f"window.playground.agentPeak > {AUDIBLE}")

    await first.close()
    closed = await wait_closed(server, first_id)
    assert_ended(closed)
    assert second_id in server.bridges and two.session is not None and two.session.connected

    # the other tab carries on
    await second.fill("#text", "still there?")
    await second.click("#text-form button")
    await until(second, "document.querySelectorAll('.bubble.agent').length >= 2")
    assert await page_errors(second) == []
    await second.close()
    assert_ended(await wait_closed(server, second_id))
    assert server.bridges == {}


async def test_start_failure_is_shown(playground: ServerFactory, browser: BrowserContext) -> None:
    """A session that cannot start (here: an option the provider does not take) is shown, not swallowed."""
    server = await playground(emulator=True, provider="gemini", options={"voise": "Kore"})
    page: Page = await browser.new_page()
    await page.goto(server.url)
    await page.wait_for_selector('#status[data-state="idle"]', timeout=TIMEOUT_MS)
    await page.click("#start")
    error = page.locator('#errors .error[data-context="starting the call"]')
    await error.wait_for(timeout=TIMEOUT_MS)
    assert "voise" in await error.inner_text()
    await page.wait_for_selector('#status[data-state="ended"]', timeout=TIMEOUT_MS)
    assert await page.is_enabled("#start")
    await server.wait_until(lambda: not server.bridges, timeout=60)
    (failed,) = server.closed
    assert failed.closed_reason and failed.closed_reason.startswith("could not start")


async def test_provider_errors_and_reconnects_are_shown(playground: ServerFactory, browser: BrowserContext) -> None:
    """A provider error lands in the error list and the timeline; a dropped connection shows as
    disconnected (reconnecting) then reconnected, and the call carries on."""
    flaky = Scenario(
        name="flaky",
        faults=[
            Fault(kind="error", at_turn=0, phase="before_reply", message="Simulated hiccup"),
            Fault(kind="close", at_turn=0, phase="after_reply", code=1011),
        ],
    )
    server = await playground(emulator=True, provider="openai", scenario=flaky, options=PATIENT)
    page = await browser.new_page()
    call_id = await start_call(page, server, "openai")
    error = page.locator("#errors .error", has_text="Simulated hiccup")
    await error.wait_for(timeout=TIMEOUT_MS)
    assert (await error.get_attribute("data-context") or "").startswith("provider")
    await page.wait_for_selector(timeline("disconnected", reconnecting="true"), timeout=TIMEOUT_MS)
    await page.wait_for_selector(timeline("reconnected"), timeout=TIMEOUT_MS)
    await page.wait_for_selector('#status[data-state="connected"]', timeout=TIMEOUT_MS)
    assert call_id in server.bridges
    await page.fill("#text", "are you back?")
    await page.click("#text-form button")
    await page.locator(".bubble.user.typed + .bubble.agent").wait_for(timeout=TIMEOUT_MS)
    (shown,) = await page_errors(page)
    assert "Simulated hiccup" in shown["message"], shown
