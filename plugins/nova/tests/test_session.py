"""NovaRealtime against the emulator: turns, transcripts, text, tools, barge-in, interruption, usage."""

from __future__ import annotations

import asyncio
import json

import pytest

from realtime_core import (
    ConfigurationError,
    PcmData,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeErrorEvent,
    RealtimeInterruptedEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeToolCallStartedEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechTranscriptionEvent,
    UnsupportedCapability,
)
from realtime_core.emulator import Reply, ToolCallSpec, Turn
from realtime_nova import NOVA_SONIC, NovaRealtime

from .conftest import EmulatorFactory, SessionFactory, scenario, send, speak, turn


async def test_spoken_turn_maps_every_output(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    reply = "Hello there. It is sunny today!"
    emulator = await nova_emulator(scenario(turn(reply, heard="How is the weather?", audio_ms=900, chunk_ms=60)))
    session, rec = await nova_session(emulator)
    await speak(session)
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    final = await rec.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
    user = rec.of(RealtimeUserSpeechTranscriptionEvent)
    assert [u.text for u in user] == ["How is the weather?"] and user[0].mode == "final"
    deltas = rec.of(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "delta")
    assert len(deltas) == 2  # one SPECULATIVE block per sentence
    assert "".join(d.text for d in deltas) == final.text == reply
    chunks = rec.of(RealtimeAudioOutputEvent)
    assert {c.response_id for c in chunks} == {done.response_id} == {final.response_id}
    assert all(c.audio_data.sample_rate == 24000 for c in chunks)
    assert sum(c.audio_data.frames for c in chunks) == 900 * 24
    assert rec.events.index(done) > rec.events.index(chunks[-1])
    assert not done.interrupted
    # usage per reply: the input tokens come before the reply, the output after it; both are this reply's
    usages = [await rec.wait_for(RealtimeUsageEvent), await rec.wait_for(RealtimeUsageEvent, count=2)]
    assert {u.response_id for u in usages} == {done.response_id}
    assert usages[0].input_audio_tokens and usages[1].output_audio_tokens
    assert all(u.total_tokens == (u.input_tokens or 0) + (u.output_tokens or 0) for u in usages)
    assert [(h.role, h.text) for h in session.history] == [("user", "How is the weather?"), ("assistant", reply)]
    assert not emulator.violations


async def test_text_input_answers_on_nova2(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    emulator = await nova_emulator(scenario(Turn(on="text", reply=Reply(text="From text.", audio_ms=300))))
    session, rec = await nova_session(emulator)
    await session.simple_response("Hi from a keyboard")
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    fact = await emulator.wait_fact("text_in")
    assert fact.data["text"] == "Hi from a keyboard"
    assert not rec.of(RealtimeUserSpeechTranscriptionEvent)  # typed text is not transcribed back


async def test_nova1_refuses_text_and_takes_its_own_voices(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator(scenario(turn("Nova one here.")))
    session, rec = await nova_session(emulator, model=NOVA_SONIC, voice="greta")
    assert not session.capabilities.text_input
    before = len(emulator.received)
    with pytest.raises(UnsupportedCapability):
        await session.simple_response("hello")
    assert [m.kind for m in list(emulator.received)[before:] if m.kind != "audioInput"] == []
    await speak(session)
    await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert emulator.models[1] == NOVA_SONIC
    start = emulator.messages("promptStart")[0].payload
    assert start["audioOutputConfiguration"]["voiceId"] == "greta"
    with pytest.raises(ConfigurationError, match="voice"):
        NovaRealtime(voice="greta")  # a Nova 1 voice, not a Nova 2 one
    with pytest.raises(ConfigurationError, match="Nova 2"):
        NovaRealtime(model=NOVA_SONIC, endpointing_sensitivity="HIGH")


async def test_turn_detection_setting_is_nested(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    emulator = await nova_emulator()
    await nova_session(emulator, endpointing_sensitivity="low")
    (message,) = await emulator.wait_for("sessionStart")
    start = message.payload
    assert start["turnDetectionConfiguration"] == {"endpointingSensitivity": "LOW"}
    assert "endpointingSensitivity" not in start


def get_weather(city: str) -> dict[str, str]:
    """Weather for a city.

    :param city: the city
    """
    return {"city": city, "sky": "sunny"}


async def get_time(zone: str = "UTC") -> str:
    """The time in a zone."""
    return f"12:00 {zone}"


async def test_parallel_tool_calls_one_batch(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    calls = [
        ToolCallSpec(name="get_weather", arguments={"city": "Paris"}),
        ToolCallSpec(name="get_time", arguments={"zone": "CET"}),
    ]
    emulator = await nova_emulator(
        scenario(
            Turn(
                on="any",
                user_transcript="Weather and time?",
                reply=Reply(text="Let me check.", audio_ms=300, tool_calls=calls),
                after_tools=Reply(text="Sunny, and noon.", audio_ms=300),
            )
        ),
        double_encode_tool_arguments=True,  # the quirk some clients met: arguments JSON-encoded twice
    )
    session, rec = await nova_session(emulator, tools=[get_weather, get_time])
    await speak(session)
    await rec.wait_for(RealtimeToolCallFinishedEvent, count=2)
    started = rec.of(RealtimeToolCallStartedEvent)
    assert {s.name: s.arguments for s in started} == {"get_weather": {"city": "Paris"}, "get_time": {"zone": "CET"}}
    assert len({s.response_id for s in started}) == 1
    results = await emulator.wait_for(lambda m: m.kind == "fact:tool_result", count=2)
    outputs = {m.payload["call_id"]: json.loads(m.payload["output"]) for m in results}
    assert sorted(outputs.values(), key=str) == sorted([{"city": "Paris", "sky": "sunny"}, "12:00 CET"], key=str)
    starts = emulator.messages("contentStart")
    tool_blocks = [s.payload for s in starts if s.payload["type"] == "TOOL"]
    assert {b["toolResultInputConfiguration"]["toolUseId"] for b in tool_blocks} == set(outputs)
    after = rec.events.index(rec.of(RealtimeToolCallFinishedEvent)[-1])
    cont = await rec.wait_for(RealtimeAudioOutputDoneEvent, after=after)
    final = await rec.wait_for(
        RealtimeAgentSpeechTranscriptionEvent, lambda e: e.response_id == cont.response_id and e.mode == "final"
    )
    assert final.text == "Sunny, and noon."
    # the spoken part before the calls is its own response, finished before the tools ran
    first_done = rec.of(RealtimeAudioOutputDoneEvent)[0]
    assert first_done.response_id == started[0].response_id and rec.events.index(first_done) < rec.events.index(
        started[0]
    )
    assert not rec.of(RealtimeErrorEvent)


async def test_server_barge_in(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    long = turn("A long answer that goes on.", audio_ms=4000, chunk_ms=40, chunk_interval_ms=40)
    emulator = await nova_emulator(scenario(long, turn("Yes?")))
    session, rec = await nova_session(emulator)
    await speak(session)
    chunk = await rec.wait_for(RealtimeAudioOutputEvent, count=3)
    mark = rec.mark()
    await send(session, PcmData.tone(400, 16000, frequency=300.0, amplitude=0.3))
    interrupted = await rec.wait_for(RealtimeInterruptedEvent, after=mark)
    assert interrupted.source == "server" and interrupted.response_id == chunk.response_id
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == chunk.response_id)
    assert done.interrupted
    assert rec.of(RealtimeUserSpeechStartedEvent, after=mark)
    await emulator.wait_fact("barge_in")
    at = rec.events.index(interrupted)
    await send(session, PcmData.silence(800, 16000))
    nxt = await rec.wait_for(RealtimeAudioOutputDoneEvent, lambda e: not e.interrupted, after=at)
    leaked = [
        e for e in rec.events[at:] if isinstance(e, RealtimeAudioOutputEvent) and e.response_id == chunk.response_id
    ]
    assert not leaked and nxt.response_id != chunk.response_id
    # the cut reply's final transcript is not reported (the user did not hear it)
    assert not rec.of(
        RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final" and e.response_id == chunk.response_id
    )


async def test_local_interrupt_sends_nothing_and_drops_the_rest(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    long = turn("A long answer.", audio_ms=3000, chunk_ms=40, chunk_interval_ms=20)
    emulator = await nova_emulator(scenario(long))
    session, rec = await nova_session(emulator)
    await speak(session)
    chunk = await rec.wait_for(RealtimeAudioOutputEvent, count=2)
    before = [m.kind for m in emulator.received if m.kind != "audioInput"]
    await session.interrupt()
    marker = await rec.wait_for(RealtimeInterruptedEvent)
    assert marker.source == "local"
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert done.interrupted and done.response_id == chunk.response_id
    usage = await rec.wait_for(RealtimeUsageEvent)  # the model finished the reply on its side...
    assert usage.response_id == chunk.response_id
    after = rec.events[rec.events.index(marker) :]
    assert not [e for e in after if isinstance(e, RealtimeAudioOutputEvent)]  # ...and none of it reached the app
    assert [m.kind for m in emulator.received if m.kind != "audioInput"] == before  # Nova has no cancel message


async def test_sessions_multiplex_on_one_emulator(nova_emulator: EmulatorFactory, nova_session: SessionFactory) -> None:
    emulator = await nova_emulator()
    sessions = [await nova_session(emulator) for _ in range(3)]
    await asyncio.gather(*(speak(s, 500, 700) for s, _ in sessions))
    dones = await asyncio.gather(*(rec.wait_for(RealtimeAudioOutputDoneEvent) for _, rec in sessions))
    assert len({d.response_id for d in dones}) == 3
    assert emulator.connections == 3 and not emulator.violations


async def test_audio_is_batched_and_big_chunks_split(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator(idle_timeout_s=None)
    session, _ = await nova_session(emulator, silence_fill_ms=5000)
    await send(session, PcmData.silence(600, 16000), chunk_ms=20)  # 30 chunks -> 10 events of 60 ms
    await session.simple_audio_response(PcmData.silence(2500, 16000))  # one chunk -> 1 s events
    await emulator.wait_audio(3100)
    sizes = [m.payload["bytes"] // 2 for m in emulator.messages("audioInput")]
    assert sizes[:10] == [960] * 10
    assert sizes[10:] == [16000, 16000, 8000]
    assert emulator.audio_received_ms == pytest.approx(3100)


async def test_an_unfinished_batch_goes_out_after_audio_batch_ms(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator(idle_timeout_s=None)
    session, _ = await nova_session(emulator, silence_fill_ms=5000)
    await send(session, PcmData.silence(40, 16000), chunk_ms=20)  # two chunks: less than a 60 ms batch
    await emulator.wait_audio(40, timeout=5)  # the batcher's timer sends them; no more audio comes
    assert [m.payload["bytes"] // 2 for m in emulator.messages("audioInput")] == [640]


async def test_keepalive_silence_prevents_the_idle_timeout(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    emulator = await nova_emulator(idle_timeout_s=1.2)
    session, rec = await nova_session(emulator, silence_fill_ms=100)
    await emulator.wait_audio(2500)  # the app sent nothing: 2.5 s of silence came from the plugin
    assert not emulator.messages("emulator.idle_timeout")
    assert session.connected and not rec.of(RealtimeErrorEvent)
    await speak(session)  # and the stream still answers
    await rec.wait_for(RealtimeAudioOutputDoneEvent)


def test_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="model: .anthropic.claude. is not a Nova Sonic model"):
        NovaRealtime(model="anthropic.claude")
    with pytest.raises(ConfigurationError, match="https"):
        NovaRealtime(endpoint_uri="http://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="ca_file"):
        NovaRealtime(ca_file="/nonexistent/ca.pem")
    with pytest.raises(ConfigurationError, match="together"):
        NovaRealtime(aws_access_key_id="AKID")
    with pytest.raises(ConfigurationError, match="renew"):
        NovaRealtime(stream_limit_s=10, renew_after_s=11)
    with pytest.raises(ConfigurationError, match="max_tokens"):
        NovaRealtime(max_tokens=0)
    with pytest.raises(ConfigurationError, match="temperature"):
        NovaRealtime(temperature=1.5)
    session = NovaRealtime(model="us.amazon.nova-2-sonic-v1:0", voice="Tiffany")
    assert session.voice == "tiffany" and session.capabilities.text_input


async def test_barge_in_after_the_reply_arrived_but_is_still_playing(
    nova_emulator: EmulatorFactory, nova_session: SessionFactory
) -> None:
    # Nova generates faster than real time: the whole reply can be in before the user interrupts it.
    emulator = await nova_emulator(
        scenario(turn("All of it at once.", audio_ms=5000), turn("Yes?")), barge_in="playback"
    )
    session, rec = await nova_session(emulator)
    await speak(session)
    done = await rec.wait_for(RealtimeAudioOutputDoneEvent)
    assert not done.interrupted
    mark = rec.mark()
    await send(session, PcmData.tone(400, 16000, frequency=300.0, amplitude=0.3))
    cut = await rec.wait_for(RealtimeInterruptedEvent, after=mark)
    assert cut.source == "server" and cut.response_id == done.response_id
    assert cut.heard_ms is not None and cut.heard_ms < 5000  # cut while still playing
    assert rec.of(RealtimeUserSpeechStartedEvent, after=mark)
    await emulator.wait_fact("barge_in")
