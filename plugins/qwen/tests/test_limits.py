"""Session limits through core's reconnection: idle closes (1007), the 120-minute cap (proactive renewal at a
quiet moment, or the server's close), dropped sockets. DashScope cannot resume: the configuration is sent
again, the conversation is new, ``state_restored`` is False and the emulator never notes a restoration."""

from __future__ import annotations

from realtime_core import (
    ProtocolError,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeDisconnectedEvent,
    RealtimeError,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
    SessionExpiredError,
)
from realtime_core.emulator import Fault

from .helpers import (
    PLUS,
    EmulatorFactory,
    RecorderFactory,
    SessionFactory,
    client_events,
    long_turn,
    scenario,
    speak,
    turn,
)


async def test_an_idle_close_reconnects_with_the_same_configuration(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(idle_timeout_s=0.3)
    s = session(emu, model=PLUS, instructions="Remember me.")
    await s.connect()
    rec = await recorder(s)
    seen = await rec.collect_until(RealtimeReconnectedEvent)
    [dropped] = [e for e in seen if isinstance(e, RealtimeDisconnectedEvent)]
    assert dropped.was_clean is False and dropped.will_reconnect is True
    assert isinstance(dropped.error, RealtimeError) and dropped.error.code == "idle_timeout" and dropped.error.recoverable
    back = seen[-1]
    assert isinstance(back, RealtimeReconnectedEvent) and back.state_restored is False and back.planned is False
    first, second = (client_events(emu, "session.update", connection=n)[0]["session"] for n in (1, 2))
    assert first == second and second["instructions"] == "Remember me."
    assert not emu.facts_named("state_restored")
    assert emu.idle_closes >= 1


async def test_the_cap_renews_at_a_quiet_moment(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn(audio_ms=900, chunk_ms=100, chunk_interval_ms=60)))
    s = session(emu, model=PLUS)
    await s.connect()
    rec = await recorder(s)
    await speak(s, 300, 900)
    await rec.wait_for(RealtimeAudioOutputEvent)
    s._cap.near()  # pyright: ignore[reportPrivateUsage]  # the cap's first timer fires while a reply plays
    seen = await rec.collect_until(RealtimeReconnectedEvent)
    back = seen[-1]
    assert isinstance(back, RealtimeReconnectedEvent) and back.planned and back.state_restored is False
    done = [e for e in seen if isinstance(e, RealtimeAudioOutputDoneEvent)]
    assert len(done) == 1 and not done[0].interrupted, "the reply played to its end before the renewal"
    assert not [e for e in seen if isinstance(e, RealtimeDisconnectedEvent)]  # make before break: no gap
    assert emu.facts_named("session_finished")[0].connection == 1  # the old session was ended politely
    assert client_events(emu, "session.update", connection=2)
    assert not emu.facts_named("state_restored")


async def test_the_cap_is_forced_before_the_server_closes(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(long_turn(seconds=20)))
    s = session(emu, model=PLUS)
    await s.connect()
    rec = await recorder(s)
    await speak(s, 300, 900)
    await rec.wait_for(RealtimeAudioOutputEvent)
    s._cap.near()  # pyright: ignore[reportPrivateUsage]  # a reply plays: the renewal waits...
    assert not rec.of(RealtimeReconnectedEvent)
    s._cap.force()  # pyright: ignore[reportPrivateUsage]  # ...until the second timer: no more waiting
    seen = await rec.collect_until(RealtimeReconnectedEvent)
    cut = [e for e in seen if isinstance(e, RealtimeAudioOutputDoneEvent)]
    assert len(cut) == 1 and cut[0].interrupted, "the reply that outlived the cap ended, marked interrupted"
    assert isinstance(seen[-1], RealtimeReconnectedEvent) and seen[-1].planned


async def test_the_cap_timers_renew_an_idle_session(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator()
    s = session(emu, model=PLUS, max_session_seconds=0.6, renew_margin_s=0.5)
    await s.connect()
    rec = await recorder(s)
    back = await rec.wait_for(RealtimeReconnectedEvent)
    assert back.planned and back.state_restored is False
    assert emu.facts_named("session_finished")[0].connection == 1


async def test_the_servers_cap_close_is_survived(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(max_session_seconds=0.3)
    s = session(emu, model=PLUS)
    await s.connect()
    rec = await recorder(s)
    seen = await rec.collect_until(RealtimeReconnectedEvent)
    [dropped] = [e for e in seen if isinstance(e, RealtimeDisconnectedEvent)]
    assert isinstance(dropped.error, SessionExpiredError) and dropped.error.code == "session_expired" and dropped.will_reconnect
    assert seen[-1].state_restored is False  # type: ignore[attr-defined]


async def test_a_dropped_socket_mid_reply(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    faults = [Fault(kind="close", at_turn=0, phase="mid_reply")]
    emu = await emulator(scenario(turn(audio_ms=1000, chunk_interval_ms=10), turn("Again."), faults=faults))
    s = session(emu, model=PLUS)
    await s.connect()
    rec = await recorder(s)
    await speak(s)
    seen = await rec.collect_until(RealtimeReconnectedEvent)
    cut = [e for e in seen if isinstance(e, RealtimeAudioOutputDoneEvent)]
    assert len(cut) == 1 and cut[0].interrupted
    assert seen[-1].state_restored is False  # type: ignore[attr-defined]
    await speak(s)
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, after=seen[-1], timeout=5)
    assert done.response_id != cut[0].response_id
    assert not emu.facts_named("state_restored")


async def test_other_1007_closes_are_final(emulator: EmulatorFactory, session: SessionFactory) -> None:
    faults = [Fault(kind="close", after_messages=2, code=1007, message="Invalid payload data")]
    emu = await emulator(scenario(turn(), faults=faults))
    s = session(emu, model=PLUS, reconnect=ReconnectPolicy(max_attempts=3, initial_delay=0.05))
    await s.connect()
    events = s.events()
    await speak(s, 100, 0)
    dropped = await events.wait_for(RealtimeDisconnectedEvent, timeout=5)
    assert dropped.will_reconnect is False and isinstance(dropped.error, ProtocolError)
    assert emu.connections == 1


async def test_a_going_away_close_is_survived(emulator: EmulatorFactory, session: SessionFactory) -> None:
    faults = [Fault(kind="go_away", at_turn=0, phase="after_reply")]
    emu = await emulator(scenario(turn(), turn("After."), faults=faults))
    s = session(emu, model=PLUS)
    await s.connect()
    events = s.events()
    await speak(s)
    back = await events.wait_for(RealtimeReconnectedEvent, timeout=5)
    assert back.state_restored is False
    await speak(s)
    done = await events.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, timeout=5)
    assert done.response_id
