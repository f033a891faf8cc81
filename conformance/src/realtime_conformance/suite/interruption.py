"""Interruption: the epoch rule, telling the provider, truncation, server barge-in, idle and repeated
interrupts (contract section 5)."""

from __future__ import annotations

from realtime_core import (
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeErrorEvent,
    RealtimeInterruptedEvent,
    RealtimeUserSpeechStartedEvent,
)
from realtime_core.emulator import Fault

from ..clauses import clause, expect, not_applicable
from ..fixtures import HarnessFactory
from ..harness import FRAME_MS, Harness
from .base import SuiteBase, delivered_ms, long_reply_turn, reply_turn, scenario

REPORTED_PLAYBACK_MS = 100.0


class InterruptionTests(SuiteBase):
    async def _mid_reply(self, h: Harness, chunks: int = 3) -> RealtimeAudioOutputEvent:
        await self.take_turn(h)
        return await h.wait_for(RealtimeAudioOutputEvent, count=chunks)

    @clause("epoch_increments", promise="5.1", requires=("interruption",))
    async def test_epoch_increments(self, harness: HarnessFactory) -> None:
        """interrupt() increments epoch by one and emits an interrupted event stamped with the new epoch."""
        h = await harness()
        before = h.session.epoch
        await h.session.interrupt()
        expect(h.session.epoch == before + 1, f"epoch {before + 1}", h.session.epoch)
        event = await h.wait_for(RealtimeInterruptedEvent)
        expect(event.epoch == before + 1 and event.source == "local", f"an interrupted event with epoch {before + 1}, source local",
               f"epoch {event.epoch}, source {event.source}")  # fmt: skip
        expect(h.session.connected, "the session still connected", h.session.state)

    @clause("no_stale_output", promise="5.1", requires=("interruption", "audio_output"), offline_only=True)
    async def test_no_stale_output(self, harness: HarnessFactory) -> None:
        """After interrupt(), no output of the cut response (or of an older epoch) is delivered; its one done
        event says interrupted; the next reply plays under its own response id."""
        h = await harness(scenario(long_reply_turn(), reply_turn("After the interruption.")))
        chunk = await self._mid_reply(h)
        cut = chunk.response_id
        await h.session.interrupt()
        marker = await h.wait_for(RealtimeInterruptedEvent)
        epoch = marker.epoch
        done = await h.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == cut)
        expect(done.interrupted is True, "the cut reply's done event with interrupted=True", "interrupted=False")
        at = h.index_of(marker)
        await h.barrier()  # output the provider had in flight when told to stop arrives before the next reply
        await self.take_turn(h)
        nxt = await self.wait_reply(h, after=at)
        assert isinstance(nxt, RealtimeAudioOutputDoneEvent)
        after = h.events[at:]
        stale = [e.type for e in after if e.is_output and e.epoch < epoch]
        expect(not stale, "no output of an older epoch after the interrupt", f"{len(stale)}: {stale[:5]}")
        leaked = [e for e in after if isinstance(e, RealtimeAudioOutputEvent) and e.response_id != nxt.response_id]
        expect(not leaked, "only the next reply's audio after the interrupt",
               f"{len(leaked)} chunks of {sorted({e.response_id for e in leaked})}")  # fmt: skip
        expect(nxt.response_id != cut, "a new response id for the next reply", f"the cut one, {cut!r}")
        dones = len(h.of(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == cut))
        expect(dones == 1, "one done event for the cut reply", f"{dones}")

    def _interrupt_facts(self, h: Harness) -> tuple[str, ...]:
        emulator = h.emulator_or_skip()
        facts = tuple(type(emulator).interrupt_facts)
        if not facts:
            not_applicable("the protocol has no message for a local interrupt (the emulator's interrupt_facts is empty)")
        h.require_observation(*facts)
        return facts

    @clause("provider_told", promise="5.2", requires=("interruption", "audio_output"), offline_only=True)
    async def test_provider_told(self, harness: HarnessFactory) -> None:
        """A local interrupt mid-reply tells the provider what its protocol requires (cancel, truncate, clear)."""
        h = await harness(scenario(long_reply_turn()))
        facts = self._interrupt_facts(h)
        chunk = await self._mid_reply(h)
        h.session.report_playback(chunk.response_id, 0)  # the truncation point does not depend on timing
        await h.session.interrupt()
        for fact in facts:
            await h.wait_fact(fact)

    @clause("truncate_within_received", promise="5.3", requires=("interruption", "truncation"),
            observes=("truncate", "audio_out"), offline_only=True)  # fmt: skip
    async def test_truncate_within_received(self, harness: HarnessFactory) -> None:
        """Truncation never points past the audio the provider actually sent, even when the app played all of
        what it received."""
        # half the reply goes out, then the provider holds the rest: what it sent stays put while we check
        reply = reply_turn(audio_ms=1200, chunk_ms=40)
        hold = Fault(kind="delay", at_turn=0, phase="mid_reply", delay_ms=5000)
        h = await harness(scenario(reply, faults=[hold]))
        emulator = h.emulator_or_skip()
        chunk = await self._mid_reply(h, chunks=1)
        rid = chunk.response_id

        def frames_missing() -> int:  # what the provider sent that has not arrived (raw frames, any label)
            sent = sum(t.frames for t in emulator.audio_out.values())
            got = sum(c.audio_data.frames for c in h.of(RealtimeAudioOutputEvent, lambda e: e.response_id == rid))
            return sent - got

        rate = emulator.output_sample_rate
        slack = int((40 + FRAME_MS) * rate / 1000)  # a chunk a plugin may still hold, and a frame
        await h.until(lambda: sum(t.ms for t in emulator.audio_out.values()) >= 600 - FRAME_MS and frames_missing() <= slack,
                      "the first half of the reply to arrive")  # fmt: skip
        h.session.report_playback(rid, delivered_ms(h, rid))
        await h.session.interrupt()
        try:
            fact = await h.wait_fact("truncate")
        except TimeoutError:
            errors = [str(e.error) for e in h.of(RealtimeErrorEvent)]
            expect(False, f"a truncation the provider accepts (within the {delivered_ms(h, rid):.0f} ms received)",
                   f"none accepted; the provider's errors: {errors or 'none'}")  # fmt: skip
            return
        end, sent = fact.data.get("audio_end_ms"), fact.data.get("sent_ms")
        expect(end is not None and end >= 0, "a truncation point >= 0 ms", repr(end))
        if sent is not None and end is not None:
            expect(end <= sent + 1, f"a truncation within the {sent:.0f} ms sent", f"{end} ms")


    @clause("truncate_at_reported_playback", promise="5.3", requires=("interruption", "truncation"),
            observes=("truncate",), offline_only=True)  # fmt: skip
    async def test_truncate_at_reported_playback(self, harness: HarnessFactory) -> None:
        """After report_playback(rid, X) an interrupt truncates at X or before: the provider learns what was
        heard, not what was received."""
        h = await harness(scenario(long_reply_turn()))
        chunk = await self._mid_reply(h, chunks=8)
        h.session.report_playback(chunk.response_id, REPORTED_PLAYBACK_MS)
        await h.session.interrupt()
        fact = await h.wait_fact("truncate")
        end = fact.data.get("audio_end_ms")
        expect(end is not None and 0 <= end <= REPORTED_PLAYBACK_MS + 1,
               f"a truncation at <= {REPORTED_PLAYBACK_MS:g} ms (reported as heard)", f"{end} ms")  # fmt: skip

    @clause("server_barge_in", promise="5.4", requires=("interruption", "server_vad", "audio_output"), offline_only=True)
    async def test_server_barge_in(self, harness: HarnessFactory) -> None:
        """Speaking over a reply produces the same events as a local interrupt, with source="server"."""
        h = await harness(scenario(long_reply_turn(), reply_turn("Yes?")))
        chunk = await self._mid_reply(h)
        cut = chunk.response_id
        epoch = h.session.epoch
        mark = h.mark()
        await h.speak(600, silence_ms=0)
        marker = await h.wait_for(RealtimeInterruptedEvent, after=mark)
        expect(marker.source == "server", 'source="server"', repr(marker.source))
        expect(marker.epoch == epoch + 1, f"epoch {epoch + 1}", marker.epoch)
        done = await h.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == cut)
        expect(done.interrupted is True, "the cut reply's done with interrupted=True", "interrupted=False")
        stopped = h.of(RealtimeAgentSpeechStoppedEvent, lambda e: e.response_id == cut)
        expect(len(stopped) == 1 and stopped[0].interrupted, "one agent speech stopped, interrupted",
               f"{[(s.interrupted) for s in stopped]}")  # fmt: skip
        expect(h.of(RealtimeUserSpeechStartedEvent, after=mark), "user speech started", "none")
        at = h.index_of(marker)
        late = [e for e in h.events[at:] if isinstance(e, RealtimeAudioOutputEvent) and e.response_id == cut]
        expect(not late, "no audio of the cut reply after the interruption", f"{len(late)} chunks")

    @clause("interrupt_when_idle", promise="5.5", requires=("interruption",))
    async def test_interrupt_when_idle(self, harness: HarnessFactory) -> None:
        """interrupt() with nothing playing emits no done event, no error, and the session keeps working."""
        h = await harness(scenario(reply_turn()))
        await h.session.interrupt()
        await h.wait_for(RealtimeInterruptedEvent)
        expect(not h.of(RealtimeAudioOutputDoneEvent), "no done event", "a done event")
        await self.take_turn(h)
        await self.wait_reply(h)
        errors = [str(e.error) for e in h.of(RealtimeErrorEvent)]
        expect(not errors, "no error event (nothing the provider would reject was sent)", errors)

    @clause("interrupts_coalesced", promise="5.5", requires=("interruption", "audio_output"), offline_only=True)
    async def test_interrupts_coalesced(self, harness: HarnessFactory) -> None:
        """Many interrupts in a row during one reply send at most one cancel for it and surface no error the
        SDK caused itself."""
        h = await harness(scenario(long_reply_turn(), reply_turn("Still here.")))
        emulator = h.emulator_or_skip()
        chunk = await self._mid_reply(h)
        mark = h.mark()
        for _ in range(20):
            await h.session.interrupt()
        await h.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == chunk.response_id)
        await h.barrier()
        errors = [str(e.error) for e in h.of(RealtimeErrorEvent, after=mark)]
        expect(not errors, "no error event after 20 interrupts", errors)
        if "cancel" in type(emulator).interrupt_facts and emulator.can_observe("cancel"):
            cancels = len(h.facts("cancel"))
            expect(cancels <= 1, "at most one cancel for the reply", f"{cancels} cancels")
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)
