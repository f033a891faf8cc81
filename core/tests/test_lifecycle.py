"""The session state machine on its own: the table, refused moves, waiting for a state."""

from __future__ import annotations

import asyncio

import pytest

from realtime_core.lifecycle import TRANSITIONS, InvalidTransition, Lifecycle, SessionState


def test_every_state_has_a_row_and_closed_is_final() -> None:
    assert set(TRANSITIONS) == set(SessionState)
    assert TRANSITIONS[SessionState.CLOSED] == frozenset()
    for state, targets in TRANSITIONS.items():
        assert state not in targets, f"{state} lists itself"
        if state is not SessionState.CLOSED:
            # from anywhere but closed, close() must be possible (directly or via closing)
            assert SessionState.CLOSING in targets or state is SessionState.CLOSING


def test_a_closed_session_never_comes_back() -> None:
    life = Lifecycle()
    life.move(SessionState.CONNECTING)
    life.move(SessionState.CLOSING)
    life.move(SessionState.CLOSED)
    for target in SessionState:
        if target is not SessionState.CLOSED:
            with pytest.raises(InvalidTransition, match="closed"):
                life.move(target)
    assert life.state is SessionState.CLOSED and life.is_over


def test_refused_moves_name_both_states() -> None:
    life = Lifecycle()
    with pytest.raises(InvalidTransition, match="new to connected"):
        life.move(SessionState.CONNECTED)
    assert life.state is SessionState.NEW


async def test_waiting_for_connected_ends_when_connecting_fails() -> None:
    life = Lifecycle()
    life.move(SessionState.CONNECTING)
    waiter = asyncio.create_task(life.wait_connected(30))
    await asyncio.sleep(0)
    life.move(SessionState.NEW)  # connect() failed
    assert await asyncio.wait_for(waiter, 5) is False


async def test_waiting_for_connected_through_a_reconnect() -> None:
    life = Lifecycle()
    for state in (SessionState.CONNECTING, SessionState.CONNECTED, SessionState.RECONNECTING):
        life.move(state)
    waiter = asyncio.create_task(life.wait_connected(30))
    await asyncio.sleep(0)
    assert not waiter.done()
    life.move(SessionState.CONNECTED)
    assert await asyncio.wait_for(waiter, 5) is True


async def test_waiting_times_out_and_reports_it() -> None:
    life = Lifecycle()
    life.move(SessionState.CONNECTING)
    assert await life.wait_connected(0.01) is False
    assert life.state is SessionState.CONNECTING


async def test_wait_closed() -> None:
    life = Lifecycle()
    waiter = asyncio.create_task(life.wait_closed())
    life.move(SessionState.CLOSING)
    await asyncio.sleep(0)
    assert not waiter.done()
    life.move(SessionState.CLOSED)
    await asyncio.wait_for(waiter, 5)
