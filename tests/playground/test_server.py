"""The playground server without a browser: its JSON API, its guards, failures, and the reply track.

Real sockets throughout: an aiohttp client against the server on 127.0.0.1, an aiortc peer standing in
for the browser where a call needs one.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from realtime_core import PcmData, RealtimeAudioOutputDoneEvent, RealtimeConnectedEvent, SessionState
from realtime_core.playground.reply_track import FRAME_SAMPLES, RATE, ReplyAudioTrack
from realtime_core.playground.wire import event_to_wire

from .conftest import ServerFactory

JSON = {"Content-Type": "application/json"}


async def request(server: Any, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, server.url.rstrip("/") + path, **kwargs) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


async def browser_offer() -> tuple[RTCPeerConnection, RTCDataChannel, str]:
    """What the page sends: an offer with a sendrecv audio transceiver and the 'realtime' data channel."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendrecv")
    channel = pc.createDataChannel("realtime")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, channel, pc.localDescription.sdp


async def test_config_lists_every_installed_provider(playground: ServerFactory) -> None:
    server = await playground(emulator=True)
    status, config = await request(server, "GET", "/api/config")
    assert status == 200
    assert config["emulator"] is True and config["scenario"] == "echo" and config["provider"] == "openai"
    providers = {p["name"]: p for p in config["providers"]}
    assert {"openai", "gemini", "nova", "qwen"} <= providers.keys()
    for p in providers.values():
        assert p["available"] and p["has_emulator"]
        assert set(p["capabilities"]) >= {"text_input", "video_input", "tools", "input_sample_rate"}
    assert providers["nova"]["capabilities"]["video_input"] is False
    assert config["plugin_errors"] == []


async def test_without_emulator_providers_say_which_key_is_missing(
    playground: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "a-secret-value")
    server = await playground(provider="gemini")
    status, config = await request(server, "GET", "/api/config")
    assert status == 200
    providers = {p["name"]: p for p in config["providers"]}
    assert providers["openai"]["note"] == "no key in OPENAI_API_KEY" and not providers["openai"]["key_set"]
    assert providers["gemini"]["key_set"] and providers["gemini"]["note"] == ""
    assert config["provider"] == "gemini" and config["emulator"] is False
    assert "a-secret-value" not in str(config)


async def test_page_and_static_files_come_from_the_package(playground: ServerFactory) -> None:
    server = await playground(emulator=True)
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url) as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            html = await resp.text()
            assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert '<script type="module" src="/static/playground.js">' in html
        assert "http://" not in html and "https://" not in html  # nothing from elsewhere: works offline
        for name, kind in (("playground.js", "text/javascript"), ("playground.css", "text/css")):
            async with http.get(f"{server.url}static/{name}") as resp:
                assert resp.status == 200 and resp.content_type == kind
                assert "https://" not in await resp.text()
        async with http.get(f"{server.url}static/..%2Fserver.py") as resp:
            assert resp.status == 404


async def test_requests_for_another_host_are_refused(playground: ServerFactory) -> None:
    """DNS rebinding: a page served from evil.example resolving to 127.0.0.1 must not drive the playground."""
    server = await playground(emulator=True)
    status, body = await request(server, "GET", "/api/config", headers={"Host": f"evil.example:{server.port}"})
    assert status == 403 and "evil.example" in body["error"]["message"]
    status, _ = await request(server, "GET", "/api/config", headers={"Host": f"localhost:{server.port}"})
    assert status == 200


async def test_posts_must_be_json(playground: ServerFactory) -> None:
    """A form on another site (text/plain, no preflight) cannot start a call."""
    server = await playground(emulator=True)
    status, body = await request(server, "POST", "/api/calls", data="{}", headers={"Content-Type": "text/plain"})
    assert status == 415 and body["error"]["type"] == "ConfigurationError"
    status, body = await request(server, "POST", "/api/calls", data="not json", headers=JSON)
    assert status == 400 and "not JSON" in body["error"]["message"]
    assert server.bridges == {} and list(server.closed) == []


async def test_unknown_provider_is_a_clear_error(playground: ServerFactory) -> None:
    server = await playground(emulator=True)
    status, body = await request(server, "POST", "/api/calls", json={"provider": "opena", "sdp": "v=0", "type": "offer"})
    assert status == 400 and body["error"]["type"] == "ProviderNotFoundError"
    assert "opena" in body["error"]["message"]


async def test_bad_option_fails_the_call_and_leaves_nothing_running(playground: ServerFactory) -> None:
    server = await playground(emulator=True, provider="openai", options={"voise": "marin"})
    status, body = await request(server, "POST", "/api/calls", json={"provider": "openai", "sdp": "v=0", "type": "offer"})
    assert status == 400 and body["error"]["type"] == "ConfigurationError"
    assert "voise" in body["error"]["message"]
    assert server.bridges == {}
    (failed,) = server.closed
    assert failed.closed_reason and failed.closed_reason.startswith("could not start")
    assert failed.emulator is not None and failed.emulator.connections == 0


async def test_options_go_to_the_named_provider_only(playground: ServerFactory) -> None:
    server = await playground(emulator=True, provider="openai", options={"voise": "marin"})
    assert server.options_for("openai") == {"voise": "marin"}
    assert server.options_for("gemini") == {}


async def test_an_invalid_offer_closes_the_session_again(playground: ServerFactory) -> None:
    server = await playground(emulator=True)
    status, body = await request(server, "POST", "/api/calls", json={"provider": "qwen", "sdp": "v=0\r\nbogus", "type": "offer"})
    assert status >= 400 and body["error"]["message"]
    (failed,) = server.closed
    assert failed.session is not None and failed.session.state is SessionState.CLOSED
    assert server.bridges == {}


async def test_a_call_that_never_connects_is_closed(playground: ServerFactory) -> None:
    """The browser got its answer but WebRTC never completes: the session must not run forever."""
    server = await playground(emulator=True, webrtc_timeout=1.0)
    pc, _, sdp = await browser_offer()
    try:
        status, answer = await request(server, "POST", "/api/calls", json={"provider": "gemini", "sdp": sdp, "type": "offer"})
        assert status == 200 and answer["capabilities"]["video_input"] is True
        assert "a=candidate:" in answer["sdp"]  # a non-loopback interface exists here
        status, listing = await request(server, "GET", "/api/calls")
        assert [c["id"] for c in listing["calls"]] == [answer["id"]] and listing["calls"][0]["connected"]
        # the answer is never applied: no ICE checks reach the server
        await server.wait_until(lambda: not server.bridges, timeout=30)
        (closed,) = server.closed
        assert closed.closed_reason and "did not complete the WebRTC connection" in closed.closed_reason
        assert closed.session is not None and closed.session.state is SessionState.CLOSED
    finally:
        await pc.close()


async def test_a_python_peer_can_call_too(playground: ServerFactory) -> None:
    """The protocol is plain WebRTC + JSON: an aiortc peer gets the events, sends a command, hangs up."""
    server = await playground(emulator=True)
    pc, channel, sdp = await browser_offer()
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    everything: list[str] = []

    def on_message(raw: str) -> None:
        everything.append(raw)
        messages.put_nowait(json.loads(raw))

    channel.on("message", on_message)

    async def next_message(predicate: Any) -> dict[str, Any]:
        async with asyncio.timeout(60):
            while not predicate(message := await messages.get()):
                pass
            return message

    try:
        status, answer = await request(server, "POST", "/api/calls", json={"provider": "openai", "sdp": sdp, "type": "offer"})
        assert status == 200
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        first = await next_message(lambda m: True)
        assert first["kind"] == "event" and first["event"]["type"] == "realtime.connected"
        channel.send(json.dumps({"type": "text", "text": "hello", "id": 7}))
        ack = await next_message(lambda m: m["kind"] in ("ack", "error"))
        assert ack == {"kind": "ack", "command": "text", "id": 7}
        done = await next_message(lambda m: m["kind"] == "event" and m["event"]["type"] == "realtime.audio_output_done")
        assert done["event"]["interrupted"] is False
        channel.send("[1, 2]")
        bad = await next_message(lambda m: m["kind"] == "error")
        assert bad["context"] == "command" and "JSON object" in bad["error"]["message"]
        channel.send(json.dumps({"type": "launch"}))
        unknown = await next_message(lambda m: m["kind"] == "error")
        assert unknown["context"] == "launch" and "unknown command" in unknown["error"]["message"]
        bridge = server.bridges[answer["id"]]
    finally:
        await pc.close()
    await server.wait_until(lambda: not server.bridges, timeout=60)
    assert bridge.session is not None and bridge.session.state is SessionState.CLOSED
    assert bridge.emulator is not None and bridge.emulator.connections == 1
    key = str(bridge.emulator.session_options()["api_key"])
    assert len(key) > 4 and not any(key in raw for raw in everything)  # the key never reaches the page


async def test_stop_hangs_up_every_call(playground: ServerFactory) -> None:
    server = await playground(emulator=True, options={"connect_timeout": 60.0})  # Nova's first connect is slow
    pc, _, sdp = await browser_offer()
    try:
        status, answer = await request(server, "POST", "/api/calls", json={"provider": "nova", "sdp": sdp, "type": "offer"})
        assert status == 200
        bridge = server.bridges[answer["id"]]
        await server.stop()
        assert bridge.closed and bridge.closed_reason == "the playground server stopped"
        assert bridge.session is not None and bridge.session.state is SessionState.CLOSED
        await bridge.close("again")  # idempotent
        assert bridge.closed_reason == "the playground server stopped"
    finally:
        await pc.close()


# ---------------------------------------------------------------------- the reply track


async def test_reply_track_paces_queued_audio_and_counts_what_played() -> None:
    played: list[tuple[str, float]] = []
    track = ReplyAudioTrack(on_played=lambda rid, ms: played.append((rid, ms)))
    track.push("r1", PcmData.tone(50, 24000, frequency=440, amplitude=0.3))
    track.end("r1")  # what the resampler still holds comes out too
    first = await track.recv()
    assert first.sample_rate == RATE and first.samples == FRAME_SAMPLES and first.layout.name == "mono"
    samples = first.to_ndarray().reshape(-1)
    assert np.abs(samples).max() > 5000  # the tone, resampled to 48 kHz
    await track.recv()
    third = await track.recv()  # 50 ms of audio: the third frame is mostly silence
    assert third.pts == 2 * FRAME_SAMPLES
    assert 40 <= track.played_ms("r1") <= 50 and track.queued_ms == 0
    assert played[-1][0] == "r1" and played[-1][1] == track.played_ms("r1")
    silent = (await track.recv()).to_ndarray()
    assert not silent.any()
    track.stop()


async def test_reply_track_flush_drops_everything_queued() -> None:
    track = ReplyAudioTrack()
    track.push("r1", PcmData.tone(1000, 24000, amplitude=0.3))
    assert track.playing() == "r1" and track.queued_ms > 900
    await track.recv()
    dropped = track.flush()
    assert 900 < dropped <= 1000 and track.queued_ms == 0 and track.playing() is None
    assert not (await track.recv()).to_ndarray().any()
    assert track.played_ms("r1") == pytest.approx(20, abs=1)
    track.stop()


def test_events_go_to_the_page_without_raw_provider_objects() -> None:
    class Opaque:
        pass

    wire = event_to_wire(RealtimeAudioOutputDoneEvent(session_id="s", provider="p", response_id="r", user_metadata=Opaque()))
    assert wire["response_id"] == "r" and wire["type"] == "realtime.audio_output_done" and "user_metadata" not in wire
    connected = event_to_wire(RealtimeConnectedEvent(session_config={"odd": Opaque()}))
    assert "session_config" not in connected and connected["capabilities"]["input_sample_rate"] > 0


NO_NETWORK_SCRIPT = """
import asyncio, json, aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection
from realtime_core.playground.server import PlaygroundServer

async def main():
    async with PlaygroundServer(emulator=True, port=0) as server:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("audio", direction="sendrecv")
        pc.createDataChannel("realtime")
        await pc.setLocalDescription(await pc.createOffer())
        body = {"provider": "openai", "sdp": pc.localDescription.sdp, "type": "offer"}
        async with aiohttp.ClientSession() as http, http.post(server.url + "api/calls", json=body) as resp:
            print(json.dumps({"status": resp.status, "body": await resp.json(), "open": len(server.bridges)}))
        await pc.close()

asyncio.run(main())
"""


async def test_without_a_network_interface_the_call_fails_clearly() -> None:
    """Only loopback (a fresh network namespace): aiortc has no address to offer, and the server says so."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare (util-linux) to run without network interfaces")
    proc = await asyncio.create_subprocess_exec(
        unshare, "--net", "sh", "-c", 'ip link set lo up 2>/dev/null || true; exec "$0" -c "$1"', sys.executable,
        NO_NETWORK_SCRIPT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    if proc.returncode != 0 and b"Operation not permitted" in err:
        pytest.skip("unshare --net is not permitted here (needs root or user namespaces)")
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["status"] == 502 and result["open"] == 0
    assert result["body"]["error"]["type"] == "ConnectionFailedError"
    assert "non-loopback interface" in result["body"]["error"]["message"]
    assert "non-loopback interface" in err.decode()  # logged for the person running the server
