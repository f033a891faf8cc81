"""Responses and transcripts: text deltas, agent transcripts, user transcripts."""

from __future__ import annotations

import pytest

from realtime_core import (
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeResponseEvent,
    RealtimeUserSpeechTranscriptionEvent,
    UserTranscriptEvent,
)

from ..clauses import clause
from ..fixtures import HarnessFactory
from .base import REPLY_TEXT, USER_TEXT, SuiteBase, reply_turn, scenario


class TranscriptTests(SuiteBase):
    @clause("agent_transcript_final", requires=("audio_output", "agent_transcript"))
    async def test_agent_transcript_final(self, harness: HarnessFactory) -> None:
        """A spoken reply comes with one final agent transcript naming its response."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        final = await h.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
        if not h.live:
            assert final.text == REPLY_TEXT
        assert final.response_id in (None, done.response_id)
        assert len(h.of(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")) == 1

    @clause("agent_transcript_deltas", requires=("audio_output", "agent_transcript_deltas"))
    async def test_agent_transcript_deltas(self, harness: HarnessFactory) -> None:
        """Agent transcript deltas of a response concatenate to its final transcript."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        final = await h.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
        deltas = h.of(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "delta")
        assert deltas, "no transcript deltas"
        assert "".join(d.text for d in deltas).strip() == final.text.strip()
        assert all(h.index_of(d) < h.index_of(final) for d in deltas)

    @clause("user_transcript", requires=("user_transcript",))
    async def test_user_transcript(self, harness: HarnessFactory) -> None:
        """A spoken turn produces a final user transcript and a matching UserTranscriptEvent."""
        h = await harness(scenario(reply_turn()))
        if not (h.live or h.caps.server_vad or h.caps.manual_turns):
            pytest.skip("no way to speak a turn with this configuration")
        if h.live or h.caps.server_vad:
            await h.speak()
        else:
            await h.session.begin_user_turn()
            await h.speak(silence_ms=0)
            await h.session.end_user_turn()
        final = await h.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
        if not h.live:
            assert final.text == USER_TEXT
        else:
            assert final.text.strip()
        stt = await h.wait_for(UserTranscriptEvent, lambda e: e.is_final)
        assert stt.text == final.text

    @clause("user_transcript_deltas", requires=("user_transcript_deltas",))
    async def test_user_transcript_deltas(self, harness: HarnessFactory) -> None:
        """User transcript deltas concatenate to the final user transcript."""
        h = await harness(scenario(reply_turn()))
        await h.speak()
        final = await h.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
        deltas = h.of(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "delta" and h.index_of(e) < h.index_of(final))
        assert deltas, "no user transcript deltas"
        assert "".join(d.text for d in deltas).strip() == final.text.strip()

    @clause("text_response", requires=("text_output",))
    async def test_text_response(self, harness: HarnessFactory) -> None:
        """Text replies: deltas, then exactly one complete event whose text is their concatenation."""
        options = self.text_mode_options if self.text_mode_options is not None else {}
        h = await harness(scenario(reply_turn()), **options)
        await self.take_turn(h)
        complete = await h.wait_for(RealtimeResponseEvent, lambda e: e.is_complete)
        rid = complete.response_id
        deltas = h.of(RealtimeResponseEvent, lambda e: not e.is_complete and e.response_id == rid)
        assert deltas, "no text deltas"
        assert "".join(d.text for d in deltas) == complete.text
        assert len(h.of(RealtimeResponseEvent, lambda e: e.is_complete and e.response_id == rid)) == 1
        if not h.live:
            assert complete.text == REPLY_TEXT
