"""Video: JPEG frames through ``input_image_buffer.append``, only after audio, within the size and rate limits."""

from __future__ import annotations

import fractions
import itertools
from typing import Any

import numpy as np

from realtime_core import PcmData, RealtimeErrorEvent
from realtime_core.video import VideoFrameJpeg, encode_jpeg

from .helpers import PLUS, TURBO, EmulatorFactory, SessionFactory, client_events, send


def _frame(width: int, height: int, *, noise: bool = False, quality: int = 80) -> VideoFrameJpeg:
    import av

    if noise:
        pixels = np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)
    else:
        pixels = np.full((height, width, 3), 90, np.uint8)
    return encode_jpeg(av.VideoFrame.from_ndarray(pixels, format="rgb24"), quality=quality)


class _Track:
    kind = "video"

    def __init__(self) -> None:
        self.count = 0

    async def recv(self) -> Any:
        import asyncio

        import av

        await asyncio.sleep(1 / 30)  # a camera's frame clock, not synchronisation
        frame = av.VideoFrame.from_ndarray(np.full((720, 1280, 3), self.count % 255, np.uint8), format="rgb24")
        frame.pts, frame.time_base = self.count, fractions.Fraction(1, 30)
        self.count += 1
        return frame


async def test_frames_flow_without_microphone_audio(emulator: EmulatorFactory, session: SessionFactory) -> None:
    """DashScope refuses an image before audio: a sliver of silence goes first when none was sent."""
    emu = await emulator()
    s = session(emu, model=TURBO, video_max_fps=2, fps=2)
    await s.connect()
    errors = s.events(types=[RealtimeErrorEvent])
    await s.watch_video_track(_Track())
    await emu.wait_for(lambda m: m.kind == "fact:video_frame", count=2, timeout=5)
    await s.stop_watching_video_track()
    kinds = [m.kind for m in emu.received if m.kind in ("input_audio_buffer.append", "input_image_buffer.append")]
    assert kinds[0] == "input_audio_buffer.append" and "input_image_buffer.append" in kinds
    frames = emu.facts_named("video_frame")
    assert all((f.data["width"], f.data["height"]) == (1280, 720) for f in frames)
    gaps = [b.at - a.at for a, b in itertools.pairwise(frames)]
    assert all(g >= 0.35 for g in gaps), f"faster than 2 fps: {gaps}"
    assert errors.get_nowait() is None


async def test_waiting_for_the_microphone_instead(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, model=PLUS, video_prime_ms=0)
    await s.connect()
    frame = _frame(640, 360)
    await s._send_video_frame(frame)  # pyright: ignore[reportPrivateUsage]  # no audio yet: skipped
    await send(s, PcmData.silence(100, 16000))
    await s._send_video_frame(frame)  # pyright: ignore[reportPrivateUsage]
    await emu.wait_fact("video_frame", timeout=5)
    assert len(client_events(emu, "input_image_buffer.append")) == 1
    assert emu.audio_received_ms == 100  # nothing was added to the user's audio


async def test_large_frames_are_shrunk_under_the_limit(emulator: EmulatorFactory, session: SessionFactory) -> None:
    emu = await emulator()
    s = session(emu, model=PLUS)
    await s.connect()
    big = _frame(1280, 720, noise=True, quality=95)
    assert len(big.data) > 196_608
    await s._send_video_frame(big)  # pyright: ignore[reportPrivateUsage]
    fact = await emu.wait_fact("video_frame", timeout=10)
    assert fact.data["size"] <= 196_608
    [image] = client_events(emu, "input_image_buffer.append")
    assert len(image["image"]) <= 256 * 1024


async def test_a_frame_racing_a_commit_is_not_an_error(emulator: EmulatorFactory, session: SessionFactory) -> None:
    """The server committed (VAD) just before the frame: refused, silently, and the next frame primes."""
    emu = await emulator()
    s = session(emu, model=PLUS)
    await s.connect()
    errors = s.events(types=[RealtimeErrorEvent])
    transport = s._transport  # pyright: ignore[reportPrivateUsage]
    assert transport is not None
    transport.buffer.audio_since_commit = True  # as if the commit had not reached us yet
    frame = _frame(320, 180)
    await s._send_video_frame(frame)  # pyright: ignore[reportPrivateUsage]
    # a round trip: once the server answers a later event, its refusal of the frame has been handled
    handler = s._handler  # pyright: ignore[reportPrivateUsage]
    assert handler is not None
    updated = handler.expect_update("event_roundtrip")
    await s._client.send({"type": "session.update", "event_id": "event_roundtrip", "session": {}})  # pyright: ignore[reportPrivateUsage]
    await updated
    assert transport.buffer.audio_since_commit is False
    await s._send_video_frame(frame)  # pyright: ignore[reportPrivateUsage]
    await emu.wait_fact("video_frame", timeout=5)
    assert [e["type"] for e in emu.server_events_of(kind="error")] == ["error"]
    assert errors.get_nowait() is None
    assert len(client_events(emu, "input_image_buffer.append")) == 2
