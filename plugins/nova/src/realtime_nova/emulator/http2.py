"""HTTP/2 server plumbing for the emulator: one :class:`H2ServerConnection` per TLS connection.

It runs the sans-IO ``h2`` state machine on asyncio streams, hands each request to a handler, and
sends response data within the client's flow-control windows. Several requests (Nova streams) share a
connection: the AWS CRT client multiplexes every stream of a client on one connection, including the
old and the new stream during a renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import H2Error
from h2.stream import StreamState

__all__ = ["H2ServerConnection", "StreamHandler"]

log = logging.getLogger("realtime_nova.emulator.http2")


class _NoCredentials(logging.Filter):
    """hpack logs every header it decodes at DEBUG, the SigV4 Authorization and session-token headers
    included: keep those records out of the logs (credentials appear in no log, server side included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            return True
        return "authorization" not in text and "x-amz-security-token" not in text


def hide_credentials_from_hpack() -> None:
    logger = logging.getLogger("hpack.hpack")
    if not any(isinstance(f, _NoCredentials) for f in logger.filters):
        logger.addFilter(_NoCredentials())


class StreamHandler(Protocol):
    """What a request handler implements (all called on the event loop, never blocking)."""

    def on_data(self, data: bytes) -> None: ...

    def on_input_end(self) -> None: ...

    def on_reset(self) -> None: ...

    def on_connection_lost(self) -> None: ...


HandlerFactory = Callable[["H2ServerConnection", int, dict[str, str]], StreamHandler | None]


class H2ServerConnection:
    """Serves one client connection until it closes."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, factory: HandlerFactory, *, number: int = 0
    ) -> None:
        hide_credentials_from_hpack()
        self.number = number
        """Which TLS connection of the emulator this is (1 for the first)."""
        self._reader = reader
        self._writer = writer
        self._factory = factory
        self._h2 = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        self._handlers: dict[int, StreamHandler] = {}
        self._window_changed = asyncio.Event()
        self.closed = False

    # ------------------------------------------------------------------ the read loop
    async def serve(self) -> None:
        self._h2.initiate_connection()
        self._flush()
        try:
            while not self.closed:
                data = await self._reader.read(65536)
                if not data:
                    break
                try:
                    events = self._h2.receive_data(data)
                except H2Error as exc:
                    log.debug("HTTP/2 protocol error from the client: %r", exc)
                    self._flush()
                    break
                for event in events:
                    self._dispatch(event)
                self._flush()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed = True
            self._window_changed.set()
            for handler in list(self._handlers.values()):
                handler.on_connection_lost()
            self._handlers.clear()
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()

    def _dispatch(self, event: object) -> None:
        if isinstance(event, RequestReceived):
            headers = {name: value for name, value in event.headers}  # type: ignore[misc]
            handler = self._factory(self, event.stream_id, headers)  # type: ignore[arg-type]
            if handler is not None:
                self._handlers[event.stream_id] = handler
            if event.stream_ended is not None:
                self._end_input(event.stream_id)
        elif isinstance(event, DataReceived):
            stream_id = event.stream_id
            # Hand the window back right away so the client never stalls on audio.
            with contextlib.suppress(H2Error):
                self._h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
            handler = self._handlers.get(stream_id)
            if handler is not None and event.data:
                handler.on_data(event.data)
            if event.stream_ended is not None:
                self._end_input(stream_id)
        elif isinstance(event, StreamEnded):
            self._end_input(event.stream_id)
        elif isinstance(event, StreamReset):
            handler = self._handlers.pop(event.stream_id, None)
            if handler is not None:
                handler.on_reset()
            self._window_changed.set()
        elif isinstance(event, (WindowUpdated, RemoteSettingsChanged)):
            self._window_changed.set()
        elif isinstance(event, ConnectionTerminated):
            self.closed = True

    def _end_input(self, stream_id: int) -> None:
        handler = self._handlers.get(stream_id)
        if handler is not None:
            handler.on_input_end()

    # ------------------------------------------------------------------ sending
    def _flush(self) -> None:
        data = self._h2.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(data)

    def stream_open(self, stream_id: int) -> bool:
        if self.closed:
            return False
        try:
            state = self._h2.streams[stream_id].state_machine.state
        except KeyError:
            return False
        return state in (StreamState.OPEN, StreamState.HALF_CLOSED_REMOTE)

    def send_headers(self, stream_id: int, headers: list[tuple[str, str]], *, end_stream: bool = False) -> bool:
        if not self.stream_open(stream_id):
            return False
        try:
            self._h2.send_headers(stream_id, headers, end_stream=end_stream)
        except H2Error as exc:
            log.debug("send_headers on stream %d failed: %r", stream_id, exc)
            return False
        self._flush()
        return True

    async def send_data(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> bool:
        """Send ``data`` within the flow-control windows; False if the stream or connection went away."""
        view = memoryview(data)
        while True:
            if not self.stream_open(stream_id):
                return False
            try:
                window = self._h2.local_flow_control_window(stream_id)
            except H2Error:
                return False
            if not view:
                if end_stream:
                    with contextlib.suppress(H2Error):
                        self._h2.end_stream(stream_id)
                    self._flush()
                return True
            size = min(window, self._h2.max_outbound_frame_size, len(view))
            if size <= 0:
                self._window_changed.clear()
                await self._window_changed.wait()
                continue
            try:
                self._h2.send_data(stream_id, bytes(view[:size]), end_stream=end_stream and size == len(view))
            except H2Error as exc:
                log.debug("send_data on stream %d failed: %r", stream_id, exc)
                return False
            view = view[size:]
            self._flush()
            if end_stream and not view:
                return True
            if self._writer.transport.get_write_buffer_size() > 1 << 20:
                await self._writer.drain()  # a slow reader: do not buffer without bound

    def end_stream(self, stream_id: int) -> None:
        if self.stream_open(stream_id):
            with contextlib.suppress(H2Error):
                self._h2.end_stream(stream_id)
            self._flush()

    def reset(self, stream_id: int, code: int = ErrorCodes.INTERNAL_ERROR) -> None:
        self._handlers.pop(stream_id, None)
        with contextlib.suppress(H2Error, KeyError):
            self._h2.reset_stream(stream_id, error_code=code)
        self._flush()
        self._window_changed.set()

    def forget(self, stream_id: int) -> None:
        """The handler is done: late DATA for this stream is acknowledged and dropped."""
        self._handlers.pop(stream_id, None)

    def go_away(self) -> None:
        """Send GOAWAY (NO_ERROR): streams in flight continue, new ones must use a new connection."""
        with contextlib.suppress(H2Error):
            self._h2.close_connection(error_code=ErrorCodes.NO_ERROR)
        self._flush()

    def abort(self) -> None:
        """Drop the TCP connection without a word."""
        self.closed = True
        transport = self._writer.transport
        if transport is not None:
            transport.abort()
