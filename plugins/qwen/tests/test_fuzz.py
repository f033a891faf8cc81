"""Property-based fuzzing of the session's server-frame handling against a live session (issue 14).

Random DashScope events with random fields, truncated, mistyped, deeply nested and huge frames are sent by the
emulator into a connected session; afterwards the session still works (an error it must report arrives, and
a spoken turn round-trips) or has ended cleanly with a typed error, and every error it reported is a typed
:class:`~realtime_core.RealtimeError`. Never a dead receive loop, never a hang.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_core import (
    PcmData,
    RealtimeAudioOutputDoneEvent,
    RealtimeDisconnectedEvent,
    RealtimeError,
    RealtimeErrorEvent,
    ReconnectPolicy,
    SessionState,
)
from realtime_core.emulator import Reply, Scenario, Turn
from realtime_core.testing import EventRecorder, pending_tasks
from realtime_qwen import QwenRealtime
from realtime_qwen.emulator import QwenEmulator

SERVER_TYPES = [
    "session.created", "session.updated", "session.finished", "error", "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped", "input_audio_buffer.committed", "input_audio_buffer.cleared",
    "conversation.item.created", "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed", "conversation.item.input_audio_transcription.failed",
    "response.created", "response.output_item.added", "response.output_item.done", "response.content_part.added",
    "response.audio.delta", "response.audio.done", "response.audio_transcript.delta", "response.audio_transcript.done",
    "response.text.delta", "response.text.done", "response.function_call_arguments.delta",
    "response.function_call_arguments.done", "response.done", "something.new",
]  # fmt: skip
AUDIO = base64.b64encode(PcmData.tone(40, 24000).to_bytes()).decode()

leaves = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20) | st.sampled_from(
    [AUDIO, "!!notb64", "resp_1", "item_1", "call_1", "completed", "cancelled", "failed", "audio", "text"]
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
field_names = st.sampled_from([
    "response", "response_id", "item_id", "item", "delta", "error", "usage", "session", "transcript", "text",
    "stash", "id", "status", "arguments", "call_id", "name", "part", "language", "emotion", "obfuscation",
])  # fmt: skip
events = st.builds(
    lambda kind, fields: json.dumps({"type": kind, **fields}),
    st.sampled_from(SERVER_TYPES),
    st.dictionaries(field_names, values, max_size=6),
)
truncated = events.flatmap(lambda text: st.integers(0, max(0, len(text) - 1)).map(lambda n: text[:n]))
nested = st.integers(100, 200_000).map(lambda depth: '{"type":"response.done","response":' + "[" * depth + "]" * depth + "}")
huge = st.integers(1, 3).map(lambda mb: json.dumps({"type": "response.audio_transcript.delta", "delta": "x" * (mb << 20)}))
not_objects = values.filter(lambda v: not isinstance(v, dict)).map(json.dumps)
frames = st.lists(st.one_of(events, events, truncated, nested, not_objects, huge, st.text(max_size=50)), min_size=1, max_size=12)


async def _run(batch: list[str]) -> None:
    turns = Scenario(turns=[Turn(on="any", reply=Reply(text="pong", audio_ms=200))], when_exhausted="repeat_last")
    async with QwenEmulator(scenario=turns) as emu:
        session = QwenRealtime(
            **emu.session_options(),
            model="qwen-omni-turbo-realtime",
            turn_detection=None,
            response_timeout=2.0,
            cancel_grace_s=0.2,
            reconnect=ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05),
        )
        async with EventRecorder(session, timeout=20) as rec:
            await session.connect()
            for frame in batch:
                if emu.open_connections:
                    await emu.inject(frame)
            if session.state in (SessionState.CONNECTED, SessionState.RECONNECTING):
                mark = rec.mark()
                await session.begin_user_turn()  # waits out a reconnect a frame may have caused
                await session.simple_audio_response(PcmData.tone(300, 16000, amplitude=0.3))
                await session.end_user_turn()
                outcome = await rec.wait_for((RealtimeAudioOutputDoneEvent, RealtimeDisconnectedEvent), after=mark)
                while isinstance(outcome, RealtimeDisconnectedEvent) and outcome.will_reconnect:
                    outcome = await rec.wait_for((RealtimeAudioOutputDoneEvent, RealtimeDisconnectedEvent), after=outcome)
                if isinstance(outcome, RealtimeDisconnectedEvent):
                    assert outcome.error is None or isinstance(outcome.error, RealtimeError)
            else:  # it ended: cleanly, with a typed error
                ended = rec.of(RealtimeDisconnectedEvent)[-1]
                assert not ended.will_reconnect and isinstance(ended.error, RealtimeError)
            for event in rec.of(RealtimeErrorEvent):
                assert isinstance(event.error, RealtimeError), event
            await session.close()
        assert not pending_tasks(session)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=frames)
def test_hostile_server_frames_never_kill_the_session(batch: list[str]) -> None:
    asyncio.run(_run(batch))


def test_every_kind_of_hostile_frame_at_once() -> None:
    batch: list[Any] = [
        '{"type": "response.audio.delta", "delta": "AA',
        '{"type":"response.done","response":' + "[" * 100_000 + "]" * 100_000 + "}",
        json.dumps({"type": "response.done", "response": {"id": 5, "status": []}}),
        json.dumps({"type": "response.created", "response": {"id": ["x"]}}),
        json.dumps({"type": "response.audio.delta", "response_id": "r", "item_id": "i", "delta": "!!notbase64"}),
        json.dumps({"type": "conversation.item.input_audio_transcription.delta", "item_id": 3, "text": 5, "stash": None}),
        json.dumps({"type": "conversation.item.input_audio_transcription.completed", "item_id": None, "transcript": 7}),
        json.dumps({"type": "response.function_call_arguments.done", "call_id": {"a": 1}, "arguments": []}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"type": "error", "error": "a string"}),
        json.dumps({"type": "session.finished"}),
    ]
    asyncio.run(_run(batch))
