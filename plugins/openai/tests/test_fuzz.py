"""Property-based fuzzing of the server-frame handling against a live session (issue 14).

Random, truncated, mistyped, deeply nested and huge frames are sent by the emulator into a connected
session; afterwards the session must still work (a frame after them reaches the app) or have ended cleanly
with a typed error, and every error it reported must be a typed :class:`~realtime_core.RealtimeError`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_core import RealtimeDisconnectedEvent, RealtimeError, RealtimeErrorEvent, RealtimeRateLimitsEvent
from realtime_core.testing import EventRecorder, pending_tasks
from realtime_openai import OpenAIRealtime
from realtime_openai.emulator import OpenAIEmulator

SERVER_TYPES = [
    "session.created", "session.updated", "error", "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped", "input_audio_buffer.committed", "input_audio_buffer.timeout_triggered",
    "conversation.item.added", "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed", "conversation.item.input_audio_transcription.failed",
    "response.created", "response.output_item.added", "response.output_item.done", "response.output_audio.delta",
    "response.output_audio_transcript.delta", "response.output_audio_transcript.done", "response.output_text.delta",
    "response.output_text.done", "response.function_call_arguments.done", "response.done", "rate_limits.updated",
]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(["response", "response_id", "item_id", "item", "delta", "error", "usage", "session",
                               "transcript", "text", "rate_limits", "id", "status", "arguments", "call_id", "part"])  # fmt: skip
events = st.builds(
    lambda kind, fields: json.dumps({"type": kind, **fields}),
    st.sampled_from(SERVER_TYPES),
    st.dictionaries(field_names, json_values, max_size=6),
)
truncated = events.flatmap(lambda text: st.integers(0, max(0, len(text) - 1)).map(lambda n: text[:n]))
nested = st.integers(100, 200_000).map(lambda depth: '{"type":"response.done","response":' + "[" * depth + "]" * depth + "}")
huge = st.integers(1, 3).map(lambda mb: json.dumps({"type": "response.output_audio_transcript.delta", "delta": "x" * (mb << 20)}))
not_objects = json_values.filter(lambda v: not isinstance(v, dict)).map(json.dumps)
frames = st.lists(st.one_of(events, events, truncated, nested, not_objects, huge, st.text(max_size=50)), min_size=1, max_size=12)


async def _run(batch: list[str]) -> None:
    async with OpenAIEmulator() as emu:
        session = OpenAIRealtime(**emu.session_options())
        async with EventRecorder(session, timeout=20) as rec:
            await session.connect()
            for frame in batch:
                await emu.inject(frame)
            await emu.inject({"type": "rate_limits.updated", "rate_limits": []})
            seen = await rec.wait_for((RealtimeRateLimitsEvent, RealtimeDisconnectedEvent))
            if isinstance(seen, RealtimeDisconnectedEvent):  # it ended: cleanly reported, with a typed error
                assert seen.error is None or isinstance(seen.error, RealtimeError)
            else:
                assert session.connected
            for event in rec.of(RealtimeErrorEvent):
                assert isinstance(event.error, RealtimeError), event
            await session.close()
        assert not pending_tasks(session)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=frames)
def test_hostile_server_frames_never_kill_the_session(batch: list[str]) -> None:
    asyncio.run(_run(batch))


def test_every_kind_of_hostile_frame_at_once() -> None:
    batch: list[Any] = [
        '{"type": "response.output_audio.delta", "delta": "AA',
        '{"type":"response.done","response":' + "[" * 100_000 + "]" * 100_000 + "}",
        json.dumps({"type": "response.done", "response": {"id": 5, "status": []}}),
        json.dumps({"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": "!!notbase64"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"type": "error", "error": "a string"}),
        json.dumps({"type": "rate_limits.updated", "rate_limits": [1, 2]}),
    ]
    asyncio.run(_run(batch))
