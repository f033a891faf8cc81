"""Text while the model speaks (promise 4.4): held until ``turnComplete`` (Gemini takes text as the user cutting
in), never lost across a reconnect or at close; and a server failure during setup (promise 2.2).

The model's turn is written by the test through the emulator's connection (audio, then ``turnComplete`` when
the test says), so whether the text waited for the turn is decided by the order of events, not by timing.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from realtime_core import (
    PcmData,
    ProviderError,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeInterruptedEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
)
from realtime_core.emulator import Fault, Reply, Scenario, Turn
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator
from realtime_gemini.text_hold import TextHold

from .conftest import RecorderFactory

FAST = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05)
AUDIO = base64.b64encode(PcmData.tone(40, 24000).to_bytes()).decode()
SPEAKING = {
    "serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": AUDIO}}]}}
}


def answers(*texts: str) -> Scenario:
    return Scenario(turns=[Turn(on="text", reply=Reply(text=t, audio_ms=200)) for t in texts])


async def end_turn(emu: GeminiEmulator) -> None:
    await emu.connection().send({"serverContent": {"generationComplete": True}})
    await emu.connection().send({"serverContent": {"turnComplete": True}})


def texts_in(emu: GeminiEmulator, connection: int | None = None) -> list[Any]:
    return [m.payload["realtimeInput"]["text"] for m in emu.messages("realtimeInput.text", connection=connection)]


async def test_text_while_the_model_speaks_waits_for_its_turn_to_complete(recorder: RecorderFactory) -> None:
    async with (
        GeminiEmulator(scenario=answers("First.", "Second.")) as emu,
        GeminiRealtime(**emu.session_options()) as session,
    ):
        rec = await recorder(session)
        await emu.connection().send(SPEAKING)  # the model is speaking
        speaking = await rec.wait_for(RealtimeAudioOutputEvent)
        await session.simple_response("one more thing")
        await session.simple_response("and another")
        assert len(session._held_texts) == 2  # pyright: ignore[reportPrivateUsage]
        turn_complete_at = time.monotonic()
        await end_turn(emu)
        # each text then gets its own turn, in order, and nothing is cut
        first = await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id != speaking.response_id)
        second = await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id not in (
            speaking.response_id, first.response_id))  # fmt: skip
        done = rec.of(RealtimeAudioOutputDoneEvent)
        assert [d.response_id for d in done] == [speaking.response_id, first.response_id, second.response_id]
        assert not any(d.interrupted for d in done) and not rec.of(RealtimeInterruptedEvent)
    sent = emu.messages("realtimeInput.text")
    assert texts_in(emu) == ["one more thing", "and another"]
    assert sent[0].at >= turn_complete_at
    assert not emu.facts_named("barge_in")  # the server never saw text over a reply


async def test_after_interrupt_text_goes_at_once(recorder: RecorderFactory) -> None:
    async with (
        GeminiEmulator(scenario=answers("Right away.")) as emu,
        GeminiRealtime(**emu.session_options()) as session,
    ):
        rec = await recorder(session)
        await emu.connection().send(SPEAKING)
        await rec.wait_for(RealtimeAudioOutputEvent)
        await session.interrupt()  # the app cuts the reply: its text need not wait for the turn to end
        await session.simple_response("stop, and answer this")
        await emu.wait_for("realtimeInput.text")
        assert len(session._held_texts) == 0  # pyright: ignore[reportPrivateUsage]


async def test_held_text_is_sent_on_the_new_connection_after_a_drop(recorder: RecorderFactory) -> None:
    async with GeminiEmulator(scenario=answers("After the drop.")) as emu:
        async with GeminiRealtime(**emu.session_options(), reconnect=FAST) as session:
            rec = await recorder(session)
            await emu.connection().send(SPEAKING)
            await rec.wait_for(RealtimeAudioOutputEvent)
            await session.simple_response("are you there?")
            await emu.drop_all()  # the connection dies mid-turn: no turnComplete will come
            reconnected = await rec.wait_for(RealtimeReconnectedEvent)
            await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, after=reconnected)
        assert texts_in(emu, connection=1) == []
        assert texts_in(emu, connection=2) == ["are you there?"]


async def test_held_text_is_reported_at_close(recorder: RecorderFactory) -> None:
    async with GeminiEmulator(scenario=answers("Never.")) as emu:
        session = GeminiRealtime(**emu.session_options())
        await session.connect()
        rec = await recorder(session)
        await emu.connection().send(SPEAKING)
        await rec.wait_for(RealtimeAudioOutputEvent)
        await session.simple_response("too late")
        await session.close()
        disconnected = await rec.wait_for(RealtimeDisconnectedEvent)
        (error,) = [e for e in rec.of(RealtimeErrorEvent) if getattr(e.error, "code", None) == "text_not_sent"]
        assert "1 text message" in str(error.error)
        assert rec.events.index(error) < rec.events.index(disconnected)
        assert texts_in(emu) == []


async def test_held_text_goes_anyway_if_the_turn_never_completes(
    recorder: RecorderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TextHold, "patience", 0.2)
    async with (
        GeminiEmulator(scenario=answers("Late, not lost.")) as emu,
        GeminiRealtime(**emu.session_options()) as session,
    ):
        rec = await recorder(session)
        await emu.connection().send(SPEAKING)  # ... and then the server says nothing more about that turn
        await rec.wait_for(RealtimeAudioOutputEvent)
        await session.simple_response("hello?")
        await emu.wait_for("realtimeInput.text")
    assert texts_in(emu) == ["hello?"]


async def test_an_error_fault_during_setup_closes_instead_of_answering(recorder: RecorderFactory) -> None:
    # the real server reports a failure during setup by closing (1011) in place of setupComplete
    faults = [Fault(kind="error", after_messages=1, code="server_error", message="emulated setup failure")]
    async with GeminiEmulator(scenario=Scenario(faults=faults)) as emu:
        session = GeminiRealtime(**emu.session_options())
        rec = await recorder(session)
        with pytest.raises(ProviderError) as info:
            await session.connect()
        assert info.value.recoverable and info.value.code == "1011"
        assert not rec.events
        assert emu.closes == [(1, 1011, "emulated setup failure")]
        assert not [m for _, m in emu.sent if isinstance(m, dict) and "setupComplete" in m]
