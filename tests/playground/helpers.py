"""Helpers for the playground's browser tests: the fake microphone, Chromium's flags, page steps."""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from playwright.async_api import Page

from realtime_core.playground.server import PlaygroundServer

CHROMIUM = Path(os.environ.get("REALTIME_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("REALTIME_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts")) / "playground"
TIMEOUT_MS = 60_000  # generous: the machine may be busy; nothing here measures speed

MIC_RATE = 48000
SPEECH_S = 1.2
LEAD_S = 0.3
TRAIL_S = 3.0


def write_speech_wav(path: Path) -> Path:
    """A stand-in utterance for Chromium's fake microphone: 16-bit PCM mono WAV (what Chromium's
    file-backed fake capture reads), a voiced 220 Hz sound with syllable-like 4 Hz loudness changes
    (the emulators' energy VAD hears it as speech; a steady tone could be eaten by Chromium's noise
    suppression), then enough silence for the VAD to end the turn."""
    t = np.arange(int(SPEECH_S * MIC_RATE)) / MIC_RATE
    voice = sum(a * np.sin(2 * np.pi * 220 * k * t) for k, a in ((1, 0.25), (2, 0.08), (3, 0.04)))
    speech = voice * (0.65 + 0.35 * np.sin(2 * np.pi * 4 * t))
    signal = np.concatenate([np.zeros(int(LEAD_S * MIC_RATE)), speech, np.zeros(int(TRAIL_S * MIC_RATE))])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(MIC_RATE)
        out.writeframes((signal * 32767).astype(np.int16).tobytes())
    return path


def chromium_args(mic_wav: Path) -> list[str]:
    """Flags that work on a headless Linux box without a GPU, sandbox privileges or network, and a fake
    microphone that plays ``mic_wav`` once (``%noloop``) each time the page opens the microphone."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic_wav}%noloop",
    ]


async def start_call(page: Page, server: PlaygroundServer, provider: str) -> str:
    """Open the page, pick ``provider``, press Start, wait until connected; returns the call id."""
    await page.goto(server.url)
    await page.wait_for_selector('#status[data-state="idle"]', timeout=TIMEOUT_MS)
    await page.select_option("#provider", provider)
    await page.click("#start")
    await page.wait_for_selector('#status[data-state="connected"]', timeout=TIMEOUT_MS)
    await until(page, "window.playground.micOn")
    call_id = await page.evaluate("() => window.playground.callId")
    if not isinstance(call_id, str) or call_id not in server.bridges:
        raise AssertionError(f"page call {call_id!r}; server: open {list(server.bridges)}, closed {list(server.closed)}")
    return call_id


async def until(page: Page, condition: str) -> None:
    """Wait until the JS expression ``condition`` holds in the page, checked every 100 ms (a timer rather
    than animation frames, which a busy or hidden page may skip)."""
    await page.wait_for_function(f"() => {condition}", polling=100, timeout=TIMEOUT_MS)


def timeline(kind: str, **data: str) -> str:
    """A selector for a timeline entry of ``kind`` with the given data attributes."""
    attrs = "".join(f'[data-{key}="{value}"]' for key, value in data.items())
    return f'#timeline li[data-kind="{kind}"]{attrs}'


@dataclass
class PageLog:
    """What a tab did besides its DOM: uncaught script errors and every URL it requested."""

    script_errors: list[str] = field(default_factory=list[str])
    requests: list[str] = field(default_factory=list[str])

    def foreign_requests(self, server: PlaygroundServer) -> list[str]:
        """Requests that did not go to the playground itself (the page must work offline: no CDN)."""
        origin = server.url.rstrip("/")
        return [url for url in self.requests if not url.startswith((origin + "/", "blob:", "data:"))]


def watch(page: Page) -> PageLog:
    log = PageLog()
    page.on("pageerror", lambda exc: log.script_errors.append(str(exc)))
    page.on("request", lambda request: log.requests.append(request.url))
    return log


async def page_errors(page: Page) -> list[dict[str, str]]:
    """The errors the page has shown (it never swallows one)."""
    return await page.evaluate("() => window.playground.errors")
