"""The transport half of an :class:`EmulatorConnection` for JSON over an aiohttp WebSocket."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from .connection import EmulatorConnection
from .exceptions import BadMessage

if TYPE_CHECKING:
    from aiohttp import web

    from .server import EmulatorServer

__all__ = ["WebSocketConnection"]


class WebSocketConnection[E: EmulatorServer](EmulatorConnection[E]):
    """An :class:`EmulatorConnection` whose frames are JSON objects in WebSocket text (or binary) frames.

    Made by :meth:`WebEmulator.serve_websocket <realtime_core.emulator.WebEmulator.serve_websocket>`; a
    protocol subclasses it and implements ``handle``, ``send_error`` and the turn hooks.

    :ivar request: the upgrade request (headers, query, the TCP transport).
    :ivar ws: the server side of the WebSocket.
    """

    def __init__(self, emulator: E, request: web.Request, ws: web.WebSocketResponse, number: int) -> None:
        super().__init__(emulator, number)
        self.request = request
        self.ws = ws

    async def receive(self) -> Any | None:
        from aiohttp import WSMsgType

        msg = await self.ws.receive()
        if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
            return msg.data
        if msg.type is WSMsgType.CLOSE:
            self.close_code = int(msg.data) if isinstance(msg.data, int) else None
        return None

    async def send_frame(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def close_transport(self, code: int | None, reason: str) -> None:
        if code is None:  # drop: the client sees the TCP connection end without a close frame (1006)
            transport = self.request.transport
            if transport is not None:
                transport.abort()
            return
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode("utf-8")[:123])

    def decode(self, frame: Any) -> Any:
        """A JSON object; :class:`BadMessage` (``invalid_json``) for anything else, including frames nested
        too deeply to parse."""
        try:
            message = json.loads(frame)
        except (ValueError, RecursionError):
            raise BadMessage("invalid_json", "the frame is not valid JSON") from None
        if not isinstance(message, dict):
            raise BadMessage("invalid_json", "the frame is not a JSON object")
        return message  # pyright: ignore[reportUnknownVariableType]
