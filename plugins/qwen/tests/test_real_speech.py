"""The emulator's default echo behaviour on real recorded speech (the bundled clip), as the demo uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime_core import (
    PcmData,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechTranscriptionEvent,
)
from realtime_core.demo import bundled_speech, run_demo

from .helpers import EmulatorFactory, RecorderFactory, SessionFactory, send


@pytest.mark.parametrize("model", ["qwen3.5-omni-plus-realtime", "qwen-omni-turbo-realtime"])
async def test_real_speech_is_one_turn_echoed_back(
    emulator: EmulatorFactory, session: SessionFactory, recorder: RecorderFactory, model: str
) -> None:
    emu = await emulator()  # echo scenario
    s = session(emu, model=model)
    await s.connect()
    rec = await recorder(s)
    clip = bundled_speech()  # 16 kHz: exactly the wire rate, no resampling
    await send(s, PcmData.concat([clip, PcmData.silence(1500, clip.sample_rate)]))
    seen = await rec.collect_until(RealtimeAudioOutputDoneEvent)
    assert len([e for e in seen if isinstance(e, RealtimeUserSpeechStartedEvent)]) == 1
    reply = PcmData.concat([e.audio_data for e in seen if isinstance(e, RealtimeAudioOutputEvent)])
    assert reply.sample_rate == 24000 and abs(reply.duration_ms - clip.duration_ms) < 800
    assert reply.rms() > 0.01  # the user's own speech, not silence
    heard = [e for e in seen if isinstance(e, RealtimeUserSpeechTranscriptionEvent) and e.mode == "final"]
    assert heard and heard[0].text.endswith("seconds of speech]")


@pytest.mark.slow
async def test_offline_demo_at_real_time_pace(tmp_path: Path) -> None:
    """What ``realtime demo --provider qwen`` runs: the bundled clip spoken at real-time pace into the emulator."""
    result = await run_demo("qwen", output_path=tmp_path / "reply.wav")
    assert result.responses == 1 and result.reply is not None and result.reply.duration > 2
    assert result.output_path is not None and result.output_path.exists()
