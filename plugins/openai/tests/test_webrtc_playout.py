"""How track audio is attributed to responses on WebRTC, edge by edge (the tracker alone: no network).

The end-to-end path is covered in test_webrtc.py; here the orders a real server may produce that the
emulator does not: audio ahead of its ``started`` event, a ``stopped`` that never comes, an audio part that
never plays, a cut followed by stale frames.
"""

from __future__ import annotations

from typing import Any

from realtime_core import (
    EventStream,
    PcmData,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeEvent,
)
from realtime_openai import OpenAIRealtime
from realtime_openai.webrtc_protocol import PlayoutTracker

RATE = 48000
TONE = PcmData.tone(20, RATE, frequency=440, amplitude=0.2)
QUIET = PcmData.silence(20, RATE)
DONE_OK = {"status": "completed", "usage": {"output_token_details": {"audio_tokens": 12}}}


def _setup(**options: Any) -> tuple[PlayoutTracker, EventStream]:
    session = OpenAIRealtime(api_key="sk-test", transport="webrtc")
    return PlayoutTracker(session._core, **options), session.events()  # pyright: ignore[reportPrivateUsage]


def _drain(events: EventStream) -> list[RealtimeEvent]:
    out: list[RealtimeEvent] = []
    while len(events):
        out.append(events._queue.popleft())  # pyright: ignore[reportPrivateUsage]
    return out


def _audio(seen: list[RealtimeEvent]) -> list[str]:
    return [e.response_id for e in seen if isinstance(e, RealtimeAudioOutputEvent)]


def _dones(seen: list[RealtimeEvent]) -> list[tuple[str, bool]]:
    return [(e.response_id, e.interrupted) for e in seen if isinstance(e, RealtimeAudioOutputDoneEvent)]


async def test_a_reply_is_bracketed_by_started_and_stopped() -> None:
    t, events = _setup()
    t.expect("r1")
    for pcm in (QUIET, QUIET):  # idle: dropped
        t.on_frame(pcm)
    t.started("r1")
    for pcm in (QUIET, QUIET, TONE, TONE, QUIET, TONE):  # lead silence skipped, inner silence kept
        t.on_frame(pcm)
    assert t.defer_done("r1", DONE_OK)  # still playing: the done waits for the playback
    t.stopped("r1")
    t.on_frame(TONE)  # in flight when stopped came: still r1's
    t.on_frame(QUIET)  # silence again: r1 is over
    t.on_frame(TONE)  # not attributed to anyone
    seen = _drain(events)
    assert _audio(seen) == ["r1"] * 5
    assert _dones(seen) == [("r1", False)]
    assert t.current is None and not t.active


async def test_audio_ahead_of_its_started_event_is_kept() -> None:
    t, events = _setup()
    t.on_frame(QUIET)
    t.on_frame(TONE)
    t.on_frame(TONE)
    t.started("r1")
    t.on_frame(TONE)
    assert _audio(_drain(events)) == ["r1"] * 3


async def test_frames_after_a_cut_are_dropped_until_silence() -> None:
    t, events = _setup()
    t.started("r1")
    t.on_frame(TONE)
    assert t.cut() == "r1"
    t.on_frame(TONE)  # stale, in flight
    t.on_frame(QUIET)
    t.started("r2")
    t.on_frame(TONE)
    seen = _drain(events)
    assert _audio(seen) == ["r1", "r2"]
    assert t.frames_dropped == 2


async def test_a_missing_stopped_ends_after_trailing_silence() -> None:
    t, events = _setup(tail_ms=100)
    t.started("r1")
    t.on_frame(TONE)
    assert t.defer_done("r1", DONE_OK)
    for _ in range(5):
        t.on_frame(QUIET)
    assert _dones(_drain(events)) == [("r1", False)]


async def test_an_audio_part_that_never_plays_ends_after_a_timeout() -> None:
    t, events = _setup(start_timeout=0.05)
    t.expect("r1")
    assert t.defer_done("r1", DONE_OK)
    done = await events.wait_for(RealtimeAudioOutputDoneEvent, timeout=30)
    assert done.response_id == "r1" and not done.interrupted
    t.expect("r2")  # the server says no audio was produced: nothing to wait for
    assert not t.defer_done("r2", {"status": "completed", "usage": {"output_token_details": {"audio_tokens": 0}}})


async def test_a_stopped_that_never_gets_its_last_frames_times_out() -> None:
    t, events = _setup(drain_timeout=0.05)
    t.started("r1")
    t.on_frame(TONE)
    assert t.defer_done("r1", DONE_OK)
    t.stopped("r1")  # and then no frame at all (the peer stopped sending)
    done = await events.wait_for(RealtimeAudioOutputDoneEvent, timeout=30)
    assert done.response_id == "r1" and not done.interrupted


async def test_closing_ends_what_was_playing() -> None:
    t, events = _setup()
    t.started("r1")
    t.on_frame(TONE)
    t.expect("r2")
    t.close()
    assert _dones(_drain(events)) == [("r1", True), ("r2", True)]
    t2, events2 = _setup()
    t2.started("r3")
    t2.on_frame(TONE)
    t2.stopped("r3")  # the server finished playing it: complete, even if its last frames are lost
    t2.close()
    assert _dones(_drain(events2)) == [("r3", False)]
