"""Network faults from outside the emulator (core's FaultProxy): a dead path is detected, the session
resumes, and every millisecond of mic audio is accounted for by the emulator's own count."""

from __future__ import annotations

import asyncio

import pytest

from realtime_core import (
    PcmData,
    RealtimeAudioOutputDoneEvent,
    RealtimeDisconnectedEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
)
from realtime_core.testing import FaultProxy
from realtime_gemini import GeminiRealtime
from realtime_gemini.emulator import GeminiEmulator

from .conftest import RecorderFactory, send_audio, server_barrier, utterance

FAST = ReconnectPolicy(max_attempts=5, initial_delay=0.05, max_delay=0.2)
CHUNK = PcmData.silence(20, 16000)


class Mic:
    """Counts what the app sends; sends 20 ms chunks at the microphone's pace."""

    def __init__(self, session: GeminiRealtime) -> None:
        self.session = session
        self.sent_ms = 0.0

    async def send(self, pcm: PcmData) -> None:
        await send_audio(self.session, pcm)
        self.sent_ms += pcm.duration_ms

    async def stream_until(self, done: asyncio.Future[object]) -> None:
        while not done.done():
            await self.session.simple_audio_response(CHUNK)
            self.sent_ms += 20
            await asyncio.sleep(0.02)  # the microphone's pace, not a synchronisation


@pytest.mark.parametrize("fault", ["black_hole", "reset", "cut"])
async def test_dead_path_detected_resumed_and_audio_accounted_for(fault: str, recorder: RecorderFactory) -> None:
    async with GeminiEmulator() as emu, FaultProxy(emu.host, emu.port) as proxy:
        options = {**emu.session_options(), "base_url": proxy.url_for(emu.ws_base_url)}
        session = GeminiRealtime(**options, reconnect=FAST, liveness_timeout=1.0, audio_stream_end_after=None)
        async with session:
            rec = await recorder(session)
            mic = Mic(session)
            await mic.send(utterance(500, 700))
            await rec.wait_for(RealtimeAudioOutputDoneEvent)
            await emu.wait_for(lambda m: m.kind == "fact:response_sent")
            await server_barrier(emu, rec)  # the handle after the turn confirmed everything so far
            confirmed_ms = mic.sent_ms
            await mic.send(PcmData.silence(200, 16000))  # unconfirmed, and received by the first connection
            await emu.wait_audio(mic.sent_ms)

            mark = rec.mark()
            getattr(proxy, fault)()
            dropped = asyncio.ensure_future(rec.wait_for(RealtimeDisconnectedEvent, after=mark, timeout=15))
            await mic.stream_until(dropped)  # the mic goes on; the path is dead (black hole: silently)
            assert not dropped.result().was_clean and dropped.result().will_reconnect
            back = asyncio.ensure_future(rec.wait_for(RealtimeReconnectedEvent, after=mark, timeout=15))
            await mic.stream_until(back)  # buffered meanwhile
            reconnected = back.result()
            assert reconnected.state_restored and reconnected.lost_audio_ms == 0
            await mic.send(PcmData.silence(200, 16000))
            await emu.wait_audio(mic.sent_ms, timeout=15)  # everything sent arrived (duplicates aside)

        received = emu.audio_received_ms
        duplicated = received - mic.sent_ms
        # every ms sent reached the emulator (none reported lost); what it got twice is at most the tail the
        # first connection had received since the server last confirmed (the 200 ms after the handle)
        assert duplicated >= -20, f"{-duplicated:.0f} ms of audio vanished"
        assert duplicated <= 200 + 20, f"{duplicated:.0f} ms of audio were sent twice"
        assert emu.audio_in[2].ms >= mic.sent_ms - confirmed_ms - 200 - 20  # the new connection heard the rest
