"""Wire fidelity: what the plugin (through the AWS SDK) and the emulator put on the HTTP/2 stream, decoded
by an independent parser (botocore's event-stream buffer), event by event."""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.eventstream import EventStreamBuffer

from realtime_core import RealtimeAudioOutputDoneEvent, RealtimeAudioOutputEvent

from .conftest import EmulatorFactory, SessionFactory, scenario, speak, turn


def _frames(raw: bytes) -> list[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return list(buffer)


def _nova(message: Any) -> tuple[str, dict[str, Any]]:
    assert message.headers[":message-type"] == "event"
    assert message.headers[":event-type"] == "chunk"
    assert message.headers[":content-type"] == "application/json"
    doc = json.loads(base64.b64decode(json.loads(message.payload)["bytes"]))
    ((name, body),) = doc["event"].items()
    return name, body


def _weather(city: str) -> str:
    """Weather for a city.

    :param city: the city
    """
    return f"sunny in {city}"


async def test_request_stream_decodes_with_botocore(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator(scenario(turn(), turn("Text reply.")), capture_wire=True)
    session, rec = await nova_session(emulator, instructions="Be brief.", tools=[_weather])
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    await session.simple_response("And tomorrow?")
    await rec.wait_for(RealtimeAudioOutputDoneEvent, count=2)
    await session.close()
    await emulator.wait_for(lambda m: m.kind == "stream.ended" and m.connection == 1)  # all input captured

    envelopes = _frames(bytes(emulator.wire_in[1]))
    assert emulator.signatures_verified == len(envelopes)
    assert not emulator.violations
    events: list[tuple[str, dict[str, Any]]] = []
    for envelope in envelopes:
        assert set(envelope.headers) == {":date", ":chunk-signature"}
        assert len(envelope.headers[":chunk-signature"]) == 32
        if envelope.payload:
            (inner,) = _frames(envelope.payload)
            events.append(_nova(inner))
    assert not envelopes[-1].payload, "the input must end with the signed empty frame"
    names = [name for name, _ in events]
    assert names[:2] == ["sessionStart", "promptStart"]
    assert names[-3:] == ["contentEnd", "promptEnd", "sessionEnd"]
    session_start, prompt_start = events[0][1], events[1][1]
    assert session_start["inferenceConfiguration"] == {"maxTokens": 1024, "topP": 0.9, "temperature": 0.7}
    tools = prompt_start["toolConfiguration"]["tools"]
    assert tools[0]["toolSpec"]["name"] == "_weather"
    assert json.loads(tools[0]["toolSpec"]["inputSchema"]["json"])["properties"]["city"]["type"] == "string"
    assert prompt_start["audioOutputConfiguration"]["voiceId"] == "matthew"
    starts = [body for name, body in events if name == "contentStart"]
    system, audio = starts[0], starts[1]
    assert (system["type"], system["role"], system["interactive"]) == ("TEXT", "SYSTEM", False)
    assert (audio["type"], audio["role"], audio["interactive"]) == ("AUDIO", "USER", True)
    assert audio["audioInputConfiguration"]["sampleRateHertz"] == 16000
    # ONE audio block for the whole stream; typed text is its own interactive block beside it
    assert [s["type"] for s in starts].count("AUDIO") == 1
    text = [s for s in starts if s["type"] == "TEXT" and s["role"] == "USER"]
    assert len(text) == 1 and text[0]["interactive"] is True
    audio_events = [body for name, body in events if name == "audioInput"]
    assert len(audio_events) > 10
    assert {body["contentName"] for body in audio_events} == {audio["contentName"]}
    assert events[-3][1]["contentName"] == audio["contentName"]  # the audio block closes last
    request = emulator.messages("http.request", connection=1)[0].payload
    assert request["path"].startswith("/model/amazon.nova-2-sonic-v1%3A0/invoke-with-bidirectional-stream")
    assert request["x-amz-content-sha256"] == "STREAMING-AWS4-HMAC-SHA256-EVENTS"
    assert request["has_security_token"] is False  # long-term keys: no session token
    assert "aws-sdk-python" in (request["user-agent"] or "")


async def test_response_stream_decodes_with_botocore(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator(scenario(turn("One. Two.", audio_ms=600)), capture_wire=True)
    session, rec = await nova_session(emulator)
    await speak(session)
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    await session.close()
    await emulator.wait_for(lambda m: m.kind == "stream.ended" and m.connection == 1)  # all output written
    events = [_nova(message) for message in _frames(bytes(emulator.wire_out[1]))]
    names = [name for name, _ in events]
    # the input usage comes first, before completionStart (as the service's event flow lists it)
    assert names[:2] == ["usageEvent", "completionStart"] and names[-1] == "completionEnd"
    common = {"sessionId", "promptName", "completionId"}
    assert all(common <= set(body) for name, body in events[2:])
    stages = [
        (body["role"], json.loads(body.get("additionalModelFields", "{}")).get("generationStage"), body["type"])
        for name, body in events
        if name == "contentStart"
    ]
    # the user's transcript (in two blocks), per sentence SPECULATIVE text and audio, then the FINAL texts
    assert stages == [
        ("USER", "FINAL", "TEXT"),
        ("USER", "FINAL", "TEXT"),
        ("ASSISTANT", "SPECULATIVE", "TEXT"),
        ("ASSISTANT", None, "AUDIO"),
        ("ASSISTANT", "SPECULATIVE", "TEXT"),
        ("ASSISTANT", None, "AUDIO"),
        ("ASSISTANT", "FINAL", "TEXT"),
        ("ASSISTANT", "FINAL", "TEXT"),
    ]
    final_ends = [body["stopReason"] for name, body in events if name == "contentEnd" and body["type"] == "TEXT"][-2:]
    assert final_ends == ["END_TURN", "PARTIAL_TURN"]
    assert all(body["role"] == "ASSISTANT" for name, body in events if name == "audioOutput")
    audio_config = next(b for n, b in events if n == "contentStart" and b["type"] == "AUDIO")["audioOutputConfiguration"]
    assert "voiceId" not in audio_config and "audioType" not in audio_config
    audio_ends = [body["stopReason"] for name, body in events if name == "contentEnd" and body["type"] == "AUDIO"]
    assert audio_ends == ["PARTIAL_TURN", "END_TURN"]
    pcm = b"".join(base64.b64decode(body["content"]) for name, body in events if name == "audioOutput")
    assert len(pcm) == 600 * 24 * 2  # 600 ms of 24 kHz 16-bit audio
    chunks = rec.of(RealtimeAudioOutputEvent)
    assert sum(c.audio_data.frames for c in chunks) == 600 * 24  # all of it reached the app...
    assert {c.response_id for c in chunks} == {done.response_id}  # ...as one response over two blocks
