"""Property-based fuzzing of the session's server-frame handling (issue 14), against a live session.

Random, mistyped, truncated, deeply nested, huge and non-UTF-8 frames go from the emulator to a connected
session; afterwards the session either still works (a turn round-trips) or has ended cleanly with a typed
error. Never a dead receive loop, never a hang.
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
    ReconnectPolicy,
    SessionState,
)
from realtime_core.emulator import Reply, Scenario, Turn
from realtime_core.testing import EventRecorder
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator

TOP = ["serverContent", "toolCall", "toolCallCancellation", "usageMetadata", "sessionResumptionUpdate", "goAway",
       "voiceActivity", "voiceActivityDetectionSignal", "setupComplete", "somethingNew"]  # fmt: skip
KEYS = ["modelTurn", "parts", "inlineData", "mimeType", "data", "text", "thought", "role", "turnComplete",
        "generationComplete", "interrupted", "inputTranscription", "outputTranscription", "interimInputTranscription",
        "interactionStatus", "turnCompleteReason", "functionCalls", "id", "name", "args", "ids", "promptTokenCount",
        "responseTokenCount", "thoughtsTokenCount", "totalTokenCount", "promptTokensDetails", "modality",
        "tokenCount", "newHandle", "resumable", "timeLeft", "type", "audioOffset", "vadSignalType"]  # fmt: skip
AUDIO = base64.b64encode(PcmData.tone(40, 24000).to_bytes()).decode()

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "audio/pcm;rate=24000",
            "audio/pcm;rate=1",
            "audio/pcm;rate=99999999999",
            "audio/pcm",
            AUDIO,
            "!!notb64",
            "IDLE",
            "IN_PROGRESS",
            "ACTIVITY_START",
            "ACTIVITY_END",
            "1e308s",
            "-5s",
            "nan",
            "AUDIO",
            "TEXT",
        ]
    ),
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=25,
)
messages = st.dictionaries(st.sampled_from(TOP), values, max_size=3)


@st.composite
def frames(draw: st.DrawFn) -> str | bytes:
    message: dict[str, Any] = draw(messages)
    text = json.dumps(message)
    match draw(st.sampled_from(["json", "json", "json", "truncated", "deep", "huge", "binary", "not_object"])):
        case "truncated":
            return text[: draw(st.integers(min_value=0, max_value=max(0, len(text) - 1)))]
        case "deep":
            depth = draw(st.sampled_from([100, 5_000, 120_000]))
            return '{"serverContent":' + "[" * depth + "]" * depth + "}"
        case "huge":
            size = draw(st.sampled_from([64_000, 2_000_000]))
            return json.dumps({"serverContent": {"outputTranscription": {"text": "x" * size}}, "padding": "y" * size})
        case "binary":
            return draw(st.binary(min_size=1, max_size=64)) + b"\xff\xfe"
        case "not_object":
            return json.dumps([message, 1, "x"])
    return text.encode() if draw(st.booleans()) else text


async def _round_trip(frames_in: list[str | bytes]) -> None:
    scenario = Scenario(turns=[Turn(on="text", reply=Reply(text="pong", audio_ms=200))], when_exhausted="repeat_last")
    async with GeminiEmulator(scenario=scenario, unknown_tool_response="ignore") as emu:
        session = GeminiRealtime(
            **emu.session_options(), reconnect=ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05)
        )
        async with session, EventRecorder(session, timeout=15) as rec:
            for frame in frames_in:
                if emu.open_connections:
                    await emu.connection().send_raw(frame)
            mark = rec.mark()
            if session.state in (SessionState.CONNECTED, SessionState.RECONNECTING):
                await session.simple_response("ping")  # waits out a reconnect a frame may have caused
                outcome = await rec.wait_for((RealtimeAudioOutputDoneEvent, RealtimeDisconnectedEvent), after=mark)
                while isinstance(outcome, RealtimeDisconnectedEvent) and outcome.will_reconnect:
                    outcome = await rec.wait_for(
                        (RealtimeAudioOutputDoneEvent, RealtimeDisconnectedEvent), after=outcome
                    )
                if isinstance(outcome, RealtimeAudioOutputDoneEvent):
                    return  # the session works
            # ended: cleanly, with a typed error
            assert session.state is SessionState.FAILED, session.state
            ended = rec.of(RealtimeDisconnectedEvent)[-1]
            assert not ended.will_reconnect and isinstance(ended.error, RealtimeError)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(frames(), min_size=1, max_size=6))
def test_hostile_server_frames_never_kill_the_session(frames_in: list[str | bytes]) -> None:
    asyncio.run(asyncio.wait_for(_round_trip(frames_in), 60))
