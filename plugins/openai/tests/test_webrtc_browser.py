"""What a real browser's WebRTC stack found in the emulator (issue 12): CORS, barge-in while a generated reply
still plays, the playout track's clear/timer race, calls with no ICE candidate, and aiortc loaded at start."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

pytest.importorskip("aiortc")

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection

from realtime_core import (
    ConnectionFailedError,
    PcmData,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeInterruptedEvent,
    RealtimeUsageEvent,
    ReconnectPolicy,
)
from realtime_openai.emulator.playout import FRAME_BYTES, PlayoutTrack
from realtime_openai.emulator.webrtc import NO_CANDIDATES

from .helpers import EmulatorFactory, RecorderFactory, SessionFactory, scenario, send, speech, turn


async def test_a_page_can_call_it_cross_origin(emulator: EmulatorFactory) -> None:
    emu = await emulator()
    origin = {"Origin": "http://localhost:5173"}
    async with aiohttp.ClientSession() as http:
        preflight = {**origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization, content-type"}  # fmt: skip
        async with http.options(f"{emu.base_url}/v1/realtime/calls", headers=preflight) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
            assert "authorization" in resp.headers["Access-Control-Allow-Headers"].lower()
        headers = {**origin, "Authorization": f"Bearer {emu.api_key}"}
        async with http.post(f"{emu.base_url}/v1/realtime/client_secrets", json={}, headers=headers) as resp:
            assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
        async with http.post(f"{emu.base_url}/v1/realtime/calls", data="v=0", headers={**origin, "Content-Type": "application/sdp"}) as resp:
            assert resp.status == 401 and resp.headers["Access-Control-Allow-Origin"] == "*"  # errors too
            assert "Location" in resp.headers.get("Access-Control-Expose-Headers", "")


async def test_speaking_over_a_reply_that_still_plays_stops_it_at_once(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    # generated at once, played at half speed: generation is long over while the user hears it
    emu = await emulator(scenario(turn("A long reply, generated at once.", audio_ms=6000), turn("Yes?")),
                         webrtc_playout_speed=0.5)  # fmt: skip
    s = session(emu, transport="webrtc")
    await s.connect()
    rec = await recorder(s)
    await s.simple_response("go")
    first = await rec.wait_for(RealtimeAudioOutputEvent)
    await rec.wait_for(RealtimeUsageEvent, lambda u: u.response_id == first.response_id)  # response.done is out
    await send(s, speech(600))
    await rec.wait_for(RealtimeInterruptedEvent)
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == first.response_id)
    assert done.interrupted
    cleared = emu.server_events_of(kind="output_audio_buffer.cleared")
    assert cleared and cleared[0]["response_id"] == first.response_id
    truncate = await emu.wait_fact("truncate")
    assert truncate.data["by"] == "server" and truncate.data["audio_end_ms"] < truncate.data["sent_ms"]
    assert emu.facts_named("barge_in")


async def test_a_clear_landing_with_the_frame_timer_keeps_the_track_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race a browser hit: ``clear()`` runs in the loop iteration where ``recv()``'s timer fired, before
    ``recv()`` resumes. Reproduced exactly: the wait's timeout ends, then the clear, then recv goes on."""
    track = PlayoutTrack(speed=1.0, on_started=lambda pb: None, on_drained=lambda pb: None)
    tone = PcmData.tone(400, 48000, frequency=440, amplitude=0.3)
    track.enqueue("resp_1", "item_1", tone)
    first = await track.recv()  # the first frame is due at once
    armed = True
    real_timeout = asyncio.timeout

    @contextlib.asynccontextmanager
    async def timeout_then_clear(delay: float | None) -> AsyncIterator[None]:
        nonlocal armed
        try:
            async with real_timeout(delay):
                yield
        except TimeoutError:
            if armed:  # the timer fired; the clear lands before recv() runs again
                armed = False
                track.clear()
            raise

    monkeypatch.setattr(asyncio, "timeout", timeout_then_clear)  # what the playout track waits with
    second = await track.recv()  # 0.1.x raised TypeError here (None + float), and aiortc stopped sending
    monkeypatch.undo()
    assert not armed, "the clear did not land with the timer"
    assert first.samples == second.samples == FRAME_BYTES // 2
    samples: Any = second.to_ndarray()
    assert not samples.any(), "a frame of the cleared reply went out"
    track.enqueue("resp_2", "item_2", tone)  # the track keeps playing what comes next
    third: Any = (await track.recv()).to_ndarray()
    assert third.any()
    track.stop()


async def test_a_machine_without_a_network_address_gets_a_clear_error(
    emulator: EmulatorFactory, session: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = await emulator()
    # an offer made while the machine has addresses, then the emulator's side finds none
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio")
    pc.createDataChannel("oai-events")
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    await pc.close()
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [])
    headers = {"Authorization": f"Bearer {emu.api_key}", "Content-Type": "application/sdp"}
    url = f"{emu.base_url}/v1/realtime/calls?model=gpt-realtime-2.1"
    async with aiohttp.ClientSession() as http, http.post(url, data=offer, headers=headers) as resp:
        assert resp.status == 503
        body = await resp.json()
    assert body["error"]["code"] == "no_ice_candidates" and body["error"]["message"] == NO_CANDIDATES
    # and the plugin, on such a machine, says so before it even calls
    s = session(emu, transport="webrtc", reconnect=ReconnectPolicy.disabled())
    with pytest.raises(ConnectionFailedError) as info:
        await s.connect()
    assert "loopback" in str(info.value) and info.value.recoverable is False
    assert not emu.calls


def test_aiortc_loads_when_the_emulator_starts_not_in_the_first_call() -> None:
    code = (
        "import asyncio, sys\n"
        "from realtime_openai.emulator import OpenAIEmulator\n"
        "async def main():\n"
        "    before = 'aiortc' in sys.modules\n"
        "    async with OpenAIEmulator():\n"
        "        print(before, 'aiortc' in sys.modules, 'realtime_openai.emulator.webrtc' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["False", "True", "True"]
