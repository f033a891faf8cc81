"""Emulator building blocks: energy VAD, scenarios, the scenario player, the server harness, TLS CA."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import pytest

from realtime_core import ConfigurationError, PcmData
from realtime_core.emulator import (
    EmulatorServer,
    EnergyVad,
    Fault,
    Reply,
    Scenario,
    ScenarioPlayer,
    ToolCallSpec,
    Turn,
    load_scenario,
    scenario_json_schema,
    shared_test_ca,
)


def feed(vad: EnergyVad, pcm: PcmData, chunk_ms: float = 20) -> list[Any]:
    out = []
    for chunk in pcm.chunks(chunk_ms):
        out += vad.process(chunk)
    return out


class TestEnergyVad:
    def test_detects_start_and_stop_on_the_audio_clock(self) -> None:
        vad = EnergyVad(16000, silence_ms=300, prefix_ms=100, min_speech_ms=50)
        audio = PcmData.concat([PcmData.silence(500, 16000), PcmData.tone(700, 16000), PcmData.silence(600, 16000)])
        events = feed(vad, audio)
        assert [e.kind for e in events] == ["start", "stop"]
        start, stop = events
        assert start.at_ms == pytest.approx(500 - 100, abs=10)  # prefix padding subtracted
        assert stop.at_ms == pytest.approx(1200, abs=10)
        assert stop.speech_ms == pytest.approx(800, abs=20)
        assert stop.speech is not None and stop.speech.duration_ms == pytest.approx(800, abs=20)

    def test_chunking_does_not_matter(self) -> None:
        audio = PcmData.concat([PcmData.silence(300, 16000), PcmData.tone(400, 16000), PcmData.silence(700, 16000)])
        a = [(e.kind, e.at_ms) for e in feed(EnergyVad(16000), audio, 20)]
        b = [(e.kind, e.at_ms) for e in feed(EnergyVad(16000), audio, 7)]
        assert a == b and len(a) == 2

    def test_short_bursts_and_silence_are_ignored(self) -> None:
        vad = EnergyVad(16000, min_speech_ms=100)
        audio = PcmData.concat([PcmData.tone(40, 16000), PcmData.silence(1000, 16000)])
        assert feed(vad, audio) == []

    def test_force_stop(self) -> None:
        vad = EnergyVad(16000)
        feed(vad, PcmData.tone(300, 16000))
        event = vad.force_stop()
        assert event is not None and event.kind == "stop" and not vad.speaking
        assert vad.force_stop() is None


class TestScenarios:
    def test_echo_by_default(self) -> None:
        player = ScenarioPlayer(None, 24000)
        speech = PcmData.tone(1500, 16000)
        turn = player.next_turn("speech", speech=speech, speech_ms=1500)
        assert turn is not None
        assert turn.user_transcript == "[1.5 seconds of speech]"
        assert turn.reply.text == "You spoke for 1.5 seconds."
        assert turn.reply.audio is not None and turn.reply.audio.sample_rate == 24000
        assert turn.reply.audio.duration_ms == pytest.approx(1500, abs=5)

    def test_turns_in_order_with_triggers(self) -> None:
        sc = Scenario(
            turns=[
                Turn(on="text", text_contains="weather", reply=Reply(tool_calls=[ToolCallSpec(name="w")]), after_tools=Reply(text="Sunny")),
                Turn(on="speech", min_speech_ms=500, user_transcript="hi", reply=Reply(text="Hello", audio="none")),
            ],
            when_exhausted="silent",
        )
        player = ScenarioPlayer(sc, 24000)
        assert player.next_turn("text", text="hello") is None  # does not match the first turn
        first = player.next_turn("text", text="What's the WEATHER?")
        assert first is not None and [c.name for c in first.reply.tool_calls] == ["w"]
        assert first.reply.audio is None  # a pure tool call has no audio
        assert first.after_tools is not None and first.after_tools.text == "Sunny"
        assert player.next_turn("speech", speech_ms=200) is None  # too short
        second = player.next_turn("speech", speech_ms=800)
        assert second is not None and second.user_transcript == "hi" and second.reply.audio is None
        assert player.next_turn("speech", speech_ms=800) is None  # exhausted: silent

    def test_text_chunks_concatenate(self) -> None:
        reply = ScenarioPlayer(None, 24000).render(Reply(text="The quick brown fox jumps over the lazy dog."))
        assert "".join(reply.text_chunks()) == reply.text
        assert len(reply.text_chunks()) > 1

    def test_faults_fire_once(self) -> None:
        sc = Scenario(faults=[Fault(kind="close", after_messages=2), Fault(kind="error", at_turn=1, phase="mid_reply", once=False)])
        player = ScenarioPlayer(sc, 24000)
        assert player.faults_for_message(1) == []
        assert [f.kind for f in player.faults_for_message(2)] == ["close"]
        assert player.faults_for_message(2) == []
        assert len(player.faults_for_turn(1, "mid_reply")) == 1
        assert len(player.faults_for_turn(1, "mid_reply")) == 1  # once=False

    def test_load_json_and_yaml(self, tmp_path: Path) -> None:
        data = {"name": "x", "turns": [{"on": "speech", "reply": {"text": "hi"}}]}
        (tmp_path / "s.json").write_text(json.dumps(data))
        (tmp_path / "s.yaml").write_text("name: x\nturns:\n  - on: speech\n    reply:\n      text: hi\n")
        assert load_scenario(tmp_path / "s.json") == load_scenario(tmp_path / "s.yaml")

    def test_invalid_scenarios_are_readable_errors(self, tmp_path: Path) -> None:
        (tmp_path / "bad.json").write_text('{"turns": [{"on": "telepathy"}]}')
        with pytest.raises(ConfigurationError, match=r"bad.json is not a valid scenario: turns.0.on"):
            load_scenario(tmp_path / "bad.json")
        (tmp_path / "broken.yaml").write_text("turns: [")
        with pytest.raises(ConfigurationError, match="not valid yaml"):
            load_scenario(tmp_path / "broken.yaml")
        with pytest.raises(ConfigurationError, match="cannot read"):
            load_scenario(tmp_path / "missing.json")

    def test_schema_is_published(self) -> None:
        schema = scenario_json_schema()
        assert {"turns", "faults", "vad"} <= set(schema["properties"])
        assert "Fault" in schema["$defs"]


class Tiny(EmulatorServer):
    provider = "tiny"

    async def _serve(self) -> int:
        return 4242

    async def _shutdown(self) -> None:
        pass

    def session_options(self) -> dict[str, Any]:
        return {}


async def test_message_log_facts_and_waiting() -> None:
    async with Tiny() as emu:
        emu.record("hello", {"a": 1}, emu.new_connection())
        assert (await emu.wait_for("hello"))[0].payload == {"a": 1}
        emu.note("cancel", 1, response_id="r1")
        fact = await emu.wait_fact("cancel", lambda d: d["response_id"] == "r1")
        assert fact.connection == 1
        emu.audio_received_ms += 100
        await emu.wait_audio(100, timeout=1)
        with pytest.raises(TimeoutError):
            await emu.wait_for("never", timeout=0.05)
        assert [m.kind for m in emu.messages()] == ["hello", "fact:cancel"]


def test_tls_ca_material() -> None:
    ca = shared_test_ca()
    assert Path(ca.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
    ctx = ca.client_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert shared_test_ca() is ca
