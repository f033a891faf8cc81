"""Faults from outside the emulator (issue 14), through realtime_core.testing.FaultProxy: a dead path is
noticed within liveness_timeout and the session reconnects; no send blocks longer than that; every
millisecond of audio is received, replayed or reported lost (duplicates only within the unconfirmed tail);
a TLS failure is a TLS error at once; close() during connect() leaves nothing behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from realtime_core import (
    ConnectionFailedError,
    PcmData,
    RealtimeAudioOutputDoneEvent,
    RealtimeDisconnectedEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
    SessionClosedError,
    SessionState,
)
from realtime_core.emulator import Fault
from realtime_core.testing import FaultProxy, speech_tone

from .conftest import EmulatorFactory, SessionFactory, scenario, speak, turn

LIVENESS = 1.5
SLACK = 2.0  # scheduling slack on top of the promised bound (the machine may be busy)


@pytest_asyncio.fixture
async def proxied(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> AsyncIterator[Any]:
    """``emulator, proxy, session, recorder = await proxied(scenario, **session_options)``."""
    proxies: list[FaultProxy] = []

    async def make(plan: Any = None, *, connect: bool = True, **options: Any) -> tuple[Any, FaultProxy, Any, Any]:
        emulator = await nova_emulator(plan or scenario(turn(), turn("Again.")), idle_timeout_s=None)
        proxy = FaultProxy(emulator.host, emulator.port)
        await proxy.start()
        proxies.append(proxy)
        emulator.advertise("127.0.0.1", proxy.port)
        options.setdefault("liveness_timeout", LIVENESS)
        options.setdefault("reconnect", ReconnectPolicy(max_attempts=5, initial_delay=0.05, max_delay=0.3))
        session, rec = await nova_session(emulator, connect=connect, **options)
        return emulator, proxy, session, rec

    yield make
    for proxy in proxies:
        await proxy.stop()


async def test_a_black_hole_is_noticed_within_the_liveness_timeout_and_reconnected(proxied: Any) -> None:
    _emulator, proxy, session, rec = await proxied()
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    mark = rec.mark()
    proxy.black_hole()  # nothing arrives any more; the model is quiet anyway, so only liveness can tell
    started = time.monotonic()
    dropped = await rec.wait_for(RealtimeDisconnectedEvent, after=mark, timeout=LIVENESS * 3 + SLACK)
    took = time.monotonic() - started
    assert not dropped.was_clean and dropped.will_reconnect
    assert took <= LIVENESS + SLACK, f"the dead path was noticed after {took:.1f} s"
    back = await rec.wait_for(RealtimeReconnectedEvent, after=dropped)
    assert back.state_restored  # the history went to the new stream
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent, count=2)  # on a new connection: the session works
    assert len(rec.of(RealtimeDisconnectedEvent)) == 1


async def test_no_send_blocks_while_the_path_is_dead(proxied: Any) -> None:
    """Black-holed, the server's HTTP/2 window updates stop: the SDK's sends block once the window is full.
    Each send is bounded by liveness_timeout; what cannot be sent goes to core's gap buffer."""
    _emulator, proxy, session, rec = await proxied(liveness_probe=False)  # the sends alone must tell
    proxy.black_hole()
    chunk = speech_tone(20)
    worst = 0.0
    for _ in range(int(3 * LIVENESS / 0.01)):  # twice real time: fills the window sooner
        started = time.monotonic()
        async with asyncio.timeout(LIVENESS * 4):
            await session.simple_audio_response(chunk)
        worst = max(worst, time.monotonic() - started)
        if rec.of(RealtimeReconnectedEvent):
            break
        await asyncio.sleep(0.01)
    assert worst <= LIVENESS + SLACK, f"a send blocked {worst:.1f} s"
    dropped = await rec.wait_for(RealtimeDisconnectedEvent)
    assert not dropped.was_clean and dropped.will_reconnect
    back = await rec.wait_for(RealtimeReconnectedEvent)
    assert back.replayed_audio_ms > 0  # the unconfirmed audio and the gap went to the new stream


@pytest.mark.parametrize("fault", ["cut", "reset", "black_hole"])
async def test_every_millisecond_is_received_replayed_or_reported_lost(proxied: Any, fault: str) -> None:
    """The invariant with the emulator's own count. Before, Nova re-sent on the new stream the audio core
    already replayed (the emulator got ~10 s more than was sent in a soak run)."""
    emulator, proxy, session, rec = await proxied(silence_fill_ms=5000)  # no keepalive silence: exact sums
    sent = 0.0
    chunk = speech_tone(20)
    for i in range(150):  # 3 s of speech; the fault hits after 1 s, while audio flows
        if i == 50:
            getattr(proxy, fault)()
        await session.simple_audio_response(chunk)
        sent += chunk.duration_ms
        await asyncio.sleep(0.02)
    back = await rec.wait_for(RealtimeReconnectedEvent, timeout=LIVENESS * 3 + SLACK + 10)
    silence = PcmData.silence(800, 16000)
    await session.simple_audio_response(silence)  # ends the utterance on the new stream
    sent += silence.duration_ms
    reconnects = rec.of(RealtimeReconnectedEvent)
    replayed = sum(r.replayed_audio_ms for r in reconnects)
    lost = sum(r.lost_audio_ms for r in reconnects) + sum(d.lost_audio_ms for d in rec.of(RealtimeDisconnectedEvent))
    await emulator.wait_audio(sent - lost - 1)  # everything not reported lost arrives...
    await session.close()
    received = emulator.audio_received_ms
    assert back.attempts >= 1 and session.silence_sent_ms == 0
    # ...and nothing beyond it but replays of the unconfirmed tail
    assert received <= sent + replayed + 1, (received, sent, replayed, lost)
    duplicates = received - (sent - lost)
    print(f"{fault}: sent {sent:.0f} ms, received {received:.0f}, replayed {replayed:.0f}, lost {lost:.0f}")
    assert duplicates <= replayed + 1


async def test_a_certificate_that_does_not_verify_is_a_tls_error_at_once(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    """awscrt reports a failed handshake only after s2n's 10-30 s "blinding" delay: it used to surface as a
    connect timeout. The session checks TLS itself beside the first connection."""
    emulator = await nova_emulator()
    session, rec = await nova_session(emulator, connect=False, ca_file=None, connect_timeout=60)
    async with asyncio.timeout(30):  # far below the connect timeout and the blinding delay
        with pytest.raises(ConnectionFailedError) as info:
            await session.connect()
    assert info.value.code == "tls_verification" and not info.value.recoverable
    assert "ca_file" in info.value.message and not rec.events
    assert emulator.connections == 0  # no request got past the handshake


async def test_close_during_connect_releases_everything(proxied: Any) -> None:
    _emulator, proxy, session, rec = await proxied(connect=False)
    before = asyncio.all_tasks()
    proxy.black_hole(live=False, upcoming=1)  # the first handshake vanishes: connect() hangs in it
    connecting = asyncio.get_running_loop().create_task(session.connect())
    await proxy.wait_connections(1)
    await session.close()
    with pytest.raises(SessionClosedError):
        async with asyncio.timeout(5):
            await connecting
    assert session.state is SessionState.CLOSED
    proxy.restore()  # what the black hole held back (the closes) reaches the other side now
    await proxy.wait_until(lambda p: p.open == 0, timeout=10)
    leftover = {t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()}
    if leftover:
        await asyncio.wait(leftover, timeout=2)
    assert not {t for t in leftover if not t.done()}
    assert not rec.events


async def test_a_silent_but_alive_path_is_not_a_dead_one(proxied: Any) -> None:
    """A stall (the server says nothing for longer than the liveness timeout but answers on the connection)
    must not cost a reconnection: the probe gets its answer."""
    plan = scenario(turn(), turn("Again."), faults=[Fault(kind="stall", after_messages=3, delay_ms=int(LIVENESS * 3000))])
    emulator, _proxy, session, rec = await proxied(plan)
    await speak(session, speech_ms=400, silence_ms=LIVENESS * 2500)  # silence while the server is stalled
    assert not rec.of(RealtimeDisconnectedEvent) and session.connected
    assert emulator.connections == 1
