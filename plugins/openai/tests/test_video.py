"""Video input over both transports: a real aiortc video track (a generated pattern, paced by aiortc at 30
fps) sampled by core, sent as ``input_image`` items (WebSocket frames / the WebRTC data channel), checked
by the emulator: rate, size, JPEG, nothing after stop; and frames too big for a data channel message."""

from __future__ import annotations

import time
from typing import Any

import av
import numpy as np
import pytest
from aiortc import VideoStreamTrack

from realtime_openai import OpenAIRealtime

from .helpers import EmulatorFactory, SessionFactory


class PatternTrack(VideoStreamTrack):
    """aiortc's own video track class (it paces frames at 30 fps), drawing a moving bar, or noise."""

    def __init__(self, width: int = 1280, height: int = 720, *, noise: bool = False) -> None:
        super().__init__()
        self.width, self.height, self.noise = width, height, noise
        self.count = 0
        self._rng = np.random.default_rng(5)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        if self.noise:
            img = self._rng.integers(0, 256, (self.height, self.width, 3), dtype=np.uint8)
        else:
            img = np.zeros((self.height, self.width, 3), dtype=np.uint8)
            x = (self.count * 16) % self.width
            img[:, x : x + 64, 1] = 220
        self.count += 1
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


@pytest.mark.parametrize("transport", ["websocket", "webrtc"])
async def test_video_frames_are_sampled_resized_and_stop(
    emulator: EmulatorFactory, session: SessionFactory, transport: str
) -> None:
    emu = await emulator(webrtc_playout_speed=4)
    s = session(emu, transport=transport, fps=4, video_max_fps=4)
    await s.connect()
    caps = s.capabilities
    assert caps.video_input and caps.video_max_fps == 4
    assert (caps.video_max_width, caps.video_max_height) == (1024, 1024)
    track = PatternTrack()
    started = time.monotonic()
    await s.watch_video_track(track)
    await emu.wait_for(lambda m: m.kind == "fact:video_frame", count=3, timeout=20)
    await s.stop_watching_video_track()
    watched = time.monotonic() - started
    # round trips on the same ordered channel: whatever was sent before each has arrived
    await s.simple_response("that is all")
    await emu.wait_fact("text_in")
    count = len(emu.facts_named("video_frame"))  # everything sent until stop returned
    await s.simple_response("really")
    await emu.wait_fact("text_in", lambda d: d["text"] == "really")
    frames = emu.facts_named("video_frame")
    assert len(frames) == count, "a frame was sent after stop_watching_video_track()"
    for fact in frames:
        assert fact.data["mime_type"] == "image/jpeg"
        assert (fact.data["width"], fact.data["height"]) == (1024, 576)  # 1280x720 scaled into 1024x1024
    # never more than 4 per second (arrival times bunch on a busy machine: count them, do not time them)
    assert len(frames) <= watched * 4 + 1, f"{len(frames)} frames in {watched:.2f} s: faster than 4 fps"
    track.stop()


async def test_frames_too_big_for_a_data_channel_message_are_reencoded(
    emulator: EmulatorFactory, session: SessionFactory
) -> None:
    emu = await emulator(webrtc_playout_speed=4, webrtc_max_message_size=65536)
    s = session(emu, transport="webrtc", fps=2)
    await s.connect()
    transport: Any = s._transport  # pyright: ignore[reportPrivateUsage]
    assert transport.max_message_size == 65536  # what the server's SDP answer advertised
    track = PatternTrack(noise=True)  # noise barely compresses: ~190 KB of JPEG at 1024x576
    await s.watch_video_track(track)
    found = await emu.wait_for(lambda m: m.kind == "fact:video_frame", count=1, timeout=30)
    await s.stop_watching_video_track()
    data = found[0].payload
    assert data["size"] * 4 / 3 < 65536  # re-encoded to fit one message...
    assert abs(data["width"] / data["height"] - 16 / 9) < 0.02  # ...keeping the shape
    track.stop()


def test_video_limits_are_declared_per_configuration() -> None:
    off = OpenAIRealtime(api_key="sk-test", transport="webrtc", video_max_fps=0).capabilities
    assert not off.video_input and off.video_max_width == 0
    on = OpenAIRealtime(api_key="sk-test", transport="webrtc", video_max_fps=0.5).capabilities
    assert on.video_input and on.video_max_fps == 0.5 and on.video_max_width == on.video_max_height == 1024
