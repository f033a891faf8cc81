"""Transcripts and text replies (contract section 4)."""

from __future__ import annotations

from realtime_core import (
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeResponseEvent,
    RealtimeUserSpeechTranscriptionEvent,
    UserTranscriptEvent,
)
from realtime_core.emulator import Reply, Turn

from ..clauses import clause, expect, not_applicable
from ..fixtures import HarnessFactory
from ..harness import Harness
from .base import REPLY_TEXT, USER_TEXT, SuiteBase, reply_turn, scenario

SECOND_USER_TEXT = "And what about tomorrow?"


class TranscriptTests(SuiteBase):
    @clause("agent_final", promise="4.1", requires=("audio_output", "agent_transcript"))
    async def test_agent_final(self, harness: HarnessFactory) -> None:
        """A spoken reply comes with exactly one final agent transcript, the reply's text."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        final = await h.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
        if not h.live:
            expect(final.text == REPLY_TEXT, f"the final transcript {REPLY_TEXT!r}", repr(final.text))
        finals = h.of(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
        expect(len(finals) == 1, "one final agent transcript", f"{len(finals)}: {[e.text for e in finals]}")

    @clause("agent_deltas_concatenate", promise="4.1", requires=("audio_output", "agent_transcript_deltas"))
    async def test_agent_deltas_concatenate(self, harness: HarnessFactory) -> None:
        """Agent transcript deltas of a reply concatenate to its final transcript, and come before it."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        final = await h.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
        deltas = h.of(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "delta")
        expect(deltas, "transcript deltas", "none")
        joined = "".join(d.text for d in deltas)
        expect(joined.strip() == final.text.strip(), f"deltas joining to {final.text!r}", repr(joined))
        expect(all(h.index_of(d) < h.index_of(final) for d in deltas), "every delta before the final", "a delta after it")

    @clause("agent_response_id", promise="4.1", requires=("audio_output", "agent_transcript"))
    async def test_agent_response_id(self, harness: HarnessFactory) -> None:
        """Every agent transcript (delta and final) carries the response_id of its reply (core drops a cut
        reply's transcript by it)."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        await h.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
        ids = {e.response_id for e in h.of(RealtimeAgentSpeechTranscriptionEvent)}
        expect(ids == {done.response_id}, f"every agent transcript under {done.response_id!r}", f"ids {ids}")

    @clause("user_final_once", promise="4.2", requires=("user_transcript",))
    async def test_user_final_once(self, harness: HarnessFactory) -> None:
        """Exactly one final user transcript per utterance (two utterances, two finals, in order), each also
        delivered as a UserTranscriptEvent(is_final=True)."""
        second = Turn(on="any", user_transcript=SECOND_USER_TEXT, reply=Reply(text="Tomorrow too.", audio_ms=400))
        h = await harness(scenario(reply_turn(), second))
        for _ in range(2):
            mark = h.mark()
            await self._utter(h)
            await self.wait_reply(h, after=mark)
        await h.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final", count=2)
        await h.barrier()
        finals = [e.text for e in h.of(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")]
        if not h.live:
            expect(finals == [USER_TEXT, SECOND_USER_TEXT], f"the finals {[USER_TEXT, SECOND_USER_TEXT]}", finals)
        else:
            expect(len(finals) == 2, "two final user transcripts for two utterances", finals)
        stt = [e.text for e in h.of(UserTranscriptEvent, lambda e: e.is_final)]
        expect(stt == finals, f"UserTranscriptEvent(is_final=True) texts {finals}", stt)

    async def _utter(self, h: Harness) -> None:
        if h.live or h.caps.server_vad:
            await h.speak()
        elif h.caps.manual_turns:
            await h.session.begin_user_turn()
            await h.speak(silence_ms=0)
            await h.session.end_user_turn()
        else:
            not_applicable("no way to speak a turn with this configuration (no server VAD, no manual turns)")

    @clause("user_deltas", promise="4.2", requires=("user_transcript_deltas",))
    async def test_user_deltas(self, harness: HarnessFactory) -> None:
        """User transcript deltas concatenate to the final user transcript."""
        h = await harness(scenario(reply_turn()))
        await self._utter(h)
        final = await h.wait_for(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "final")
        deltas = h.of(RealtimeUserSpeechTranscriptionEvent, lambda e: e.mode == "delta" and h.index_of(e) < h.index_of(final))
        expect(deltas, "user transcript deltas", "none")
        joined = "".join(d.text for d in deltas)
        expect(joined.strip() == final.text.strip(), f"deltas joining to {final.text!r}", repr(joined))

    @clause("text_reply", promise="4.3", requires=("text_output",))
    async def test_text_reply(self, harness: HarnessFactory) -> None:
        """Text replies: deltas, then exactly one complete event whose text is their concatenation."""
        options = self.variant_options("text") or {}
        h = await harness(scenario(reply_turn()), **options)
        await self.take_turn(h)
        complete = await h.wait_for(RealtimeResponseEvent, lambda e: e.is_complete)
        rid = complete.response_id
        deltas = h.of(RealtimeResponseEvent, lambda e: not e.is_complete and e.response_id == rid)
        expect(deltas, "text deltas", "none")
        joined = "".join(d.text for d in deltas)
        expect(joined == complete.text, f"deltas joining to {complete.text!r}", repr(joined))
        count = len(h.of(RealtimeResponseEvent, lambda e: e.is_complete and e.response_id == rid))
        expect(count == 1, "one complete event", f"{count}")
        if not h.live:
            expect(complete.text == REPLY_TEXT, f"the text {REPLY_TEXT!r}", repr(complete.text))
