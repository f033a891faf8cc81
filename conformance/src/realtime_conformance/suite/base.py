"""Helpers shared by the suite's areas: scenarios and ways to take a turn with any provider."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest

from realtime_core import RealtimeAudioOutputDoneEvent, RealtimeAudioOutputEvent, RealtimeEvent, RealtimeResponseEvent
from realtime_core.emulator import Fault, Reply, Scenario, ToolCallSpec, Turn

from ..clauses import not_applicable, not_exercised

if TYPE_CHECKING:
    from realtime_core import ProviderSpec, Realtime
    from realtime_core.emulator import EmulatorServer

    from ..clauses import ClauseInfo
    from ..requirements import Requirements

from ..harness import Harness

REPLY_TEXT = "Sure, here is a short answer for you."
USER_TEXT = "What is the weather like today?"
"""One frame of audio: how far exact audio counts may differ (a resampler's or codec's granularity)."""


def reply_turn(text: str = REPLY_TEXT, *, audio_ms: float | None = 600, **reply: Any) -> Turn:
    return Turn(on="any", user_transcript=USER_TEXT, reply=Reply(text=text, audio_ms=audio_ms, **reply))


def scenario(*turns: Turn, faults: Iterable[Fault] = (), **kwargs: Any) -> Scenario:
    return Scenario(name="conformance", turns=list(turns), faults=list(faults), when_exhausted="echo", **kwargs)


def long_reply_turn(*, seconds: float = 6.0, interval_ms: float = 40) -> Turn:
    """A reply that streams slowly enough to be interrupted mid-way."""
    return reply_turn(
        "This is a long answer that goes on and on so that it can be interrupted part way through.",
        audio_ms=seconds * 1000,
        chunk_ms=40,
        chunk_interval_ms=interval_ms,
    )


def tool_turn(*calls: ToolCallSpec, after: str = "It is sunny in Paris.") -> Turn:
    return Turn(
        on="any",
        user_transcript=USER_TEXT,
        reply=Reply(text=None, audio="none", tool_calls=list(calls)),
        after_tools=Reply(text=after, audio_ms=500),
    )


def delivered_ms(h: Harness, response_id: str, *, before: int | None = None) -> float:
    """Milliseconds of audio delivered to the app for ``response_id`` (before event index ``before``),
    each chunk at the rate it is labelled with."""
    chunks = h.of(RealtimeAudioOutputEvent, lambda e: e.response_id == response_id)
    if before is not None:
        chunks = [c for c in chunks if h.index_of(c) < before]
    return sum(c.audio_data.frames * 1000.0 / c.audio_data.sample_rate for c in chunks)


class SuiteBase:
    """Mixed into every area: how to take a turn and wait for the reply, whatever the provider."""

    if TYPE_CHECKING:  # provided by ProviderFixtures, which every concrete suite class also inherits
        current_clause: ClauseInfo | None
        expecting_failure: bool

        @property
        def live_mode(self) -> bool: ...
        @property
        def requirements(self) -> Requirements: ...

        def spec(self) -> ProviderSpec: ...
        def make_session(self, emulator: EmulatorServer | None, **options: Any) -> Realtime: ...
        def variant_options(self, name: str) -> dict[str, Any] | None: ...
        def emulator_class(self) -> type[EmulatorServer] | None: ...

    async def take_turn(self, h: Harness, *, text: str = USER_TEXT) -> None:
        caps = h.caps
        if h.live or caps.server_vad:
            await h.speak()
        elif caps.text_input:
            await h.session.simple_response(text)
        elif caps.manual_turns:
            await h.session.begin_user_turn()
            await h.speak(silence_ms=0)
            await h.session.end_user_turn()
        else:
            pytest.fail("the provider declares no way to take a turn (server_vad, text_input or manual_turns)")

    async def wait_reply(self, h: Harness, *, after: int = 0, timeout: float | None = None) -> RealtimeEvent:
        """The end of the next reply: its audio-done event, or its complete text for text replies."""
        if h.caps.audio_output:
            return await h.wait_for(
                RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, after=after, timeout=timeout
            )
        return await h.wait_for(RealtimeResponseEvent, lambda e: e.is_complete, after=after, timeout=timeout)

    # ------------------------------------------------------------------ what the emulator can do
    def fault_kinds(self) -> frozenset[str]:
        cls = self.emulator_class()
        return frozenset(cls.fault_kinds) if cls is not None else frozenset()

    def require_faults(self, *kinds: str, why: str) -> None:
        """Not exercised unless the emulator injects every fault kind in ``kinds``."""
        missing = [k for k in kinds if k not in self.fault_kinds()]
        if missing:
            not_exercised(f"the emulator cannot inject {', '.join(missing)} faults ({why})")

    def session_limit_fault(self) -> str:
        """The fault kind that announces the end of a session (``expire`` or ``go_away``), or not applicable
        when the protocol has neither."""
        kinds = self.fault_kinds()
        for kind in ("expire", "go_away"):
            if kind in kinds:
                return kind
        not_applicable("the protocol has no session limit (the emulator injects neither expire nor go_away)")
        raise AssertionError("unreachable")


async def settle() -> None:
    """Let callbacks already scheduled run (a few loop iterations, no wall-clock wait)."""
    for _ in range(5):
        await asyncio.sleep(0)
