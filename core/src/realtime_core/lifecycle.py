"""The session's state machine: every state, every allowed transition, in one table.

A session is ``new`` until ``connect()``; ``connecting`` until the provider is ready; ``connected`` while
audio can flow; ``reconnecting`` while core replaces a lost (or expiring) connection; ``failed`` when the
connection is gone for good (the app should close the session); ``closing`` then ``closed`` after
``close()``. Any move not in :data:`TRANSITIONS` is a bug in core or a plugin and raises
:class:`InvalidTransition` instead of leaving the session in a state that lies.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping

__all__ = ["TRANSITIONS", "InvalidTransition", "Lifecycle", "SessionState"]


class SessionState(enum.StrEnum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


_S = SessionState
TRANSITIONS: Mapping[SessionState, frozenset[SessionState]] = {
    _S.NEW: frozenset({_S.CONNECTING, _S.CLOSING}),
    # back to NEW when connect() fails: the app may call connect() again
    _S.CONNECTING: frozenset({_S.CONNECTED, _S.NEW, _S.CLOSING}),
    _S.CONNECTED: frozenset({_S.RECONNECTING, _S.FAILED, _S.CLOSING}),
    _S.RECONNECTING: frozenset({_S.CONNECTED, _S.FAILED, _S.CLOSING}),
    _S.FAILED: frozenset({_S.CLOSING}),
    _S.CLOSING: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}
"""``state -> states it may move to``. ``closed`` is final."""


class InvalidTransition(RuntimeError):
    """A move the state table does not allow (a bug: report it)."""


class Lifecycle:
    """The current :class:`SessionState` plus what has been announced to the app.

    :ivar connected_announced: a :class:`~realtime_core.RealtimeConnectedEvent` went out for this
        ``connect()``.
    :ivar disconnected_announced: the final :class:`~realtime_core.RealtimeDisconnectedEvent` went out.
    """

    def __init__(self) -> None:
        self._state = SessionState.NEW
        self._changed = asyncio.Event()  # replaced at every move: waiters see each transition
        self._closed = asyncio.Event()
        self.connected_announced = False
        self.disconnected_announced = False

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def is_connected(self) -> bool:
        return self._state is SessionState.CONNECTED

    @property
    def is_live(self) -> bool:
        """Connected, or reconnecting (input is buffered): the session can take audio."""
        return self._state is SessionState.CONNECTED or self._state is SessionState.RECONNECTING

    @property
    def is_over(self) -> bool:
        """Closing, closed or failed: the session will never carry audio again."""
        return self._state in (SessionState.CLOSING, SessionState.CLOSED, SessionState.FAILED)

    def can_move(self, to: SessionState) -> bool:
        return to in TRANSITIONS[self._state]

    def move(self, to: SessionState) -> None:
        """Change state; raises :class:`InvalidTransition` for a move the table does not allow."""
        if to is self._state:
            return
        if to not in TRANSITIONS[self._state]:
            raise InvalidTransition(f"a session cannot go from {self._state.value} to {to.value}")
        self._state = to
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        if to is SessionState.CLOSED:
            self._closed.set()

    async def wait_connected(self, timeout: float) -> bool:
        """Wait while connecting or reconnecting; True once connected, False if the wait timed out or
        the session ended up anywhere else (connect failed, reconnection failed, closed)."""
        try:
            async with asyncio.timeout(timeout):
                while self._state is SessionState.CONNECTING or self._state is SessionState.RECONNECTING:
                    await self._changed.wait()
        except TimeoutError:
            return False
        return self._state is SessionState.CONNECTED

    async def wait_closed(self) -> None:
        await self._closed.wait()
