"""Interruption: the epoch rule, cancel/truncate, and server barge-in producing the same events."""

from __future__ import annotations

from realtime_core import (
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeInterruptedEvent,
    RealtimeUserSpeechStartedEvent,
)

from ..clauses import clause
from ..fixtures import HarnessFactory
from ..harness import Harness
from .base import SuiteBase, long_reply_turn, reply_turn, scenario


class InterruptionTests(SuiteBase):
    async def _mid_reply(self, h: Harness) -> RealtimeAudioOutputEvent:
        await self.take_turn(h)
        return await h.wait_for(RealtimeAudioOutputEvent, count=3)

    @clause("epoch_increments", requires=("interruption",))
    async def test_epoch_increments(self, harness: HarnessFactory) -> None:
        """interrupt() increments epoch by one and emits an interrupted event stamped with the new epoch."""
        h = await harness()
        before = h.session.epoch
        await h.session.interrupt()
        assert h.session.epoch == before + 1
        event = await h.wait_for(RealtimeInterruptedEvent)
        assert event.epoch == before + 1 and event.source == "local"
        assert h.session.connected

    @clause("no_stale_output", requires=("interruption", "audio_output"), offline_only=True)
    async def test_no_stale_output(self, harness: HarnessFactory) -> None:
        """After interrupt(), no output of the cut response (or of an older epoch) is delivered; its one
        done event says interrupted; the next reply plays under its own response id."""
        h = await harness(scenario(long_reply_turn(), reply_turn("After the interruption.")))
        chunk = await self._mid_reply(h)
        cut = chunk.response_id
        await h.session.interrupt()
        marker = await h.wait_for(RealtimeInterruptedEvent)
        epoch = marker.epoch
        done = await h.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == cut)
        assert done.interrupted is True
        at = h.index_of(marker)
        await h.barrier()  # output the provider had in flight when told to stop arrives before the next reply
        await self.take_turn(h)
        nxt = await self.wait_reply(h, after=at)
        assert isinstance(nxt, RealtimeAudioOutputDoneEvent)
        after = h.events[at:]
        stale = [e for e in after if e.is_output and e.epoch < epoch]
        assert not stale, f"{len(stale)} output events of an older epoch delivered after the interrupt"
        leaked = [e for e in after if isinstance(e, RealtimeAudioOutputEvent) and e.response_id != nxt.response_id]
        assert not leaked, f"{len(leaked)} audio chunks after the interrupt that are not the next reply's"
        assert nxt.response_id != cut
        assert len(h.of(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == cut)) == 1

    @clause("provider_told", requires=("interruption", "audio_output"), offline_only=True)
    async def test_provider_told(self, harness: HarnessFactory) -> None:
        """A local interrupt mid-reply tells the provider what its protocol requires (cancel, truncate...)."""
        h = await harness(scenario(long_reply_turn()))
        await self._mid_reply(h)
        await h.session.interrupt()
        assert h.emulator is not None
        for fact in type(h.emulator).interrupt_facts:
            await h.emulator.wait_fact(fact, timeout=h.timeout)

    @clause("truncate_within_received", requires=("interruption", "truncation"), offline_only=True)
    async def test_truncate_within_received(self, harness: HarnessFactory) -> None:
        """Truncation never points past the audio the provider actually sent."""
        h = await harness(scenario(long_reply_turn()))
        await self._mid_reply(h)
        await h.session.interrupt()
        assert h.emulator is not None
        fact = await h.emulator.wait_fact("truncate", timeout=h.timeout)
        end, sent = fact.data.get("audio_end_ms"), fact.data.get("sent_ms")
        assert end is not None and end >= 0
        if sent is not None:
            assert end <= sent + 1, f"truncated at {end} ms but only {sent} ms were sent"

    @clause("server_barge_in", requires=("interruption", "server_vad", "audio_output"), offline_only=True)
    async def test_server_barge_in(self, harness: HarnessFactory) -> None:
        """Speaking over a reply produces the same events as a local interrupt, with source="server"."""
        h = await harness(scenario(long_reply_turn(), reply_turn("Yes?")))
        chunk = await self._mid_reply(h)
        cut = chunk.response_id
        epoch = h.session.epoch
        mark = h.mark()
        await h.speak(600, silence_ms=0)
        marker = await h.wait_for(RealtimeInterruptedEvent, after=mark)
        assert marker.source == "server"
        assert marker.epoch == epoch + 1 and h.session.epoch >= epoch + 1
        done = await h.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == cut)
        assert done.interrupted is True
        stopped = h.of(RealtimeAgentSpeechStoppedEvent, lambda e: e.response_id == cut)
        assert len(stopped) == 1 and stopped[0].interrupted
        assert h.of(RealtimeUserSpeechStartedEvent, after=mark)
        at = h.index_of(marker)
        assert not [e for e in h.events[at:] if isinstance(e, RealtimeAudioOutputEvent) and e.response_id == cut]

    @clause("interrupt_when_idle", requires=("interruption",))
    async def test_interrupt_when_idle(self, harness: HarnessFactory) -> None:
        """interrupt() with nothing playing emits no done event and the session keeps working."""
        h = await harness(scenario(reply_turn()))
        await h.session.interrupt()
        await h.wait_for(RealtimeInterruptedEvent)
        assert not h.of(RealtimeAudioOutputDoneEvent)
        await self.take_turn(h)
        await self.wait_reply(h)
