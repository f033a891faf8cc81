"""WebRTC: aiortc on both sides on loopback (iceServers=[]), the emulator answering POST /v1/realtime/calls.

A full spoken turn (audio in on the track, reply audio out on the track at 48 kHz, transcripts), server
barge-in and local interrupts (the server clears its buffer and truncates), the two signalling forms,
hangup, and failures (bad key, rejected session, ICE never completing, the network dying silently,
malformed data channel messages).
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from openai import AsyncOpenAI

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    PcmData,
    ProtocolError,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeEvent,
    RealtimeInterruptedEvent,
    RealtimeReconnectedEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechStoppedEvent,
    RealtimeUserSpeechTranscriptionEvent,
    ReconnectPolicy,
)
from realtime_openai import OpenAIRealtime, WebRtcOptions, create_client_secret

from .helpers import (
    USER_TEXT,
    EmulatorFactory,
    RecorderFactory,
    SessionFactory,
    client_events,
    long_turn,
    scenario,
    send,
    speak,
    speech,
    turn,
)
from .test_sdk_fidelity import CLIENT, extras, validate_server_events

RATE = 48000
FAST = 4.0  # the emulator plays reply audio 4x faster than real time unless a test needs real time


def _done(rid: str | None = None, *, interrupted: bool | None = False) -> Any:
    def match(e: RealtimeEvent) -> bool:
        return (
            isinstance(e, RealtimeAudioOutputDoneEvent)
            and (rid is None or e.response_id == rid)
            and (interrupted is None or e.interrupted is interrupted)
        )

    return match


def _dominant_hz(pcm: PcmData) -> float:
    samples = pcm.samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / pcm.sample_rate)[int(np.argmax(spectrum))])


async def test_a_spoken_turn_over_webrtc(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(turn("Sure, here you go.", audio_ms=800)), webrtc_playout_speed=FAST)
    s = session(emu, transport="webrtc")
    await s.connect()
    caps = s.capabilities
    assert caps.transport == "webrtc" and "webrtc" in caps.transports
    assert caps.input_sample_rate == caps.output_sample_rate == RATE  # Opus is 48 kHz: nothing resampled down
    rec = await recorder(s)
    await speak(s, speech_ms=800, silence_ms=1000, rate=RATE)
    seen = await rec.collect_until(RealtimeAudioOutputDoneEvent, _done())
    done = seen[-1]
    assert isinstance(done, RealtimeAudioOutputDoneEvent)
    rid = done.response_id
    assert rid == emu.server_events_of(kind="response.created")[0]["response"]["id"]  # ids from the data channel

    def kinds(cls: type[RealtimeEvent]) -> list[int]:
        return [i for i, e in enumerate(seen) if isinstance(e, cls)]

    assert kinds(RealtimeUserSpeechStartedEvent)[0] < kinds(RealtimeUserSpeechStoppedEvent)[0]
    finals = [e for e in seen if isinstance(e, RealtimeUserSpeechTranscriptionEvent) and e.mode == "final"]
    assert [e.text for e in finals] == [USER_TEXT]
    agent = [e for e in seen if isinstance(e, RealtimeAgentSpeechTranscriptionEvent)]
    assert "".join(e.text for e in agent if e.mode == "delta") == "Sure, here you go."
    assert [e.text for e in agent if e.mode == "final"] == ["Sure, here you go."]

    chunks = [e for e in seen if isinstance(e, RealtimeAudioOutputEvent)]
    assert {e.response_id for e in chunks} == {rid}
    assert all(e.audio_data.sample_rate == RATE and e.audio_data.channels == 1 for e in chunks)
    audio = PcmData.concat([e.audio_data for e in chunks])
    assert 780 <= audio.duration_ms <= 900, audio.duration_ms  # the 800 ms reply, plus the codec's tail
    assert abs(_dominant_hz(audio) - 330) < 5  # the emulator's reply tone survived Opus at full rate
    assert kinds(RealtimeAgentSpeechStartedEvent)[0] < kinds(RealtimeAudioOutputEvent)[0]
    assert kinds(RealtimeAudioOutputEvent)[-1] < kinds(RealtimeAgentSpeechStoppedEvent)[0] < len(seen) - 1

    # the user's audio went on the track, the reply's audio on the outbound track, never as events
    assert not client_events(emu, "input_audio_buffer.append")
    assert emu.audio_received_ms >= 1700
    assert not emu.server_events_of(kind="response.output_audio.delta")
    buffer = [e["type"] for e in emu.server_events_of() if e["type"].startswith("output_audio_buffer.")]
    assert buffer == ["output_audio_buffer.started", "output_audio_buffer.stopped"]
    kinds_sent = [e["type"] for e in emu.server_events_of()]
    assert kinds_sent.index("response.content_part.added") < kinds_sent.index("output_audio_buffer.started")
    assert kinds_sent.index("response.done") < kinds_sent.index("output_audio_buffer.stopped")


async def test_speaking_over_a_reply_is_a_server_barge_in(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    emu = await emulator(scenario(long_turn(30.0), turn("Yes?", audio_ms=300)))  # real-time playout
    s = session(emu, transport="webrtc")
    await s.connect()
    rec = await recorder(s)
    await speak(s, rate=RATE)  # a spoken turn...
    first = await rec.wait_for(RealtimeAudioOutputEvent)
    rid = first.response_id
    sixth = await rec.wait_for(RealtimeAudioOutputEvent, count=5, after=first)
    await send(s, speech(600, RATE))  # ...then talking over the reply...
    await send(s, PcmData.silence(800, RATE))  # ...and a second turn gets its own reply
    seen = await rec.collect_until(
        RealtimeAudioOutputDoneEvent, lambda e: _done()(e) and e.response_id != rid, after=sixth
    )
    marker = next(i for i, e in enumerate(seen) if isinstance(e, RealtimeInterruptedEvent))
    interrupted = seen[marker]
    assert isinstance(interrupted, RealtimeInterruptedEvent)
    assert interrupted.source == "server" and interrupted.response_id == rid
    cut = [e for e in seen if _done(rid, interrupted=True)(e)]
    assert len(cut) == 1
    assert not [e for e in seen[marker:] if isinstance(e, RealtimeAudioOutputEvent) and e.response_id == rid]
    stopped = [e for e in seen if isinstance(e, RealtimeAgentSpeechStoppedEvent) and e.response_id == rid]
    assert len(stopped) == 1 and stopped[0].interrupted
    nxt = seen[-1]
    assert isinstance(nxt, RealtimeAudioOutputDoneEvent)
    assert {e.response_id for e in seen[marker:] if isinstance(e, RealtimeAudioOutputEvent)} == {nxt.response_id}
    said = [e.text for e in seen if isinstance(e, RealtimeAgentSpeechTranscriptionEvent) and e.mode == "final"]
    assert said[-1] == "Yes?"
    assert [e.text for e in seen if isinstance(e, RealtimeUserSpeechTranscriptionEvent) and e.mode == "final"]

    # the server cut its own playback and truncated the item at what it had played
    assert [e["response_id"] for e in emu.server_events_of(kind="output_audio_buffer.cleared")] == [rid]
    truncate = await emu.wait_fact("truncate")
    assert truncate.data["by"] == "server"
    assert 0 < truncate.data["audio_end_ms"] <= truncate.data["sent_ms"]
    assert emu.server_events_of(kind="conversation.item.truncated")
    assert emu.facts_named("barge_in")
    assert not client_events(emu, "conversation.item.truncate")  # nothing for the client to say


async def test_a_local_interrupt_cancels_and_clears(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(long_turn(30.0)))  # generated in real time: still generating when cut
    s = session(emu, transport="webrtc")
    await s.connect()
    events = s.events()
    await s.simple_response("tell me everything")
    first = await events.wait_for(RealtimeAudioOutputEvent)
    await s.interrupt()
    done = await events.wait_for(RealtimeAudioOutputDoneEvent)
    assert done.response_id == first.response_id and done.interrupted
    truncate = await emu.wait_fact("truncate")
    await emu.wait_for("output_audio_buffer.clear")
    cancel = emu.facts_named("cancel")[0]
    assert cancel.data["response_id"] == first.response_id and cancel.at <= truncate.at
    order = ("response.cancel", "conversation.item.truncate", "output_audio_buffer.clear")
    sent = [m.kind for m in emu.received if m.kind in order]
    assert sent == list(order)  # what the app heard first; the clear then never truncates further
    ends = [f.data["audio_end_ms"] for f in emu.facts_named("truncate")]
    assert all(0 <= end <= ends[0] <= truncate.data["sent_ms"] for end in ends)
    assert [e["response_id"] for e in emu.server_events_of(kind="output_audio_buffer.cleared")] == [first.response_id]


async def test_interrupting_a_reply_that_is_still_playing(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory
) -> None:
    # generated at once (response.done is out), played at half speed: only the playback is left to cut
    emu = await emulator(
        scenario(turn("A reply generated at once and played slowly.", audio_ms=4000)), webrtc_playout_speed=0.5
    )
    s = session(emu, transport="webrtc")
    await s.connect()
    rec = await recorder(s)
    await s.simple_response("go")
    first = await rec.wait_for(RealtimeAudioOutputEvent)
    # response.done (it carries the usage) is out while the audio still plays: the done event waits for it
    await rec.wait_for(RealtimeUsageEvent, lambda u: u.response_id == first.response_id)
    assert s.current_response_id == first.response_id
    await s.interrupt()
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert done.response_id == first.response_id and done.interrupted
    truncate = await emu.wait_fact("truncate")
    assert truncate.data["audio_end_ms"] < truncate.data["sent_ms"]  # cut before the end
    await emu.wait_for("output_audio_buffer.clear")
    assert not client_events(emu, "response.cancel")  # generation was over: truncate and clear the buffer


async def test_standard_key_offer_is_multipart_with_the_session(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator(webrtc_playout_speed=FAST)
    s = session(emu, transport="webrtc", voice="cedar", instructions="Be brief.")
    await s.connect()
    assert len(emu.calls) == 1
    call = emu.calls[0]
    assert call.offer_content_type == "multipart/form-data" and not call.ephemeral
    created = emu.server_events_of(kind="session.created")[0]["session"]  # before any session.update
    assert created["audio"]["output"]["voice"] == "cedar" and created["instructions"] == "Be brief."
    update = client_events(emu, "session.update")[0]["session"]  # the media is Opus: no PCM formats
    assert "format" not in update["audio"]["input"] and "format" not in update["audio"]["output"]
    transport: Any = s._transport  # pyright: ignore[reportPrivateUsage]
    assert transport.call_id == call.call_id and call.call_id.startswith("rtc_")  # from Location
    pc = transport._pc
    await s.close()
    finished = await emu.wait_fact("session_finished")
    assert finished.data == {"how": "hangup", "call_id": call.call_id}
    assert pc.connectionState == "closed" and transport.microphone.readyState == "ended"
    await s.close()  # idempotent
    assert len(emu.facts_named("session_finished")) == 1


async def test_ephemeral_key_offer_is_raw_sdp(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn("Ahoy.", audio_ms=300)), tls=True, webrtc_playout_speed=FAST)
    template = OpenAIRealtime(api_key="sk-unused", instructions="Speak like a pirate.", voice="sage")
    secret = await create_client_secret(
        emu.api_key, session=template.build_session(), base_url=f"{emu.base_url}/v1", ca_file=emu.ca_file
    )
    s = session(emu, transport="webrtc", api_key=secret.value, instructions="Speak like a pirate.", voice="sage")
    await s.connect()
    assert emu.calls[0].offer_content_type == "application/sdp" and emu.calls[0].ephemeral
    created = emu.server_events_of(kind="session.created")[0]["session"]
    assert created["instructions"] == "Speak like a pirate." and created["audio"]["output"]["voice"] == "sage"
    events = s.events()
    await s.simple_response("hello")
    done = await events.wait_for(RealtimeAudioOutputDoneEvent)
    assert not done.interrupted


async def test_signalling_errors_are_typed(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    bad = session(emu, transport="webrtc", api_key="sk-wrong-0123456789abcdef")
    with pytest.raises(AuthenticationError) as info:
        await bad.connect()
    assert "sk-wrong-0123456789abcdef" not in str(info.value)
    rejected = session(emu, transport="webrtc", session_extra={"modalities": ["audio"]})
    with pytest.raises(ConfigurationError, match="session.modalities"):
        await rejected.connect()
    assert emu.connections == 0 and not emu.calls
    async with aiohttp.ClientSession() as http:  # the emulator's own checks of the two request forms
        auth = {"Authorization": f"Bearer {emu.api_key}"}
        raw = await http.post(
            f"{emu.base_url}/v1/realtime/calls", data=b"v=0\r\n", headers={**auth, "Content-Type": "application/sdp"}
        )
        assert (
            raw.status == 400 and (await raw.json())["error"]["param"] == "session"
        )  # a standard key needs the session
        form = aiohttp.FormData()
        form.add_field("sdp", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", content_type="application/sdp")
        bad = await http.post(f"{emu.base_url}/v1/realtime/calls", data=form, headers=auth)
        assert bad.status == 400 and "data channel" in (await bad.json())["error"]["message"]
    await emu.stop()
    gone = session(emu, transport="webrtc", connect_timeout=3)
    with pytest.raises(ConnectionFailedError):
        await gone.connect()


async def test_tls_stays_verified_for_the_signalling(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(tls=True)
    s = session(emu, transport="webrtc", ca_file=None)  # the emulator's CA is not trusted
    with pytest.raises(ConnectionFailedError, match="ca_file") as info:
        await s.connect()
    assert info.value.recoverable is False and emu.connections == 0


def test_without_aiortc_webrtc_is_refused_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiortc", None)  # as if the extra were not installed
    with pytest.raises(ConfigurationError, match=r"realtime-openai\[webrtc\]"):
        OpenAIRealtime(api_key="sk-test", transport="webrtc")
    assert OpenAIRealtime(api_key="sk-test").capabilities.transports == ("websocket",)


def test_aiortc_is_imported_only_for_webrtc() -> None:
    code = (
        "import sys, realtime_openai, realtime_openai.emulator;"
        "s = realtime_openai.OpenAIRealtime(api_key='sk-test', transport='webrtc');"
        "assert s.capabilities.output_sample_rate == 48000;"
        "print('aiortc' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


async def test_ice_that_never_completes_fails_connect_in_bounded_time(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator(webrtc_ice_failure=True)
    s = session(emu, transport="webrtc", connect_timeout=1.0, reconnect=ReconnectPolicy.disabled())
    with pytest.raises(ConnectionFailedError):  # within connect_timeout (no wall-clock check: the machine may be busy)
        await s.connect()
    assert not s.connected
    await emu.wait_fact("session_finished")  # the half-made call was hung up, not left behind


async def test_a_silently_dead_network_is_noticed_and_reconnected(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator(scenario(turn("First."), turn("Second.")), webrtc_playout_speed=FAST)
    s = session(emu, transport="webrtc", webrtc=WebRtcOptions(media_timeout=0.5))
    await s.connect()
    events = s.events()
    await s.simple_response("one")
    await events.wait_for(RealtimeAudioOutputDoneEvent)
    await emu.partition()  # no close, no packet: only the missing audio tells
    lost = await events.wait_for(RealtimeDisconnectedEvent)
    assert lost.was_clean is False and lost.will_reconnect is True and "no audio" in lost.reason
    back = await events.wait_for(RealtimeReconnectedEvent)
    assert back.state_restored and emu.connections == 2
    await s.simple_response("two")
    final = await events.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    assert final.text == "Second."


async def test_malformed_channel_messages_are_error_events(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator(scenario(turn("Still here.", audio_ms=300)), webrtc_playout_speed=FAST)
    s = session(emu, transport="webrtc")
    await s.connect()
    events = s.events()
    await emu.inject("{not json")
    await emu.inject("[1, 2]")
    emu.connection().channel.send(b"\x01\x02")  # pyright: ignore[reportAttributeAccessIssue, reportOptionalMemberAccess]
    await emu.inject({"type": "response.created", "response": {}})  # the handler chokes on it
    errors = [await events.wait_for(RealtimeErrorEvent) for _ in range(4)]
    assert all(isinstance(e.error, ProtocolError) for e in errors)
    assert ["not JSON" in str(errors[0].error), "JSON object" in str(errors[1].error)] == [True, True]
    assert "binary" in str(errors[2].error) and "response.created" in str(errors[3].error)
    assert s.connected
    await s.simple_response("are you there?")
    done = await events.wait_for(RealtimeAudioOutputDoneEvent)
    assert not done.interrupted


async def test_appends_are_refused_on_a_webrtc_call(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, transport="webrtc")
    await s.connect()
    events = s.events()
    await s._client.send({"type": "input_audio_buffer.append", "audio": "AAAA", "event_id": "evt_append"})  # pyright: ignore[reportPrivateUsage]
    error = await events.wait_for(RealtimeErrorEvent)
    assert error.error.code == "invalid_value" and "media track" in str(error.error)


async def test_keys_stay_out_of_logs_reprs_and_errors(
    emulator: EmulatorFactory, session: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-webrtc-secret-0123456789abcdef"
    wrong = "sk-webrtc-wrong-0123456789abcdef"
    for name in ("realtime_openai", "realtime_core", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)
    emu = await emulator(scenario(turn("Fine.", audio_ms=200)), api_key=secret, webrtc_playout_speed=FAST)
    s = session(emu, transport="webrtc")
    await s.connect()
    events = s.events()
    await s.simple_response("hi")
    await events.wait_for(RealtimeAudioOutputDoneEvent)
    transport: Any = s._transport  # pyright: ignore[reportPrivateUsage]
    texts: list[str] = [repr(s), str(s), repr(transport), repr(transport._calls), repr(s.capabilities)]
    bad = session(emu, transport="webrtc", api_key=wrong)
    with pytest.raises(AuthenticationError) as info:
        await bad.connect()
    texts += [str(info.value), repr(info.value)]
    await s.close()
    texts += [r.getMessage() for r in caplog.records]
    assert not [t for t in texts if secret in t or wrong in t]


async def test_official_sdk_signalling_and_event_shapes(emulator: EmulatorFactory, session: SessionFactory) -> None:
    """The official SDK's ``calls.create`` (its multipart encoding) and ``calls.hangup`` work against the
    emulator, and every event either side sent over a WebRTC call validates against the SDK's models."""
    emu = await emulator(scenario(long_turn(30.0), turn("Yes?", audio_ms=300)))
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client = AsyncOpenAI(api_key=emu.api_key, base_url=f"{emu.base_url}/v1")
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        channel = pc.createDataChannel("oai-events")
        created = asyncio.get_running_loop().create_future()
        channel.on("message", lambda m: created.done() or created.set_result(json.loads(m)))
        await pc.setLocalDescription(await pc.createOffer())
        raw = await client.realtime.calls.with_raw_response.create(
            sdp=pc.localDescription.sdp,
            session={"type": "realtime", "model": "gpt-realtime", "audio": {"output": {"voice": "coral"}}},
        )
        assert raw.status_code == 201 and raw.headers["content-type"] == "application/sdp"
        call_id = raw.headers["location"].rsplit("/", 1)[-1]
        answer = raw.parse().text
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        async with asyncio.timeout(5):
            first = await created
        assert first["type"] == "session.created" and first["session"]["audio"]["output"]["voice"] == "coral"
        await client.realtime.calls.hangup(call_id)
        assert (await emu.wait_fact("session_finished")).data["call_id"] == call_id
    finally:
        await pc.close()
        await client.close()

    # now the plugin over WebRTC: a turn, a local interrupt, a barge-in; every event validated
    s = session(emu, transport="webrtc")
    await s.connect()
    events = s.events()
    await s.simple_response("tell me everything")
    await events.wait_for(RealtimeAudioOutputEvent)
    await s.interrupt()
    await emu.wait_fact("truncate")
    kinds = validate_server_events(emu)
    assert {"output_audio_buffer.started", "output_audio_buffer.cleared", "conversation.item.truncated"} <= kinds
    sent = [m.payload for m in emu.received if not m.kind.startswith("fact:")]
    for event in sent:
        model = CLIENT.validate_python(event)
        assert not extras(model), event["type"]
    assert "output_audio_buffer.clear" in {e["type"] for e in sent}
