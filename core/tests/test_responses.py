"""The response tracker on its own: epochs, stale and done responses, received and heard audio."""

from __future__ import annotations

import time

import pytest

from realtime_core.responses import ResponseTracker

RATE = 24000


def frames(ms: float) -> int:
    return int(RATE * ms / 1000)


def test_audio_counts_per_response_and_first_chunk_is_flagged() -> None:
    t = ResponseTracker()
    first = t.audio_arrived("r1", frames(40), RATE)
    again = t.audio_arrived("r1", frames(60), RATE)
    assert first is not None and again is first
    resp = t.get("r1")
    assert resp is not None and resp.received_ms == pytest.approx(100)
    assert t.responding and t.current_response_id == "r1"


def test_a_done_response_takes_no_more_audio() -> None:
    t = ResponseTracker()
    arrival = t.audio_arrived("r1", frames(40), RATE)
    assert arrival is not None
    t.finish(arrival, interrupted=False)
    assert t.audio_arrived("r1", frames(40), RATE) is None
    assert not t.responding and not t.is_stale("r1")


def test_interrupting_a_streaming_response_makes_it_stale() -> None:
    t = ResponseTracker()
    t.audio_arrived("r1", frames(200), RATE)
    info, cut = t.interrupt("local")
    assert info.epoch == 1 and t.epoch == 1
    assert info.response_id == "r1" and info.generating
    assert cut is not None and cut.response_id == "r1"
    t.finish(cut, interrupted=True)
    assert t.is_stale("r1")
    assert t.audio_arrived("r1", frames(40), RATE) is None  # late audio of the cut reply is dropped


def test_heard_never_exceeds_received() -> None:
    t = ResponseTracker()
    t.audio_arrived("r1", frames(100), RATE)
    t.report_playback("r1", 5000)  # the app claims more than ever arrived
    info, _ = t.interrupt("local")
    assert info.heard_ms == pytest.approx(100) and info.received_ms == pytest.approx(100)


def test_a_reply_still_playing_after_its_done_is_cut_without_a_second_done() -> None:
    t = ResponseTracker()
    arrival = t.audio_arrived("r1", frames(3000), RATE)
    assert arrival is not None
    t.finish(arrival, interrupted=False)  # all audio arrived faster than real time
    t.report_playback("r1", 500)
    assert t.agent_audible()
    info, cut = t.interrupt("server")
    assert info.response_id == "r1" and not info.generating and info.heard_ms == pytest.approx(500)
    assert cut is None  # its done event is already out
    assert t.is_stale("r1") and not t.agent_audible()


def test_nothing_playing_interrupt_names_no_response() -> None:
    t = ResponseTracker()
    info, cut = t.interrupt("local")
    assert info.response_id is None and info.heard_ms is None and cut is None


def test_time_to_first_audio_runs_from_the_turn_end() -> None:
    t = ResponseTracker()
    t.mark_turn_end(ago_ms=250)
    arrival = t.audio_arrived("r1", frames(20), RATE)
    assert arrival is not None and arrival.ttfa_ms is not None
    assert arrival.ttfa_ms >= 250
    second = t.audio_arrived("r2", frames(20), RATE)
    assert second is not None and second.ttfa_ms is None  # the clock is used once


def test_interrupted_responses_stay_stale_when_reopened() -> None:
    t = ResponseTracker()
    t.audio_arrived("r1", frames(20), RATE)
    _, cut = t.interrupt("local")
    assert cut is not None
    t.finish(cut, interrupted=True)
    t.open("r1")
    assert t.is_stale("r1")


def test_estimated_playback_follows_the_clock() -> None:
    t = ResponseTracker()
    arrival = t.audio_arrived("r1", frames(10_000), RATE)
    assert arrival is not None
    now = time.monotonic()
    assert arrival.heard_ms(now + 1.0) == pytest.approx(1000, abs=50)
