"""Capabilities: unsupported operations are refused before anything is sent; declarations are consistent
(contract promises 2.3 and 9.1)."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from realtime_core import Capabilities, Realtime, RealtimeConnectedEvent, UnsupportedCapability
from realtime_core.emulator import Scenario

from ..clauses import clause, expect, not_applicable
from ..fixtures import HarnessFactory
from ..harness import Harness
from .base import SuiteBase
from .inputs import PatternTrack


def _ops() -> dict[str, Callable[[Realtime], Awaitable[Any]]]:
    return {
        "text_input": lambda s: s.simple_response("hello"),
        "say": lambda s: s.say("hello"),
        "video_input": lambda s: s.watch_video_track(PatternTrack()),
        "manual_turns": lambda s: s.end_user_turn(),
        "interruption": lambda s: s.interrupt(),
    }


def _sent(h: Harness) -> int:
    return len(h.emulator.received) if h.emulator is not None else 0


def _kinds_since(h: Harness, index: int) -> set[str]:
    return {m.kind for m in itertools.islice(h.emulator.received, index, None)} if h.emulator is not None else set()


def tool_stub(x: int) -> int:
    """A tool used only to check that tools are refused."""
    return x


_LEVELS = {"none": 0, "final": 1, "delta": 2}


def _widened(declared: Capabilities, connected: Capabilities) -> list[str]:
    """Capabilities the connected event claims beyond what was declared before connect()."""
    out: list[str] = []
    for name in Capabilities.model_fields:
        before, after = getattr(declared, name), getattr(connected, name)
        if isinstance(before, bool) and after is True and before is False:
            out.append(name)
        elif isinstance(before, str) and before in _LEVELS and _LEVELS.get(str(after), 0) > _LEVELS[before]:
            out.append(f"{name} ({before} -> {after})")
    return out


class CapabilityTests(SuiteBase):
    @clause("unsupported_refused", promise="9.1", offline_only=True)
    async def test_unsupported_refused(self, harness: HarnessFactory) -> None:
        """Every operation declared unsupported raises UnsupportedCapability and sends nothing."""
        h = await harness()
        await h.barrier()
        # the kinds of message a barrier itself produces (audio, chunked the plugin's way; how many of them land
        # in a window depends on the resampler and on batching, which kinds do not)
        before = _sent(h)
        await h.barrier()
        barrier_kinds = _kinds_since(h, before)
        refused = 0
        for flag, op in _ops().items():
            if h.caps.supports(flag):
                continue
            before = _sent(h)
            try:
                await op(h.session)
            except UnsupportedCapability as exc:
                expect(exc.capability == flag, f"UnsupportedCapability({flag!r})", f"UnsupportedCapability({exc.capability!r})")
            except Exception as exc:
                expect(False, f"UnsupportedCapability for {flag} (declared off)", f"{type(exc).__name__}: {exc}")
            else:
                expect(False, f"UnsupportedCapability for {flag} (declared off)", "the operation was accepted")
            await h.barrier()
            extra = _kinds_since(h, before) - barrier_kinds
            expect(not extra, f"nothing sent for the refused {flag}", f"sent {sorted(extra)}")
            refused += 1
        expect(h.session.connected, "the session still connected", h.session.state)
        if not refused:
            not_applicable("this configuration supports every guarded operation")

    @clause("tools_refused", promise="9.1", offline_only=True)
    async def test_tools_refused(self, harness: HarnessFactory) -> None:
        """Without tool support, a session configured with tools fails to connect before anything is sent."""
        h = await harness(Scenario(), connect=False, tools=[tool_stub])
        if h.caps.tools:
            not_applicable("tools are supported")
        try:
            await h.connect()
        except UnsupportedCapability:
            pass
        else:
            expect(False, "UnsupportedCapability from connect()", "it connected")
        connections = h.emulator_or_skip().connections
        expect(connections == 0, "no connection opened", f"{connections}")

    @clause("declaration_consistent", promise="2.3")
    async def test_declaration_consistent(self, harness: HarnessFactory) -> None:
        """The connected event carries the session's capabilities; they may narrow what was declared before
        connect() but never widen it; rates and limits are sane."""
        h = await harness(connect=False)
        declared = h.session.capabilities.model_copy()
        await h.connect()
        caps = h.caps
        connected = await h.wait_for(RealtimeConnectedEvent)
        expect(connected.capabilities == caps, "the connected event to carry session.capabilities", "different ones")
        widened = _widened(declared, caps)
        expect(not widened, "capabilities at connect no wider than declared", f"widened: {widened}")
        expect(caps.transport in caps.transports, f"transport {caps.transport!r} in {caps.transports}", "it is not")
        expect(caps.input_sample_rate >= 8000 and caps.output_sample_rate >= 8000, "rates >= 8000 Hz",
               f"input {caps.input_sample_rate}, output {caps.output_sample_rate}")  # fmt: skip
        if caps.video_input:
            expect(caps.video_max_fps > 0, "video_max_fps > 0 with video input", caps.video_max_fps)
        expect(caps.audio_output or caps.text_output, "audio or text output", "neither")
