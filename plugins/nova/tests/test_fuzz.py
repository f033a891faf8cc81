"""Property-based fuzzing of the session's server-frame handling (issue 14): random, truncated, mistyped,
deeply nested and huge events inside well-framed chunks, and broken framing, sent into a live session. The
session survives (error events, then a normal turn) or ends cleanly with a typed error: never a dead loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_core import (
    RealtimeAudioOutputDoneEvent,
    RealtimeError,
    RealtimeErrorEvent,
    ReconnectPolicy,
    SessionState,
)
from realtime_core.testing import EventRecorder, speak
from realtime_nova import NovaRealtime
from realtime_nova.emulator import NovaEmulator

from .conftest import scenario, turn

EVENTS = ["completionStart", "contentStart", "textOutput", "audioOutput", "toolUse", "contentEnd", "usageEvent",
          "completionEnd", "somethingNew"]  # fmt: skip
FIELDS = ["contentId", "type", "role", "content", "stopReason", "additionalModelFields", "toolUseId", "toolName",
          "details", "sessionId"]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["AUDIO", "TEXT", "TOOL", "ASSISTANT", "USER", "END_TURN", "INTERRUPTED", "c1", "AAAA",
                       '{"generationStage":"SPECULATIVE"}', '{ "interrupted" : true }']),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from([*FIELDS, "input", "output"]), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
nova_event = st.builds(
    lambda name, body: json.dumps({"event": {name: body}}).encode(),
    st.sampled_from(EVENTS),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values,
)
frames = st.one_of(
    nova_event,
    nova_event.map(lambda b: b[: max(1, len(b) // 2)]),  # truncated
    st.binary(max_size=64),  # not JSON, not UTF-8
    st.just(b'{"event":{"textOutput":' + b"[" * 50_000 + b"]" * 50_000 + b"}}"),  # RecursionError
    st.just(b'{"event":{"audioOutput":{"content":"' + b"A" * 1_200_000 + b'"}}}'),  # huge
    st.just(b"[]"),
)


async def _check(payloads: list[bytes], crc: bool) -> None:
    async with NovaEmulator(scenario=scenario(turn(), turn("Again."), turn("Once more."))) as emulator:
        session = NovaRealtime(
            **emulator.session_options(), reconnect=ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.2)
        )
        async with EventRecorder(session, timeout=15) as rec:
            await session.connect()
            conn: Any = emulator.live_connection()
            for payload in payloads:
                await conn.send_payload(payload)
            if crc:  # broken framing: the SDK gives the stream up, the session reconnects
                await conn.send_raw(b"\x00\x00\x00\x20" + b"\x00" * 28)
            if session.state is SessionState.FAILED:  # an allowed end: cleanly, with a typed error
                assert all(isinstance(e.error, RealtimeError) for e in rec.of(RealtimeErrorEvent))
            else:
                await speak(session, 500, 700)  # the receive loop is alive: a normal turn still works
                await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted)
            await asyncio.wait_for(session.close(), 10)
            assert not emulator.internal_errors


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(frames, min_size=1, max_size=8), crc=st.booleans())
def test_hostile_server_frames_never_kill_the_session(payloads: list[bytes], crc: bool) -> None:
    asyncio.run(_check(payloads, crc))
