"""Other inputs: text, say, video, manual turns."""

from __future__ import annotations

import asyncio
import fractions
import itertools
from typing import Any

import pytest

from realtime_core import RealtimeAgentSpeechTranscriptionEvent

from ..clauses import clause
from ..fixtures import HarnessFactory
from .base import REPLY_TEXT, SuiteBase, reply_turn, scenario


class PatternTrack:
    """A video track (the aiortc MediaStreamTrack interface) producing a moving 1280x720 pattern at 30 fps."""

    kind = "video"

    def __init__(self, width: int = 1280, height: int = 720, fps: int = 30) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.count = 0
        self.stopped = False

    async def recv(self) -> Any:
        import av
        import numpy as np

        if self.stopped:
            raise ConnectionError("track ended")
        await asyncio.sleep(1 / self.fps)
        img = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        img[:, (self.count * 8) % self.width :, 1] = 200
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = self.count
        frame.time_base = fractions.Fraction(1, self.fps)
        self.count += 1
        return frame

    def stop(self) -> None:
        self.stopped = True


class InputTests(SuiteBase):
    @clause("text_input", requires=("text_input",))
    async def test_text_input(self, harness: HarnessFactory) -> None:
        """simple_response(text) reaches the provider and a reply follows."""
        h = await harness(scenario(reply_turn()))
        await h.session.simple_response("Hello from the conformance kit")
        await self.wait_reply(h)
        if h.emulator is not None:
            fact = await h.emulator.wait_fact("text_in", timeout=h.timeout)
            assert "conformance kit" in str(fact.data.get("text"))

    @clause("say", requires=("say",))
    async def test_say(self, harness: HarnessFactory) -> None:
        """say(text) makes the agent speak that text."""
        h = await harness()
        line = "Welcome to the conformance kit."
        await h.session.say(line)
        await self.wait_reply(h)
        if h.caps.agent_transcript != "none":
            final = await h.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
            if not h.live:
                assert final.text.strip() == line

    @clause("video_frames", requires=("video_input",), offline_only=True)
    async def test_video_frames(self, harness: HarnessFactory) -> None:
        """Video is sampled at fps within the declared limits, as JPEG, and nothing is sent after stop."""
        h = await harness(fps=2)
        caps = h.caps
        assert h.emulator is not None
        track = PatternTrack()
        await h.session.watch_video_track(track)
        await h.emulator.wait_for(lambda m: m.kind == "fact:video_frame", count=3, timeout=h.timeout)
        await h.session.stop_watching_video_track()
        frames = h.emulator.facts_named("video_frame")
        count = len(frames)
        for fact in frames:
            width, height = fact.data.get("width"), fact.data.get("height")
            if width and height:
                if caps.video_max_width:
                    assert width <= caps.video_max_width
                if caps.video_max_height:
                    assert height <= caps.video_max_height
                assert abs(width / height - 16 / 9) < 0.05, f"aspect ratio changed: {width}x{height}"
            if "jpeg" in fact.data:
                assert fact.data["jpeg"], "frame is not JPEG"
        fps = min(2.0, caps.video_max_fps or 2.0)
        gaps = [b.at - a.at for a, b in itertools.pairwise(frames)]
        assert all(g >= 0.7 / fps for g in gaps), f"frames faster than {fps} fps: gaps {gaps}"
        await h.barrier()
        assert len(h.emulator.facts_named("video_frame")) == count, "a frame was sent after stop"
        track.stop()

    @clause("manual_turns", requires=("manual_turns",))
    async def test_manual_turns(self, harness: HarnessFactory) -> None:
        """begin_user_turn(), audio, end_user_turn() gets a reply."""
        options = self.manual_turn_options if self.manual_turn_options is not None else {}
        h = await harness(scenario(reply_turn()), **options)
        if h.caps.server_vad and self.manual_turn_options is None:
            pytest.skip("no manual turn configuration given (manual_turn_options)")
        await h.session.begin_user_turn()
        await h.speak(silence_ms=0)
        await h.session.end_user_turn()
        await self.wait_reply(h)
        if not h.live and h.caps.agent_transcript != "none":
            final = await h.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
            assert final.text == REPLY_TEXT
