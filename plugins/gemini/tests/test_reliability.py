"""Reliability (issue 14): hostile audio labels, huge input chunks, close() during connect(), honest audio
accounting (what the server confirmed is not replayed; what it did not is)."""

from __future__ import annotations

import asyncio
import base64
import tracemalloc

import pytest

from realtime_core import (
    PcmData,
    ProtocolError,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
    SessionClosedError,
    SessionState,
)
from realtime_core.emulator import Fault, Scenario
from realtime_core.testing import FaultProxy
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator

from .conftest import RecorderFactory, send_audio, server_barrier, silence, utterance

FAST = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05)


async def test_an_absurd_rate_label_is_a_protocol_error_not_a_huge_allocation(recorder: RecorderFactory) -> None:
    """2 KB of audio labelled ``rate=1`` once made the client resample 750 s of audio to 24 kHz (~470 MB)."""
    async with GeminiEmulator() as emu, GeminiRealtime(**emu.session_options()) as session:
        rec = await recorder(session)
        data = base64.b64encode(PcmData.tone(47, 16000).to_bytes()).decode()  # 1.5 KB of samples
        hostile = {
            "serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=1", "data": data}}]}}
        }
        tracemalloc.start()
        try:
            await emu.connection(1).send(hostile)
            error = await rec.wait_for(RealtimeErrorEvent)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert isinstance(error.error, ProtocolError) and "rate=1" in str(error.error)
        assert peak < 20 * 1024 * 1024, f"handling the frame allocated {peak / 1e6:.0f} MB"
        assert not rec.of(RealtimeAudioOutputEvent)
        await session.simple_response("still there?")  # the session lives on
        await rec.wait_for(RealtimeAudioOutputDoneEvent)
        assert session.connected


async def test_fifteen_minutes_of_audio_in_one_chunk_arrive_whole() -> None:
    """One 15-minute chunk was sent as one 38 MB frame: the server closed with 1009 and the audio was lost.
    It now goes in pieces of at most one second."""
    async with GeminiEmulator() as emu:  # refuses frames over 32 MiB with 1009, like the real server
        async with GeminiRealtime(**emu.session_options(), audio_stream_end_after=None) as session:
            await session.simple_audio_response(PcmData.silence(15 * 60 * 1000, 16000))
            await emu.wait_audio(15 * 60 * 1000, timeout=60)
            assert session.connected
        assert emu.audio_received_ms == 15 * 60 * 1000
        assert not emu.closes
        sizes = [len(m.payload["realtimeInput"]["audio"]["data"]) for m in emu.messages("realtimeInput.audio")]
        assert len(sizes) == 900 and max(sizes) <= 43_000  # one second each (32 KB of PCM as base64)


async def test_close_while_the_socket_is_opening_releases_everything() -> None:
    async with GeminiEmulator() as emu, FaultProxy(emu.host, emu.port) as proxy:
        proxy.stall(upcoming=1)  # the upgrade request is held: the socket never opens
        session = GeminiRealtime(**{**emu.session_options(), "base_url": proxy.url_for(emu.ws_base_url)})
        connecting = asyncio.create_task(session.connect())
        await proxy.wait_connections(1)
        await session.close()
        with pytest.raises(SessionClosedError):
            await connecting
        assert session.state is SessionState.CLOSED
        assert not session._core.pending_tasks()
        assert emu.connections == 0  # nothing ever reached the server


async def test_close_while_setup_is_pending_releases_everything() -> None:
    # the server goes silent after the setup (setupComplete never comes): close() must not wait for it
    scenario = Scenario(faults=[Fault(kind="stall", after_messages=1)])
    async with GeminiEmulator(scenario=scenario) as emu:
        session = GeminiRealtime(**emu.session_options())
        connecting = asyncio.create_task(session.connect())
        await emu.wait_for("setup")
        await session.close()
        with pytest.raises(SessionClosedError):
            await connecting
        assert session.state is SessionState.CLOSED
        assert not session._core.pending_tasks()
        fact = await emu.wait_fact("client_closed")
        assert fact.connection == 1
        assert not emu.open_connections


async def test_what_the_server_confirmed_is_not_replayed_after_a_drop(recorder: RecorderFactory) -> None:
    """A resumption handle (and the server's voice activity) confirm the audio sent so far: after a dropped
    connection only what came later is replayed, and all of it is."""
    async with GeminiEmulator() as emu:
        session = GeminiRealtime(**emu.session_options(), reconnect=FAST, audio_stream_end_after=None)
        async with session:
            rec = await recorder(session)
            await send_audio(session, utterance(500, 700))
            await emu.wait_for(lambda m: m.kind == "fact:response_sent")
            await rec.wait_for(RealtimeAudioOutputDoneEvent)
            await emu.wait_for(lambda m: m.kind == "fact:response_sent")
            await server_barrier(emu, rec)  # the handle that followed the turn was read
            assert session.resumption_handle_available
            before = emu.audio_received_ms
            await send_audio(session, silence(600))  # after the handle: not confirmed
            await emu.wait_audio(before + 600)
            await emu.drop_all()
            reconnected = await rec.wait_for(RealtimeReconnectedEvent)
            assert reconnected.state_restored and reconnected.lost_audio_ms == 0
            assert reconnected.replayed_audio_ms == pytest.approx(600, abs=1)  # not the 1.2 s before the handle
        assert emu.audio_in[2].ms == pytest.approx(600, abs=1)
