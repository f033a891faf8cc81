"""Helpers shared by the suite's areas: scenarios and ways to take a turn with any provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from realtime_core import RealtimeAudioOutputDoneEvent, RealtimeEvent, RealtimeResponseEvent
from realtime_core.emulator import Reply, Scenario, ToolCallSpec, Turn

if TYPE_CHECKING:
    from realtime_core import ProviderSpec, Realtime
    from realtime_core.emulator import EmulatorServer

from ..harness import Harness

REPLY_TEXT = "Sure, here is a short answer for you."
USER_TEXT = "What is the weather like today?"


def reply_turn(text: str = REPLY_TEXT, *, audio_ms: float | None = 600, **reply: Any) -> Turn:
    return Turn(on="any", user_transcript=USER_TEXT, reply=Reply(text=text, audio_ms=audio_ms, **reply))


def scenario(*turns: Turn, **kwargs: Any) -> Scenario:
    return Scenario(name="conformance", turns=list(turns), when_exhausted="echo", **kwargs)


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


class SuiteBase:
    """Mixed into every area: how to take a turn and wait for the reply, whatever the provider."""

    if TYPE_CHECKING:  # provided by ProviderFixtures, which every concrete suite class also inherits
        text_mode_options: ClassVar[dict[str, Any] | None]
        manual_turn_options: ClassVar[dict[str, Any] | None]

        def spec(self) -> ProviderSpec: ...
        def make_session(self, emulator: EmulatorServer | None, **options: Any) -> Realtime: ...

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
