"""Scenarios and turns shared by the tests."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from realtime_core.emulator import Reply, Scenario, ToolCallSpec, Turn

USER_TEXT = "What is the weather like in Paris?"


def turn(text: str = "Sunny all day.", *, audio_ms: float | None = 600, **reply: Any) -> Turn:
    return Turn(on="any", user_transcript=USER_TEXT, reply=Reply(text=text, audio_ms=audio_ms, **reply))


def long_turn(seconds: float = 6.0) -> Turn:
    """A reply streamed slowly enough (40 ms chunks every 40 ms) to be cut off part way."""
    return turn("This answer goes on and on so that it can be cut off.", audio_ms=seconds * 1000, chunk_ms=40,
                chunk_interval_ms=40)


def tool_turn(*calls: ToolCallSpec, after: str = "It is sunny in Paris.") -> Turn:
    return Turn(
        on="any",
        user_transcript=USER_TEXT,
        reply=Reply(text=None, audio="none", tool_calls=list(calls)),
        after_tools=Reply(text=after, audio_ms=500),
    )


def scenario(*turns: Turn, **kwargs: Any) -> Scenario:
    return Scenario(name="otel", turns=list(turns), **kwargs)


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.span_id
