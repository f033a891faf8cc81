"""Audio: input mirrored, output format, response ids, done events, speech events, usage."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_core import (
    InvalidAudioError,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAudioInputEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeMetricsEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechStoppedEvent,
)

from ..clauses import clause
from ..fixtures import HarnessFactory
from .base import SuiteBase, reply_turn, scenario


class AudioTests(SuiteBase):
    @clause("input_mirrored")
    async def test_input_mirrored(self, harness: HarnessFactory) -> None:
        """Every chunk passed to simple_audio_response comes back as a RealtimeAudioInputEvent, in order."""
        h = await harness()
        mark = h.mark()
        sent_before = len(h.sent)
        await h.speak(300, silence_ms=100)
        sent = h.sent[sent_before:]
        await h.wait_for(RealtimeAudioInputEvent, after=mark, count=len(sent))
        inputs = h.of(RealtimeAudioInputEvent, after=mark)
        assert len(inputs) == len(sent)
        assert all(ev.audio_data == chunk for ev, chunk in zip(inputs, sent, strict=True))

    @clause("output_format", requires=("audio_output",))
    async def test_output_format(self, harness: HarnessFactory) -> None:
        """Every output chunk is non-empty mono int16 at the declared output_sample_rate."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        chunks = h.of(RealtimeAudioOutputEvent)
        assert chunks, "no audio output"
        rate = h.caps.output_sample_rate
        for ev in chunks:
            pcm = ev.audio_data
            assert pcm.sample_rate == rate, f"chunk at {pcm.sample_rate} Hz, declared {rate} Hz"
            assert pcm.channels == 1
            assert pcm.samples.dtype == np.int16
            assert pcm.frames > 0

    @clause("one_response_id", requires=("audio_output",))
    async def test_one_response_id(self, harness: HarnessFactory) -> None:
        """All chunks of one reply share one non-empty response_id, the one its done event names."""
        h = await harness(scenario(reply_turn(audio_ms=800, chunk_ms=40)))
        await self.take_turn(h)
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        ids = {ev.response_id for ev in h.of(RealtimeAudioOutputEvent)}
        assert ids == {done.response_id}, f"chunks carry ids {ids}, done names {done.response_id!r}"
        assert done.response_id

    @clause("one_done_after_last_chunk", requires=("audio_output",))
    async def test_one_done_after_last_chunk(self, harness: HarnessFactory) -> None:
        """Exactly one audio-done per response, after its last chunk; two replies in a row stay apart."""
        h = await harness(scenario(reply_turn(), reply_turn("A second reply.")))
        await self.take_turn(h)
        first = await self.wait_reply(h)
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)
        await h.close()
        by_response: dict[str, list[int]] = {}
        for i, ev in enumerate(h.events):
            if isinstance(ev, RealtimeAudioOutputEvent):
                by_response.setdefault(ev.response_id, []).append(i)
        assert len(by_response) >= 2, f"expected two responses, got {list(by_response)}"
        for rid, indexes in by_response.items():
            dones = [i for i, ev in enumerate(h.events) if isinstance(ev, RealtimeAudioOutputDoneEvent) and ev.response_id == rid]
            assert len(dones) == 1, f"response {rid} has {len(dones)} done events"
            assert dones[0] > indexes[-1], f"response {rid}: done before its last chunk"
        assert isinstance(first, RealtimeAudioOutputDoneEvent)

    @clause("agent_speech_events", requires=("audio_output",))
    async def test_agent_speech_events(self, harness: HarnessFactory) -> None:
        """Agent speech started comes before the first chunk and stopped before done, once each."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        rid = done.response_id
        started = h.of(RealtimeAgentSpeechStartedEvent, lambda e: e.response_id == rid)
        stopped = h.of(RealtimeAgentSpeechStoppedEvent, lambda e: e.response_id == rid)
        assert len(started) == 1 and len(stopped) == 1
        first_chunk = h.of(RealtimeAudioOutputEvent, lambda e: e.response_id == rid)[0]
        assert h.index_of(started[0]) < h.index_of(first_chunk)
        assert h.index_of(stopped[0]) < h.index_of(done)
        assert stopped[0].interrupted is False

    @clause("user_speech_events", requires=("user_speech_events",))
    async def test_user_speech_events(self, harness: HarnessFactory) -> None:
        """A spoken turn produces user speech started then stopped."""
        h = await harness(scenario(reply_turn()))
        await h.speak()
        stopped = await h.wait_for(RealtimeUserSpeechStoppedEvent)
        started = h.of(RealtimeUserSpeechStartedEvent)
        assert started and h.index_of(started[0]) < h.index_of(stopped)

    @clause("time_to_first_audio", requires=("audio_output", "user_speech_events"))
    async def test_time_to_first_audio(self, harness: HarnessFactory) -> None:
        """After a spoken turn, a metrics event reports a non-negative time to first audio."""
        h = await harness(scenario(reply_turn()))
        await h.speak()
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        metrics = await h.wait_for(RealtimeMetricsEvent, lambda e: e.response_id == done.response_id)
        assert metrics.time_to_first_audio_ms is not None and metrics.time_to_first_audio_ms >= 0
        assert metrics.audio_output_ms > 0

    @clause("usage", requires=("usage",))
    async def test_usage(self, harness: HarnessFactory) -> None:
        """Token usage is reported for a reply."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        usage = await h.wait_for(RealtimeUsageEvent)
        counts = [usage.input_tokens, usage.output_tokens, usage.total_tokens]
        assert any(c is not None and c >= 0 for c in counts), "usage event without token counts"

    @clause("bad_audio_rejected")
    async def test_bad_audio_rejected(self, harness: HarnessFactory) -> None:
        """Audio that is not PcmData raises InvalidAudioError and the session keeps working."""
        h = await harness(scenario(reply_turn()))
        with pytest.raises(InvalidAudioError):
            await h.session.simple_audio_response(b"\x00\x01" * 160)  # type: ignore[arg-type]
        with pytest.raises(InvalidAudioError):
            await h.session.simple_audio_response(np.zeros(320, np.float32))  # type: ignore[arg-type]
        assert h.session.connected
        await self.take_turn(h)
        await self.wait_reply(h)
