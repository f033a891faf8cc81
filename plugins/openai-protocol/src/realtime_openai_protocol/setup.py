"""What one connection's setup waits for: ``session.created``, the ``session.updated`` answering our
``session.update``, and the items of a history replay. The handler feeds it server events; an error or the
end of the connection fails what is still awaited (connect() then raises it)."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["SetupWaits"]


class SetupWaits:
    """The futures of one connection's setup (see the module docstring).

    :ivar session_created: resolved with the server's session by ``session.created``.
    :ivar server_session: the session as the server last described it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.session_created: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.server_session: dict[str, Any] = {}
        self._update: tuple[str, asyncio.Future[dict[str, Any]]] | None = None
        self._items: dict[str, asyncio.Future[None]] = {}
        self._item_events: dict[str, str] = {}

    # ------------------------------------------------------------------ what is awaited
    def expect_update(self, event_id: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the ``session.updated`` answering the ``session.update`` sent with ``event_id``."""
        fut: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._update = (event_id, fut)
        return fut

    def expect_item(self, item_id: str, event_id: str) -> asyncio.Future[None]:
        """A future resolved when the item ``item_id`` was added (or failed with the error of ``event_id``)."""
        fut: asyncio.Future[None] = self._loop.create_future()
        self._items[item_id] = fut
        self._item_events[event_id] = item_id
        return fut

    @property
    def waiting(self) -> bool:
        return not self.session_created.done() or self._update is not None or bool(self._items)

    # ------------------------------------------------------------------ what the server says
    def created(self, msg: dict[str, Any]) -> None:
        self.server_session = msg.get("session") or {}
        if not self.session_created.done():
            self.session_created.set_result(self.server_session)

    def updated(self, msg: dict[str, Any]) -> None:
        self.server_session = msg.get("session") or {}
        pending, self._update = self._update, None
        if pending is not None and not pending[1].done():
            pending[1].set_result(self.server_session)

    def item_added(self, msg: dict[str, Any]) -> None:
        item_id = (msg.get("item") or {}).get("id")
        fut = self._items.pop(item_id, None) if item_id else None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def update_failed(self, event_id: str | None, error: BaseException, *, ready: bool) -> bool:
        """An ``error`` that answers the pending ``session.update`` (it names it, or the connection is not
        handed over yet): fail that wait. False if no update waits."""
        if self._update is None or not (event_id == self._update[0] or not ready):
            return False
        _, fut = self._update
        self._update = None
        if not fut.done():
            fut.set_exception(error)
        return True

    def item_failed(self, event_id: str | None, error: BaseException) -> bool:
        """An ``error`` naming the event that created an awaited item: fail that item's wait."""
        item_id = self._item_events.pop(event_id, None) if event_id else None
        fut = self._items.pop(item_id, None) if item_id is not None else None
        if fut is None or fut.done():
            return False
        fut.set_exception(error)
        return True

    def fail(self, error: BaseException) -> None:
        """Fail everything still awaited (the connection ended, or an error came before any answer)."""
        futures: list[asyncio.Future[Any]] = [self.session_created, *self._items.values()]
        if self._update is not None:
            futures.append(self._update[1])
        for fut in futures:
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # mark retrieved: nobody may be waiting on every one of them
        self._items.clear()
        self._update = None
