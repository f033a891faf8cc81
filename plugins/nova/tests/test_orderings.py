"""The orderings and fields real Nova sessions showed (issue 12), one emulator switch each, and what the
session makes of them: exactly one response per reply with its whole transcript, exactly one final user
transcript per utterance, usage per reply. Each runs under both latency profiles."""

from __future__ import annotations

from typing import Any

import pytest

from realtime_core import (
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechTranscriptionEvent,
)
from realtime_core.testing import EventRecorder

from .conftest import EmulatorFactory, SessionFactory, scenario, speak, turn

FIRST = "Paris is sunny today. It will rain tomorrow."
SECOND = "Lyon is cloudy. Bring a coat."
LATENCIES = ["none", "realistic"]


async def _two_turns(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory, latency: str, **switches: Any
) -> tuple[EventRecorder, list[RealtimeAudioOutputDoneEvent], Any]:
    emulator = await nova_emulator(
        scenario(
            turn(FIRST, heard="What is the weather in Paris?", audio_ms=800, chunk_ms=80),
            turn(SECOND, heard="And in Lyon?", audio_ms=600, chunk_ms=80),
        ),
        latency=latency,
        **switches,
    )
    session, rec = await nova_session(emulator)
    await speak(session)
    first = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    await speak(session)
    second = await rec.wait_for(RealtimeAudioOutputDoneEvent, count=2)
    await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final", count=2)
    assert not emulator.violations
    return rec, [first, second], session


@pytest.mark.parametrize("latency", LATENCIES)
@pytest.mark.parametrize("final_text", ["after_audio", "interleaved"])
async def test_one_response_per_reply_with_its_whole_transcript(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory, latency: str, final_text: str
) -> None:
    """after_audio: the FINAL blocks come after all the audio, the first END_TURN, the second PARTIAL_TURN.
    The reply must not end on the first nor open a phantom response for the second."""
    rec, dones, session = await _two_turns(nova_emulator, nova_session, latency, final_text=final_text)
    # exactly the two replies: no phantom response closed as interrupted in between
    assert len(rec.of(RealtimeAudioOutputDoneEvent)) == 2
    assert not any(d.interrupted for d in rec.of(RealtimeAudioOutputDoneEvent))
    finals = rec.of(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert [(f.text, f.response_id) for f in finals] == [(FIRST, dones[0].response_id), (SECOND, dones[1].response_id)]
    audio_ids = {e.response_id for e in rec.of(RealtimeAudioOutputEvent)}
    assert audio_ids == {d.response_id for d in dones}
    assistant = [h.text for h in session.history if h.role == "assistant"]
    assert assistant == [FIRST, SECOND]  # the history has the whole replies


@pytest.mark.parametrize("latency", LATENCIES)
@pytest.mark.parametrize("split", [True, False])
async def test_exactly_one_final_user_transcript_per_utterance(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory, latency: str, split: bool
) -> None:
    """The service may deliver one utterance as two USER text blocks (both PARTIAL_TURN)."""
    rec, _, session = await _two_turns(nova_emulator, nova_session, latency, split_user_transcript=split)
    users = rec.of(RealtimeUserSpeechTranscriptionEvent)
    assert [(u.text, u.mode) for u in users] == [("What is the weather in Paris?", "final"), ("And in Lyon?", "final")]
    assert [h.text for h in session.history if h.role == "user"] == ["What is the weather in Paris?", "And in Lyon?"]


@pytest.mark.parametrize("latency", LATENCIES)
@pytest.mark.parametrize("timing", ["interleaved", "after_reply"])
async def test_usage_per_reply_even_before_completion_start(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory, latency: str, timing: str
) -> None:
    """interleaved: the turn's input usage comes first, before completionStart on the first turn."""
    rec, dones, _ = await _two_turns(nova_emulator, nova_session, latency, usage_timing=timing)
    # the second reply's output usage follows its audio: wait for it
    await rec.wait_for(RealtimeUsageEvent, lambda u: u.response_id == dones[1].response_id and bool(u.output_tokens))
    usages = rec.of(RealtimeUsageEvent)
    ids = {d.response_id for d in dones}
    assert usages and all(u.response_id in ids for u in usages)  # every delta belongs to a reply
    for done in dones:
        mine = [u for u in usages if u.response_id == done.response_id]
        assert sum(u.input_audio_tokens or 0 for u in mine) > 0 and sum(u.output_audio_tokens or 0 for u in mine) > 0


@pytest.mark.parametrize(("role", "config"), [(True, "minimal"), (False, "full")])
async def test_audio_output_fields_are_tolerated(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory, role: bool, config: str
) -> None:
    """The real service puts ``role`` on audioOutput and leaves voiceId/audioType out of the output
    configuration; the older shape has neither difference."""
    rec, dones, _ = await _two_turns(
        nova_emulator, nova_session, "none", audio_output_role=role, output_audio_config=config
    )
    frames = sum(e.audio_data.frames for e in rec.of(RealtimeAudioOutputEvent, lambda e: e.response_id == dones[0].response_id))
    assert frames == 800 * 24
