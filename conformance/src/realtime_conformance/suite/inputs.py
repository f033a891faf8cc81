"""Other inputs: text, text while the agent speaks, say, video, manual turns (contract sections 4.4 and 7)."""

from __future__ import annotations

import asyncio
import fractions
import itertools
from typing import Any

from realtime_core import (
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeInterruptedEvent,
)
from realtime_core.emulator import Reply, Turn

from ..clauses import clause, expect, not_exercised
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
    @clause("text", promise="4.4", requires=("text_input",), observes=("text_in",))
    async def test_text(self, harness: HarnessFactory) -> None:
        """simple_response(text) reaches the provider as user text and a reply follows."""
        h = await harness(scenario(reply_turn()))
        await h.session.simple_response("Hello from the conformance kit")
        await self.wait_reply(h)
        if h.emulator is not None:
            fact = await h.wait_fact("text_in")
            text = str(fact.data.get("text"))
            expect("conformance kit" in text, "the provider to receive 'Hello from the conformance kit'", repr(text))

    @clause("text_while_speaking", promise="4.4", requires=("text_input", "audio_output"), observes=("text_in",),
            offline_only=True)  # fmt: skip
    async def test_text_while_speaking(self, harness: HarnessFactory) -> None:
        """simple_response(text) while the agent speaks does not interrupt it: the reply plays to its end and
        the text's reply follows."""
        first = reply_turn("The first answer, which takes a while.", audio_ms=2400, chunk_ms=40, chunk_interval_ms=40)
        second = Turn(on="any", reply=Reply(text="The answer to the text.", audio_ms=300))
        h = await harness(scenario(first, second))
        await self.take_turn(h)
        chunk = await h.wait_for(RealtimeAudioOutputEvent)
        rid = chunk.response_id
        await h.session.simple_response("One more thing, while you speak")
        if h.of(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == rid):
            not_exercised("the reply ended before the text was sent (a very slow machine): nothing was checked")
        await h.wait_fact("text_in")
        done = await h.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id == rid)
        expect(not done.interrupted, "the reply under way to finish", "it was interrupted by the text")
        cut = h.of(RealtimeInterruptedEvent)
        expect(not cut, "no interruption", f"{len(cut)} interrupted event(s)")
        nxt = await h.wait_for(RealtimeAudioOutputDoneEvent, lambda e: e.response_id != rid and not e.interrupted)
        expect(h.index_of(nxt) > h.index_of(done), "the text's reply after the first one", "before it")

    @clause("say", promise="7.1", requires=("say",))
    async def test_say(self, harness: HarnessFactory) -> None:
        """say(text) makes the agent speak that text."""
        h = await harness()
        line = "Welcome to the conformance kit."
        await h.session.say(line)
        await self.wait_reply(h)
        if h.caps.agent_transcript != "none":
            final = await h.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
            if not h.live:
                expect(final.text.strip() == line, f"the agent to say {line!r}", repr(final.text))

    @clause("video_frames", promise="7.2", requires=("video_input",), observes=("video_frame",), offline_only=True)
    async def test_video_frames(self, harness: HarnessFactory) -> None:
        """Video is sampled at fps within the declared limits, as JPEG, and nothing is sent after stop."""
        h = await harness(fps=2)
        caps = h.caps
        track = PatternTrack()
        await h.session.watch_video_track(track)
        await h.wait_fact("video_frame", count=3)
        await h.session.stop_watching_video_track()
        frames = h.facts("video_frame")
        count = len(frames)
        for fact in frames:
            width, height = fact.data.get("width"), fact.data.get("height")
            if width and height:
                if caps.video_max_width:
                    expect(width <= caps.video_max_width, f"width <= {caps.video_max_width}", width)
                if caps.video_max_height:
                    expect(height <= caps.video_max_height, f"height <= {caps.video_max_height}", height)
                expect(abs(width / height - 16 / 9) < 0.05, "the 16:9 aspect ratio kept", f"{width}x{height}")
            if "jpeg" in fact.data:
                expect(fact.data["jpeg"], "JPEG frames", "a frame that is not JPEG")
        fps = min(2.0, caps.video_max_fps or 2.0)
        gaps = [round(b.at - a.at, 3) for a, b in itertools.pairwise(frames)]
        expect(all(g >= 0.7 / fps for g in gaps), f"at most {fps:g} frames per second", f"gaps {gaps} s")
        await h.barrier()
        after = len(h.facts("video_frame")) - count
        expect(after == 0, "no frame after stop_watching_video_track()", f"{after} frame(s)")
        track.stop()

    @clause("manual_turns", promise="7.3", requires=("manual_turns",))
    async def test_manual_turns(self, harness: HarnessFactory) -> None:
        """begin_user_turn(), audio, end_user_turn() makes one turn and gets a reply."""
        options = self.variant_options("manual")
        h = await harness(scenario(reply_turn()), **(options or {}))
        if h.caps.server_vad and options is None and not self.expecting_failure:
            not_exercised("no manual-turn configuration given and the default one detects turns itself")
        await h.session.begin_user_turn()
        await h.speak(silence_ms=0)
        await h.session.end_user_turn()
        await self.wait_reply(h)
        if not h.live and h.caps.agent_transcript != "none" and h.caps.audio_output:
            final = await h.wait_for(RealtimeAgentSpeechTranscriptionEvent, lambda e: e.mode == "final")
            expect(final.text == REPLY_TEXT, f"the reply {REPLY_TEXT!r}", repr(final.text))
