"""Reliability (issue 14) and setup errors (issue 13): a Qwen session never hangs, never lies about its audio,
never reports an error it caused itself. Every test waits on events and the emulator's own observations."""

from __future__ import annotations

import asyncio
import base64

import pytest

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    PcmData,
    ProviderError,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    SessionClosedError,
    SessionState,
)
from realtime_core.emulator import Fault
from realtime_core.testing import FaultProxy, pending_tasks
from realtime_qwen import QwenRealtime

from .helpers import (
    FAST_RECONNECT,
    PLUS,
    TURBO,
    EmulatorFactory,
    RecorderFactory,
    SessionFactory,
    barrier,
    client_events,
    long_turn,
    scenario,
    turn,
)


async def test_a_response_that_never_ends_does_not_block_the_next_one(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("The real answer.")))
    s = session(emu, model=PLUS, response_timeout=0.3)
    await s.connect()
    rec = await recorder(s)
    # a stray response.created: the server never sends its response.done
    stray = {"id": "resp_stray", "object": "realtime.response", "status": "in_progress", "output": []}
    await emu.inject({"type": "response.created", "response": stray})
    await barrier(emu, rec)  # the stray response.created was handled
    await s.simple_response("hello")  # deferred: the server is "busy" with resp_stray
    error = await rec.wait_for(RealtimeErrorEvent, lambda e: getattr(e.error, "code", None) == "response_timeout")
    assert isinstance(error.error, ProviderError) and error.error.recoverable and "resp_stray" in str(error.error)
    final = await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert final.text == "The real answer."
    assert len(client_events(emu, "response.create")) == 1  # the deferred request went out, once


@pytest.mark.parametrize("model", [PLUS, TURBO])  # without and with a response.done after the cancel
async def test_many_interrupts_send_one_cancel_and_surface_no_error(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory, model: str
) -> None:
    emu = await emulator(scenario(long_turn(), turn("Next.")))
    s = session(emu, model=model, turn_detection=None, cancel_grace_s=0.3)
    await s.connect()
    rec = await recorder(s)
    await s.begin_user_turn()
    await s.simple_audio_response(PcmData.tone(300, 16000, amplitude=0.3))
    await s.end_user_turn()
    first = await rec.wait_for(RealtimeAudioOutputEvent)
    for _ in range(1000):
        await s.interrupt()
    await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == first.response_id)
    await emu.wait_fact("response_sent", lambda d: d["response_id"] == first.response_id)
    await s.begin_user_turn()  # a full round trip after the cancels: their answers are all in
    await s.simple_audio_response(PcmData.tone(300, 16000, amplitude=0.3))
    await s.end_user_turn()
    await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final" and e.text == "Next.")
    assert len(client_events(emu, "response.cancel")) == 1
    assert not rec.of(RealtimeErrorEvent)


async def test_audio_for_an_unknown_response_opens_nothing(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("Fine.")))
    s = session(emu, model=PLUS)
    await s.connect()
    rec = await recorder(s)
    chunk = base64.b64encode(PcmData.tone(100, 24000).to_bytes()).decode()
    await emu.inject({"type": "response.audio.delta", "response_id": "resp_ghost", "item_id": "item_ghost",
                      "output_index": 0, "content_index": 0, "delta": chunk})  # fmt: skip
    error = await rec.wait_for(RealtimeErrorEvent)
    assert getattr(error.error, "code", None) == "unknown_response"
    await s.simple_response("hi")  # the session goes on: a real reply, and nothing of the ghost
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert not [e for e in rec.of(RealtimeAudioOutputEvent) if e.response_id == "resp_ghost"]
    assert not s.responding and len(rec.of(RealtimeErrorEvent)) == 1


async def test_close_before_the_socket_opened_ends_connect_cleanly() -> None:
    accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accept the TCP connection, never answer the WebSocket handshake
        accepted.put_nowait(reader)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    s = QwenRealtime(base_url=f"ws://127.0.0.1:{port}", api_key="sk-test", connect_timeout=30)
    try:
        connecting = asyncio.ensure_future(s.connect())
        reader = await accepted.get()
        await s.close()
        with pytest.raises(SessionClosedError):
            await connecting
        assert s.state is SessionState.CLOSED and not pending_tasks(s)
        async with asyncio.timeout(10):
            await reader.read()  # returns at EOF: the session released its half-open socket
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_close_during_setup_ends_connect_cleanly(emulator: EmulatorFactory) -> None:
    # the server goes silent when session.update arrives: session.updated never comes
    emu = await emulator(scenario(faults=[Fault(kind="stall", after_messages=1)]))
    s = QwenRealtime(**emu.session_options(), connect_timeout=30)
    connecting = asyncio.ensure_future(s.connect())
    await emu.wait_for("emulator.fault")
    await s.close()
    with pytest.raises(SessionClosedError):
        await connecting
    assert s.state is SessionState.CLOSED and not pending_tasks(s)
    await emu.wait_fact("client_closed")  # the socket was closed, not left half-open
    assert not emu.facts_named("session_finished")  # nothing was set up: nothing to finish


async def test_a_transient_server_error_during_setup_is_recoverable(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(faults=[Fault(kind="error", after_messages=1, code="server_error")]))
    s = QwenRealtime(**emu.session_options())
    events = s.events()
    with pytest.raises(ProviderError) as info:
        await s.connect()
    assert not isinstance(info.value, ConfigurationError) and info.value.recoverable is True
    await s.close()
    assert [e async for e in events] == []  # no event before the failure (contract 2.2)


async def test_a_refused_configuration_during_setup_is_a_configuration_error(emulator: EmulatorFactory) -> None:
    emu = await emulator(scenario(faults=[Fault(kind="error", after_messages=1, code="invalid_value")]))
    s = QwenRealtime(**emu.session_options())
    with pytest.raises(ConfigurationError) as info:
        await s.connect()
    assert info.value.recoverable is False
    await s.close()


async def test_a_wrong_key_is_an_authentication_error(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    s = QwenRealtime(**{**emu.session_options(), "api_key": "sk-not-the-key-0000"})
    with pytest.raises(AuthenticationError) as info:
        await s.connect()
    assert info.value.recoverable is False and info.value.provider == "qwen"
    await s.close()


async def test_a_dead_path_is_noticed_and_no_audio_goes_unaccounted(
    emulator: EmulatorFactory, recorder: RecorderFactory
) -> None:
    """Through a TCP proxy that black-holes the path: the session notices within liveness_timeout,
    reconnects, and every ms sent is received by the emulator, replayed, or reported lost."""
    emu = await emulator(scenario(when_exhausted="silent"))
    async with FaultProxy(emu.host, emu.port) as proxy:
        emu.advertise("127.0.0.1", proxy.port)
        s = QwenRealtime(**emu.session_options(), liveness_timeout=1.0, min_append_ms=0, reconnect=FAST_RECONNECT)
        try:
            await s.connect()
            rec = await recorder(s)
            quiet = PcmData.silence(20, 16000)
            sent_ms = 0.0
            for _ in range(25):
                await s.simple_audio_response(quiet)
                sent_ms += 20
            await emu.wait_audio(sent_ms)  # all of it arrived before the fault
            proxy.black_hole()
            mark = rec.mark()
            for _ in range(25):  # sent into the dead path
                await s.simple_audio_response(quiet)
                sent_ms += 20
            dropped = await rec.wait_for(RealtimeDisconnectedEvent, after=mark)
            assert dropped.was_clean is False
            proxy.restore()
            back = await rec.wait_for(RealtimeReconnectedEvent, after=dropped)
            assert back.state_restored is False  # DashScope cannot resume
            for _ in range(10):
                await s.simple_audio_response(quiet)
                sent_ms += 20
            accounted = sent_ms - back.lost_audio_ms
            await emu.wait_audio(accounted - 20)  # within one frame
            received = emu.audio_received_ms
            assert received >= accounted - 20.5
            assert received <= sent_ms + back.replayed_audio_ms + 20.5  # duplicates: at most the replayed tail
        finally:
            await s.close()
            emu.advertise(None)
    assert not pending_tasks(s)


async def test_a_cut_connection_mid_reply_reconnects_and_accounts_the_audio(
    emulator: EmulatorFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(long_turn(), turn("Again.")))
    async with FaultProxy(emu.host, emu.port) as proxy:
        emu.advertise("127.0.0.1", proxy.port)
        s = QwenRealtime(**emu.session_options(), min_append_ms=0, reconnect=FAST_RECONNECT)
        try:
            await s.connect()
            rec = await recorder(s)
            talk = PcmData.concat([PcmData.tone(600, 16000, amplitude=0.3), PcmData.silence(1000, 16000)])
            for chunk in talk.chunks(20):
                await s.simple_audio_response(chunk)
            first = await rec.wait_for(RealtimeAudioOutputEvent)
            proxy.reset()  # a TCP reset mid-reply
            dropped = await rec.wait_for(RealtimeDisconnectedEvent, after=first)
            back = await rec.wait_for(RealtimeReconnectedEvent, after=dropped)
            cut = [e for e in rec.of(RealtimeAudioOutputDoneEvent) if e.response_id == first.response_id]
            assert len(cut) == 1 and cut[0].interrupted, "the reply the reset cut ended, marked interrupted"
            assert emu.audio_received_ms + back.lost_audio_ms >= talk.duration_ms - 20.5
        finally:
            await s.close()
            emu.advertise(None)
    assert not pending_tasks(s)
