"""realtime-openai 0.2's session base, kept for realtime-qwen 0.2 only (see :mod:`realtime_openai.compat`).

What every session speaking the OpenAI-style realtime event protocol did the same way, in any dialect.

:class:`DialectSession` is the base of :class:`~realtime_openai.OpenAIRealtime` (GA) and of sessions that
reuse this plugin's protocol layer with another :class:`~realtime_openai.dialect.Dialect` (realtime-qwen's
``QwenRealtime``): client event ids, sending through the connection's
:class:`~realtime_openai.handler.ServerEventHandler` (which remembers what was sent, to correlate a later
``error``), the ``session.update`` handshake, a ``response.create`` deferred while the server is still
generating a response, text input and tool results.

It holds neither a transport nor a configuration: a subclass says which connection is current
(:meth:`DialectSession._event_sender`) and what its ``session`` object is (:meth:`DialectSession.build_session`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, Protocol

from realtime_core import ConnectionFailedError, Realtime, ToolResult

from .. import protocol as p
from .handler import ServerEventHandler

__all__ = ["DialectSession", "EventSender"]


class EventSender(Protocol):
    """The part of a connection :class:`DialectSession` sends client events through."""

    async def send(self, event: Mapping[str, Any]) -> None: ...


class DialectSession[H: ServerEventHandler](Realtime):
    """A :class:`~realtime_core.Realtime` session over the OpenAI-style event protocol (see the module
    docstring). ``H`` is the type of the per-connection event handler the subclass uses.

    :ivar _handler: the event handler of the current connection (None before the first connection).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ids = p.EventIds()
        self._handler: H | None = None

    # ------------------------------------------------------------------ what a subclass provides
    @abc.abstractmethod
    def build_session(self) -> dict[str, Any]:
        """The ``session`` object sent in ``session.update`` (at every connection)."""

    @abc.abstractmethod
    def _event_sender(self) -> EventSender | None:
        """The current connection's transport, or None while there is none."""

    # ------------------------------------------------------------------ state
    @property
    def server_session(self) -> dict[str, Any]:
        """The session as the server last described it (``session.created`` / ``session.updated``)."""
        return dict(self._handler.server_session) if self._handler else {}

    # ------------------------------------------------------------------ sending
    async def _send(self, event: dict[str, Any]) -> None:
        """Send one client event on the current connection.

        :raises ConnectionFailedError: there is no connection.
        """
        sender, handler = self._event_sender(), self._handler
        if sender is None or handler is None:
            raise ConnectionFailedError("not connected", provider=self.provider_name)
        await self._send_on(sender, handler, event)

    @staticmethod
    async def _send_on(sender: EventSender, handler: ServerEventHandler, event: dict[str, Any]) -> None:
        """Send ``event`` on a given connection (one being set up is not the current one yet)."""
        handler.sent(event)
        await sender.send(event)

    async def _send_session_update(self, sender: EventSender, handler: ServerEventHandler) -> None:
        """The setup of a new connection: wait for ``session.created``, send ``session.update`` with
        :meth:`build_session`, wait for the ``session.updated`` that answers it (the handler fails these
        waits with the server's error or the close)."""
        await handler.session_created
        event_id = self._ids.next()
        updated = handler.expect_update(event_id)
        await self._send_on(sender, handler, p.session_update(self.build_session(), event_id))
        await updated

    async def _request_response(self, response: Mapping[str, Any] | None = None) -> None:
        """Send ``response.create`` now, or once the response the server is generating is done."""
        handler = self._handler
        event = p.response_create(response, self._ids.next())
        if handler is not None and handler.active_response is not None:
            # the server refuses a second response while one is active; the handler asks for this one
            # (through _send_deferred_soon) when response.done arrives
            handler.deferred.append(event)
            return
        await self._send(event)

    def _send_deferred_soon(self) -> None:
        """Called by the handler when the active response ended and a ``response.create`` waits."""
        self._core.spawn(self._send_deferred(), name=f"{self.provider_name}-deferred-response")

    async def _send_deferred(self) -> None:
        handler = self._handler
        if handler is None or handler.active_response is not None:
            return
        event = handler.take_deferred()
        if event is not None:
            await self._send(event)

    # ------------------------------------------------------------------ input
    async def simple_response(self, text: str) -> None:
        await self._send(p.item_create(p.message_item("user", text), self._ids.next()))
        await self._request_response()

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        for result in results:
            await self._send(p.item_create(p.function_call_output_item(result.call_id, result.as_json()), self._ids.next()))
        await self._request_response()
