"""Liveness through a fault proxy: a dead path is detected in time, no send blocks while it is dead, and
close() while connect() runs leaves nothing behind (contract promises 1.4 and 10.5)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from realtime_core import (
    PcmData,
    RealtimeDisconnectedEvent,
    RealtimeError,
    RealtimeReconnectedEvent,
    SessionClosedError,
    SessionState,
)
from realtime_core.emulator import Fault

from ..clauses import clause, expect, not_exercised
from ..fixtures import HarnessFactory
from ..harness import CHUNK_MS, SPEECH_RATE, Harness
from .base import SuiteBase, reply_turn, scenario
from .lifecycle import describe_tasks

LIVENESS_S = 1.5
"""The ``liveness_timeout`` the clauses give the session (the default is 10 s: too long for a test)."""
SLACK_S = 1.0
"""Scheduling slack on top of a promised bound."""


def _require_proxied(h: Harness) -> None:
    """The proxy carries TCP; a session whose live path is elsewhere (WebRTC media over UDP) cannot be
    black-holed by it, so the clause is not exercised rather than passed."""
    assert h.proxy is not None
    if h.proxy.open == 0:
        not_exercised("no connection of the session stays on the TCP proxy (its media path is not TCP)")


async def _leftover_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks started since ``before`` that are still running after a short grace (a closing handshake)."""
    leftover = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()}
    if leftover:
        await asyncio.wait(leftover, timeout=1.0)
    return {t for t in leftover if not t.done()}


async def _connect_outcome(task: asyncio.Task[None], timeout: float) -> str:
    """How a connect() that was closed under it ended: "closed" (SessionClosedError) or what else happened."""
    try:
        async with asyncio.timeout(timeout):
            await task
    except SessionClosedError:
        return "closed"
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return f"connect() still running {timeout:g} s after close()"
    except BaseException as exc:
        return f"connect() raised {type(exc).__name__}: {exc}"
    return "connect() returned normally"


class LivenessTests(SuiteBase):
    @clause("dead_path_detected", promise="10.5", offline_only=True)
    async def test_dead_path_detected(self, harness: HarnessFactory) -> None:
        """A black-holed network path (packets silently dropped) is detected within liveness_timeout: one
        unclean disconnected event, then the reconnect policy (a reconnection when reconnection is declared)."""
        h = await harness(scenario(reply_turn()), proxy=True, liveness_timeout=LIVENESS_S)
        assert h.proxy is not None
        _require_proxied(h)
        await self.take_turn(h)
        await self.wait_reply(h)
        mark = h.mark()
        h.proxy.black_hole()
        started = time.monotonic()
        try:
            dropped = await h.wait_for(RealtimeDisconnectedEvent, after=mark, timeout=LIVENESS_S * 2 + SLACK_S)
        except TimeoutError:
            expect(False, f"the dead path detected within liveness_timeout={LIVENESS_S:g} s",
                   f"still {h.session.state.value} after {time.monotonic() - started:.1f} s")  # fmt: skip
            return
        took = time.monotonic() - started
        expect(took <= LIVENESS_S + SLACK_S, f"detection within liveness_timeout={LIVENESS_S:g} s", f"{took:.1f} s")
        expect(not dropped.was_clean, "was_clean=False", "was_clean=True")
        expect(dropped.will_reconnect == h.caps.reconnection, f"will_reconnect={h.caps.reconnection} (as declared)",
               f"will_reconnect={dropped.will_reconnect}")  # fmt: skip
        if h.caps.reconnection:  # new connections through the proxy are not black-holed
            await h.wait_for(RealtimeReconnectedEvent, after=mark, timeout=h.timeout * 2)

    @clause("no_blocking_sends", promise="10.5", offline_only=True)
    async def test_no_blocking_sends(self, harness: HarnessFactory) -> None:
        """While the path is dead, no simple_audio_response call blocks longer than liveness_timeout (audio
        that cannot be sent goes to the gap buffer)."""
        h = await harness(scenario(), proxy=True, liveness_timeout=LIVENESS_S)
        assert h.proxy is not None
        _require_proxied(h)
        mark = h.mark()
        h.proxy.black_hole()
        chunk = PcmData.silence(CHUNK_MS, SPEECH_RATE)
        worst = 0.0
        deadline = time.monotonic() + 2 * LIVENESS_S + SLACK_S
        sent = 0
        after_drop = 0  # sends since the session reported the dead path: a few quick ones settle it
        while time.monotonic() < deadline and after_drop < 10:
            if h.of(RealtimeDisconnectedEvent, after=mark):
                after_drop += 1
            started = time.monotonic()
            try:
                async with asyncio.timeout(LIVENESS_S * 4):
                    await h.session.simple_audio_response(chunk)
            except TimeoutError:
                worst = LIVENESS_S * 4
                break
            except RealtimeError:  # refused (the session failed): not blocked
                break
            worst = max(worst, time.monotonic() - started)
            sent += 1
            await asyncio.sleep(CHUNK_MS / 2000)  # twice real time: a microphone, but fills a window sooner
        expect(worst <= LIVENESS_S + SLACK_S, f"no send blocking longer than liveness_timeout={LIVENESS_S:g} s",
               f"a send blocked {worst:.1f} s (after {sent} chunks)")  # fmt: skip

    @clause("close_while_opening", promise="1.4", offline_only=True)
    async def test_close_while_opening(self, harness: HarnessFactory) -> None:
        """close() while connect() is still opening the socket makes connect() raise SessionClosedError, the
        socket and every task are released, and the state stays closed."""
        # a connect_timeout far above the waits below: nothing may be released only because connect() gave up
        h = await harness(scenario(), proxy=True, connect=False, connect_timeout=30.0)
        assert h.proxy is not None
        before = asyncio.all_tasks()
        h.proxy.black_hole(live=False, upcoming=1)  # the handshake's bytes vanish: connect() hangs in it
        connecting = asyncio.get_running_loop().create_task(h.session.connect(), name="conformance-connect")
        await h.proxy.wait_connections(1)
        await h.session.close()
        outcome = await _connect_outcome(connecting, 3.0)
        expect(outcome == "closed", "connect() to raise SessionClosedError", outcome)
        expect(h.session.state is SessionState.CLOSED, "the state closed", h.session.state.value)
        h.proxy.restore()  # closes held back by the black hole now reach the other side
        await _released(h)
        leftover = await _leftover_tasks(before)
        expect(not leftover, "no task left running", f"still running: {describe_tasks(leftover)}")
        expect(h.session.state is SessionState.CLOSED, "the state still closed", h.session.state.value)

    @clause("close_during_setup", promise="1.4", observes=("client_closed",), offline_only=True)
    async def test_close_during_setup(self, harness: HarnessFactory) -> None:
        """close() while connect() waits for the provider's setup answer (the socket is open) makes connect()
        raise SessionClosedError at once, the socket and every task are released, and the state stays closed."""
        self.require_faults("stall", why="to keep the provider from answering the setup")
        h = await harness(scenario(faults=[Fault(kind="stall", after_messages=1, delay_ms=0)]), connect=False)
        emulator = h.emulator_or_skip()
        before = asyncio.all_tasks()
        connecting = asyncio.get_running_loop().create_task(h.session.connect(), name="conformance-connect")
        await h.bounded(
            emulator.wait_for(lambda m: not m.kind.startswith(("fact:", "emulator.")), timeout=h.timeout + 1),
            "the session's first message to reach the provider",
        )
        if connecting.done():
            not_exercised("connect() returned before the provider answered its first message: no setup to interrupt")
        started = time.monotonic()
        await h.session.close()
        outcome = await _connect_outcome(connecting, 3.0)
        expect(outcome == "closed", "connect() to raise SessionClosedError", outcome)
        took = time.monotonic() - started
        expect(took < 3.0, "connect() to end at once when closed", f"{took:.1f} s")
        expect(h.session.state is SessionState.CLOSED, "the state closed", h.session.state.value)
        await h.wait_fact("client_closed", connection=1)
        await h.until(lambda: not emulator.open_connections, "the provider to see every connection closed")
        await _released(h)
        leftover = await _leftover_tasks(before)
        expect(not leftover, "no task left running", f"still running: {describe_tasks(leftover)}")
        expect(h.session.state is SessionState.CLOSED, "the state still closed", h.session.state.value)


async def _released(h: Harness) -> None:
    """Wait until the proxy (if any) saw every connection of the session end, then stop emulator and proxy
    (their own tasks end there)."""
    proxy = h.proxy
    if proxy is not None:
        try:
            await h.until(lambda: proxy.open == 0, "the session's socket to close", timeout=3.0)
        except TimeoutError:
            expect(False, "the socket connect() opened to be closed", f"{proxy.open} connection(s) still open")
    await h.aclose()
