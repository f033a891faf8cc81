"""The send side every session of the protocol shares, as an object the session owns (composition).

:class:`ProtocolClient` holds the session's client event ids and its current connection (a transport and
the :class:`~realtime_openai_protocol.ServerEventHandler` of its server events). It sends through the
handler's bookkeeping (so a later ``error`` can be tied to the event that caused it), runs the
``session.update`` handshake of a new connection, defers a ``response.create`` while the server is still
generating (the server refuses a second one), and sends user text and tool results. It knows nothing of a
provider's options: the session hands it the ``session`` object to send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from realtime_core import ConnectionFailedError, SessionCore, ToolResult

from . import client_events as ce
from .handler import ServerEventHandler

__all__ = ["EventSender", "ProtocolClient"]

_T = TypeVar("_T")


class EventSender(Protocol):
    """The part of a connection client events go through (a transport)."""

    async def send(self, event: Mapping[str, Any]) -> None: ...

    async def wait(self, awaitable: Awaitable[_T]) -> _T: ...


class ProtocolClient:
    """The session's send side (see the module docstring). One per session, across its connections.

    :param core: the session's :class:`~realtime_core.SessionCore` (for its tasks and its name).
    """

    def __init__(self, core: SessionCore) -> None:
        self.core = core
        self.ids = ce.EventIds()
        self._sender: EventSender | None = None
        self._handler: ServerEventHandler | None = None

    # ------------------------------------------------------------------ the current connection
    def attach(self, sender: EventSender, handler: ServerEventHandler) -> None:
        """Make ``sender``/``handler`` the connection events go to (after its setup)."""
        self._sender, self._handler = sender, handler

    def detach(self) -> None:
        """There is no connection (closing, or between a drop and the reconnection)."""
        self._sender = None

    @property
    def handler(self) -> ServerEventHandler | None:
        """The handler of the current (or last) connection."""
        return self._handler

    @property
    def server_session(self) -> dict[str, Any]:
        """The session as the server last described it (``session.created`` / ``session.updated``)."""
        return dict(self._handler.server_session) if self._handler else {}

    # ------------------------------------------------------------------ sending
    async def send(self, event: dict[str, Any]) -> None:
        """Send one client event on the current connection.

        :raises ConnectionFailedError: there is no connection.
        """
        sender, handler = self._sender, self._handler
        if sender is None or handler is None:
            raise ConnectionFailedError("not connected", provider=self.core.provider_name)
        await self.send_on(sender, handler, event)

    @staticmethod
    async def send_on(sender: EventSender, handler: ServerEventHandler, event: dict[str, Any]) -> None:
        """Send ``event`` on a given connection (one being set up is not the current one yet)."""
        handler.sent(event)
        await sender.send(event)

    async def set_up(self, sender: EventSender, handler: ServerEventHandler, session: Mapping[str, Any]) -> dict[str, Any]:
        """The setup of a new connection: wait for ``session.created``, send ``session.update`` with
        ``session``, wait for the ``session.updated`` that answers it; return the server's session.

        :raises RealtimeError: the server's error (typed per contract 8.2) or why the connection closed.
        """
        await sender.wait(handler.session_created)
        event_id = self.ids.next()
        updated = handler.expect_update(event_id)
        await self.send_on(sender, handler, ce.session_update(session, event_id))
        return await sender.wait(updated)

    async def request_response(self, response: Mapping[str, Any] | None = None) -> None:
        """Send ``response.create`` now, or once the response the server is generating is done."""
        handler = self._handler
        event = ce.response_create(response, self.ids.next())
        if handler is not None and handler.active_response is not None:
            handler.defer(event)  # the handler asks for it (response_slot_free) when the server is free
            return
        await self.send(event)

    def send_deferred_soon(self) -> None:
        """The server is free: send the ``response.create`` that waited, in a session task
        (what a :class:`~realtime_openai_protocol.ProtocolHost` does in ``response_slot_free``)."""
        self.core.spawn(self._send_deferred(), name=f"{self.core.provider_name}-deferred-response")

    async def _send_deferred(self) -> None:
        handler = self._handler
        if handler is None or handler.active_response is not None:
            return
        event = handler.take_deferred()
        if event is not None:
            await self.send(event)

    # ------------------------------------------------------------------ input
    async def send_user_text(self, text: str) -> None:
        """A user text message, then a request for the reply (contract 4.4: it never interrupts)."""
        await self.send(ce.item_create(ce.message_item("user", text), self.ids.next()))
        await self.request_response()

    async def send_tool_results(self, results: Iterable[ToolResult]) -> None:
        """All results of one batch as ``function_call_output`` items, then one request for the continuation."""
        for result in results:
            await self.send(ce.item_create(ce.function_call_output_item(result.call_id, result.as_json()), self.ids.next()))
        await self.request_response()

    async def cancel_response(self) -> bool:
        """``response.cancel`` for the response being generated, once per response; False if none was sent."""
        handler = self._handler
        rid = handler.claim_cancel() if handler is not None else None
        if rid is None:
            return False
        await self.send(ce.response_cancel(rid, self.ids.next()))
        return True
