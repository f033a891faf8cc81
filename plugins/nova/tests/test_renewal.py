"""The stream limit (8 minutes on Bedrock, compressed to seconds here): the session renews the stream
before it, make-before-break, keeping the conversation and every bit of the user's audio."""

from __future__ import annotations

import asyncio
import re

import numpy as np

from realtime_core import (
    PcmData,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeDisconnectedEvent,
    RealtimeReconnectedEvent,
    RealtimeUserSpeechTranscriptionEvent,
)

from .conftest import EmulatorFactory, SessionFactory, scenario, speak, turn

RATE = 16000


def _contains_in_order(haystack: np.ndarray, needle: np.ndarray) -> bool:
    """Whether ``needle`` appears contiguously in ``haystack``."""
    first = np.flatnonzero(haystack == needle[0])
    for start in first:
        if start + needle.size <= haystack.size and np.array_equal(haystack[start : start + needle.size], needle):
            return True
    return False


async def test_renewal_mid_utterance_keeps_history_and_every_sample(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator(scenario(turn("Paris is sunny.", heard="Weather in Paris?")), stream_limit_s=60.0)
    session, rec = await nova_session(emulator, renew_after_s=50.0, renew_deadline_s=55.0)
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)

    # Speak (a distinctive ramp, so every sample can be found again) while the renewal happens: start
    # before the new stream is requested (the renewal timer's call, made here after 200 ms of speech), keep
    # going until well after it.
    ramp = ((np.arange(RATE * 6) % 400) * 40 - 8000).astype(np.int16)
    speech = PcmData(ramp, RATE)
    sent: list[np.ndarray] = []
    renewal_seen_at: int | None = None
    for i, chunk in enumerate(speech.chunks(20)):
        await session.simple_audio_response(chunk)
        sent.append(chunk.samples)
        if i == 10:
            session._core.renew("stream limit")  # pyright: ignore[reportPrivateUsage]
        if renewal_seen_at is None and emulator.connections >= 2:
            renewal_seen_at = i
        if renewal_seen_at is not None and i - renewal_seen_at >= 20:  # 400 ms more after the switch
            break
        await asyncio.sleep(0.01)  # about twice real time, like a live microphone on a fast path
    assert renewal_seen_at is not None and renewal_seen_at > 5, "the renewal did not start mid-utterance"
    spoken = np.concatenate(sent)
    await speak(session, speech_ms=0, silence_ms=800)  # end of the utterance

    back = await rec.wait_for(RealtimeReconnectedEvent)
    assert back.planned and back.state_restored and back.attempts == 1
    assert not rec.of(RealtimeDisconnectedEvent)  # the user notices nothing

    # The new stream heard the whole utterance, including what the old stream got before the switch...
    heard = await rec.wait_for(RealtimeUserSpeechTranscriptionEvent, count=2)
    seconds = float(re.findall(r"[\d.]+", heard.text)[0])
    assert abs(seconds - spoken.size / RATE) <= 0.15, (heard.text, spoken.size / RATE)
    assert _contains_in_order(emulator.received_audio(2).samples, spoken), "input audio lost across the renewal"
    # ...answered it there...
    reply = await rec.wait_for(RealtimeAudioOutputDoneEvent, count=2)
    chunks = rec.of(RealtimeAudioOutputEvent, lambda e: e.response_id == reply.response_id)
    assert chunks and not reply.interrupted
    # ...and got the conversation so far as history, before its audio.
    texts = [(m.connection, m.payload["content"]) for m in emulator.messages("textInput")]
    assert (2, "Weather in Paris?") in texts and (2, "Paris is sunny.") in texts
    restored = emulator.facts_named("state_restored")
    assert [f.connection for f in restored] == [2]
    # The old stream was ended per protocol, before Bedrock's limit, and nothing was rejected.
    await emulator.wait_fact("session_finished", lambda d: True)
    assert emulator.facts_named("session_finished")[0].connection == 1
    assert not emulator.messages("emulator.stream_limit")
    assert not emulator.violations
    assert len({m.payload["user-agent"] for m in emulator.messages("http.request")}) == 1
    assert emulator.tcp_connections == 2  # the TLS check's, then one HTTP/2 connection both streams shared


async def test_forced_renewal_lets_the_reply_in_progress_finish(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    long = turn(
        "A reply that is still playing when the deadline comes.", audio_ms=1800, chunk_ms=40, chunk_interval_ms=40
    )
    emulator = await nova_emulator(scenario(long, turn("On the new stream.")), stream_limit_s=60.0)
    session, rec = await nova_session(emulator, renew_after_s=50.0, renew_deadline_s=55.0)
    await speak(session, speech_ms=300, silence_ms=600)
    first = await rec.wait_for(RealtimeAudioOutputEvent)
    session._core.renew("stream limit")  # as the renewal timer does at its deadline, mid-reply  # pyright: ignore[reportPrivateUsage]
    back = await rec.wait_for(RealtimeReconnectedEvent)
    assert back.planned
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == first.response_id)
    assert not done.interrupted  # the old stream finished the reply...
    frames = sum(
        c.audio_data.frames for c in rec.of(RealtimeAudioOutputEvent, lambda e: e.response_id == first.response_id)
    )
    assert frames == 1800 * 24  # ...every chunk of it
    final = await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert final.text.startswith("A reply")
    await speak(session)  # and the new stream carries on with the history
    nxt = await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id != first.response_id)
    assert not nxt.interrupted
    assert [f.connection for f in emulator.facts_named("state_restored")] == [2]
    assert not emulator.violations


async def test_repeated_renewals_over_a_long_conversation(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator(stream_limit_s=4.0)
    session, rec = await nova_session(emulator, renew_after_s=0.5, renew_deadline_s=2.5)
    for n in range(1, 4):
        await rec.wait_for(RealtimeReconnectedEvent, count=n)
        await speak(session, speech_ms=300, silence_ms=600)
        await rec.wait_for(RealtimeAudioOutputDoneEvent, count=n)
    # the final transcript of the last reply may follow its audio-done event
    await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final", count=3)
    assert not rec.of(RealtimeDisconnectedEvent)
    assert not emulator.messages("emulator.stream_limit") and not emulator.violations
    assert len(session.history) >= 6
