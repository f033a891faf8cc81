"""Errors and faults: server errors, malformed frames, dropped connections, reconnection truth."""

from __future__ import annotations

from realtime_core import (
    PcmData,
    ProtocolError,
    RealtimeDisconnectedEvent,
    RealtimeError,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
)
from realtime_core.emulator import Fault

from ..clauses import clause
from ..fixtures import HarnessFactory
from .base import SuiteBase, reply_turn, scenario


class ErrorTests(SuiteBase):
    @clause("server_error_event", offline_only=True)
    async def test_server_error_event(self, harness: HarnessFactory) -> None:
        """A server error becomes a RealtimeErrorEvent with a typed error and context; the session lives."""
        faults = [Fault(kind="error", at_turn=0, phase="before_reply", code="server_error", message="emulated failure")]
        h = await harness(scenario(reply_turn(), reply_turn(), faults=faults))
        await self.take_turn(h)
        event = await h.wait_for(RealtimeErrorEvent)
        assert isinstance(event.error, RealtimeError)
        assert event.context
        assert h.session.connected
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)

    @clause("malformed_frame_survived", offline_only=True)
    async def test_malformed_frame_survived(self, harness: HarnessFactory) -> None:
        """A malformed frame from the server is an error event, not a dead receive loop."""
        faults = [Fault(kind="malformed", at_turn=0, phase="before_reply")]
        h = await harness(scenario(reply_turn(), reply_turn(), faults=faults))
        await self.take_turn(h)
        event = await h.wait_for(RealtimeErrorEvent)
        assert isinstance(event.error, ProtocolError), f"expected ProtocolError, got {type(event.error).__name__}"
        await self.wait_reply(h)
        assert h.session.connected
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)

    @clause("dropped_connection", offline_only=True)
    async def test_dropped_connection(self, harness: HarnessFactory) -> None:
        """A dropped connection gives one disconnected event with was_clean=False; where reconnection is
        declared, a reconnected event follows whose state_restored tells the truth, and the session works."""
        faults = [Fault(kind="close", at_turn=1, phase="mid_reply")]
        turns = [reply_turn(), reply_turn(audio_ms=2000, chunk_interval_ms=20), reply_turn("Back again.")]
        h = await harness(scenario(*turns, faults=faults))
        await self.take_turn(h)
        await self.wait_reply(h)
        await self.take_turn(h)
        dropped = await h.wait_for(RealtimeDisconnectedEvent)
        assert dropped.was_clean is False
        if not h.caps.reconnection:
            assert dropped.will_reconnect is False
            return
        assert dropped.will_reconnect is True
        back = await h.wait_for(RealtimeReconnectedEvent, timeout=h.timeout * 2)
        assert h.session.connected
        assert h.emulator is not None
        await h.barrier()  # whatever the reconnect sent has arrived
        restored_facts = [f for f in h.emulator.facts_named("state_restored") if f.connection > 1]
        if back.state_restored:
            assert restored_facts, "state_restored=True but the provider did not restore anything"
        else:
            assert not restored_facts, "state_restored=False but the provider says it restored the conversation"
        if h.caps.session_resumption:
            assert back.state_restored, "session_resumption is declared but the conversation was not restored"
        assert len(h.of(RealtimeDisconnectedEvent)) == 1
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)

    @clause("audio_kept_across_reconnect", requires=("reconnection",), offline_only=True)
    async def test_audio_kept_across_reconnect(self, harness: HarnessFactory) -> None:
        """Audio sent while reconnecting is buffered and sent after, or reported as lost; never silently dropped."""
        faults = [Fault(kind="close", at_turn=0, phase="after_reply")]
        h = await harness(
            scenario(reply_turn(), faults=faults),
            reconnect=ReconnectPolicy(max_attempts=3, initial_delay=0.5, jitter=0.0),
        )
        await self.take_turn(h)
        await h.wait_for(RealtimeDisconnectedEvent)
        await h.send_audio(PcmData.silence(200, 48000))
        back = await h.wait_for(RealtimeReconnectedEvent, timeout=h.timeout * 2)
        assert back.replayed_audio_ms + back.lost_audio_ms >= 150, (
            f"200 ms sent during the gap; replayed {back.replayed_audio_ms} ms, reported lost {back.lost_audio_ms} ms"
        )

    @clause("session_limit_renewal", requires=("reconnection",), offline_only=True)
    async def test_session_limit_renewal(self, harness: HarnessFactory) -> None:
        """When the provider announces the end of the session (expiry, goAway), the session is renewed and
        keeps working."""
        faults = [Fault(kind="expire", at_turn=0, phase="after_reply")]
        h = await harness(scenario(reply_turn(), reply_turn("Still here."), faults=faults))
        await self.take_turn(h)
        await self.wait_reply(h)
        await h.wait_for(RealtimeReconnectedEvent, timeout=h.timeout * 2)
        assert h.session.connected
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)
