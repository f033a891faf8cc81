"""The emulator example of docs/writing-a-provider.md runs: a raw client talks to it over a real socket."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from realtime_core import PcmData
from realtime_core.emulator import Fault, Reply, Scenario, ToolCallSpec, Turn

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-provider.md"


def example() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### A complete emulator") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the emulator example is missing from docs/writing-a-provider.md"
    namespace: dict[str, Any] = {"__name__": "acme_example"}
    exec(compile(match.group(1), str(DOC), "exec"), namespace)  # our own documentation
    return namespace


async def test_the_documented_emulator_works() -> None:
    acme = example()
    turn = Turn(
        user_transcript="What's the weather?",
        reply=Reply(audio="none", tool_calls=[ToolCallSpec(name="weather", call_id="call_1")]),
        after_tools=Reply(text="Sunny.", audio_ms=300),
    )
    scenario = Scenario(turns=[turn], faults=[Fault(kind="expire", at_turn=0, phase="after_reply")])
    emulator = acme["AcmeEmulator"](scenario=scenario)
    assert emulator.connection_info().credentials == {"api_key": "acme-test-key"}
    events: list[dict[str, Any]] = []
    async with emulator, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(emulator.url, headers={"Authorization": "Bearer acme-test-key"})

        async def until(kind: str) -> dict[str, Any]:
            async for msg in ws:
                event = json.loads(msg.data)
                events.append(event)
                if event["type"] == kind:
                    return event
            raise AssertionError(f"the connection ended before {kind!r}: {[e['type'] for e in events]}")

        await ws.send_json({"type": "setup", "instructions": "Be brief.", "tools": [{"name": "weather"}]})
        await until("ready")
        assert emulator.facts_named("session_configured")[0].data["instructions"] == "Be brief."
        speech = PcmData.concat([PcmData.tone(800, 16000, amplitude=0.3), PcmData.silence(800, 16000)])
        for chunk in speech.chunks(20):
            await ws.send_json({"type": "audio", "data": base64.b64encode(chunk.to_bytes()).decode()})
        call = await until("tool_call")
        assert call["call_id"] == "call_1"
        await until("response_end")
        await ws.send_json({"type": "tool_result", "call_id": "call_1", "output": "sunny"})
        end = await until("response_end")
        await until("session_expiring")
        async for _ in ws:
            pass
        assert ws.close_code == 4000
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["ready", "speech_started", "heard", "response_start"]
    audio = [e for e in events if e["type"] == "audio"]
    assert sum(len(base64.b64decode(e["data"])) // 2 for e in audio) == emulator.audio_out[end["id"]].frames == 7200
    assert emulator.audio_in[1].ms == speech.duration_ms
    assert emulator.facts_named("tool_result")[0].data["pending"] is True
