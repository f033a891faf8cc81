"""One live Bedrock stream: Nova event bytes out (signed by the SDK, in order), Nova events in, and the
checks that notice a dead network path.

* **Sends** are serialised (the SigV4 event-signature chain needs the order kept; a text or tool block
  must not be split by audio) and each is bounded by ``core.liveness_timeout``: once HTTP/2 flow control
  stops because the server's window updates no longer arrive, a send blocks, and a send that cannot
  finish means the path is dead.
* **Receives** run in a loop that hands every decoded event to an :class:`EventSink`. awscrt completes
  its futures from its native thread and raises (unraisably) if one was cancelled, so a receive in flight
  is never cancelled: it is shielded and ends with the stream.
* **Liveness**: awscrt exposes no HTTP/2 PING, so while nothing arrives the stream asks the client for a
  probe (:meth:`~realtime_nova.client.NovaClient.probe`, a small request on the same HTTP/2 connection);
  no answer within half the liveness timeout ends the stream. Together: a dead path is noticed within
  ``liveness_timeout``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from realtime_core import SessionCore
from realtime_core.errors import ConnectionFailedError, ProtocolError, RealtimeError

from . import protocol
from .client import Sdk
from .errors import PROVIDER, StreamFault, map_error

if TYPE_CHECKING:
    from .handler import NovaHandler

__all__ = ["EventSink", "NovaStream", "Prompt", "first_error"]

log = logging.getLogger("realtime_nova.transport")


class EventSink(Protocol):
    """What reads a stream: the per-stream handler (:class:`~realtime_nova.handler.NovaHandler`)."""

    def handle(self, name: str, body: dict[str, Any]) -> None:
        """One output event (``completionStart``, ``contentStart``...) with its body."""

    def fault(self, error: RealtimeError) -> None:
        """The service reported an error on a stream that goes on (an exception event), or sent an event
        this client cannot read."""

    def ended(self, error: RealtimeError | None) -> None:
        """The stream ended (``error`` None: the service ended it normally). Called once."""


Probe = Callable[[], Awaitable[None]]


class NovaStream:
    """One ``InvokeModelWithBidirectionalStream`` call (see the module docstring).

    :param sdk: the loaded SDK (its model classes).
    :param duplex: the SDK's duplex stream.
    :param core: the session's core (its task set, its timeouts, error events).
    :param probe: asks the service for any answer on this stream's connection.
    """

    def __init__(self, sdk: Sdk, duplex: Any, core: SessionCore, *, probe: Probe | None = None) -> None:
        self._sdk = sdk
        self._duplex = duplex
        self._publisher = duplex.input_stream
        self._core = core
        self._probe = probe
        self._receiver: Any = None
        self._pending_receive: asyncio.Future[Any] | None = None
        self._shielded: set[asyncio.Future[Any]] = set()
        self._lock = asyncio.Lock()
        self._sink: EventSink | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.opened_at = time.monotonic()
        self.last_activity = self.opened_at
        """When the service last showed the path works (an event, a probe's answer)."""
        self.input_closed = False
        self.dead = False
        self.finished = asyncio.Event()
        """Set once the stream ended (the service ended it, it broke, or it was given up)."""

    @property
    def liveness_timeout(self) -> float:
        return self._core.liveness_timeout

    # ================================================================== sending
    async def send(self, *payloads: bytes) -> None:
        """Send Nova events, in order and together (no other send goes between them).

        :raises ConnectionFailedError: the stream is closed, broke, or did not take the events within
            ``liveness_timeout`` (the stream is then given up).
        """
        if self.dead or self.input_closed:
            raise ConnectionFailedError("the Nova stream is closed", provider=PROVIDER)
        sdk = self._sdk
        limit = self.liveness_timeout
        try:
            async with asyncio.timeout(limit), self._lock:
                for payload in payloads:
                    if self.dead:
                        raise ConnectionFailedError("the Nova stream ended", provider=PROVIDER)
                    await self._publisher.send(sdk.InputChunk(value=sdk.InputPart(bytes_=payload)))
        except TimeoutError:
            error = ConnectionFailedError(
                f"a send to Nova did not complete within {limit:g} s: the network path is dead", provider=PROVIDER
            )
            self.fail(error)
            raise error from None
        except ConnectionFailedError:
            raise
        except Exception as exc:
            error = ConnectionFailedError(f"could not send to Nova: {map_error(exc).message}", provider=PROVIDER)
            self.fail(error)
            raise error from None

    async def close_input(self, *, timeout: float = 2.0) -> None:
        """Send the signed end frame and half-close the request (tolerates a dead stream)."""
        if self.input_closed:
            return
        self.input_closed = True
        try:
            async with asyncio.timeout(timeout), self._lock:
                await self._publisher.close()
        except Exception as exc:  # a dead stream stops draining the SDK's buffer: do not wait on it
            log.debug("closing the Nova input stream: %r", exc)
            await self._drop_body()

    # ================================================================== receiving
    async def await_output(self) -> None:
        """Wait for the response headers (pre-stream HTTP errors are raised here)."""
        try:
            _, self._receiver = await self._duplex.await_output()
        except Exception as exc:
            raise map_error(exc, during="connect") from None

    def start(self, sink: EventSink) -> None:
        """Run the receive loop (and the liveness watchdog) in session tasks, events to ``sink``."""
        self._sink = sink
        self._tasks.append(self._core.spawn(self._receive_loop(), name="nova-receive", report_errors=False))
        if self._probe is not None:
            self._tasks.append(self._core.spawn(self._watchdog(), name="nova-liveness", report_errors=False))

    async def _receive(self) -> bytes | str | None:
        """The next event's JSON bytes, the name of an output member this SDK does not know, or None at
        the end of the stream."""
        receiver = self._receiver
        if receiver is None:
            await self.await_output()
            receiver = self._receiver
        pending = self._pending_receive
        if pending is None:
            pending = self._pending_receive = asyncio.ensure_future(receiver.receive())
            self._shielded.add(pending)
            pending.add_done_callback(self._consume)
        try:
            event = await asyncio.shield(pending)
        except self._sdk.in_stream_errors as exc:
            raise StreamFault(map_error(exc)) from None
        except (asyncio.CancelledError, RealtimeError):
            raise
        except Exception as exc:
            raise map_error(exc) from None
        finally:
            if pending.done():
                self._pending_receive = None
        if event is None:
            return None
        self.last_activity = time.monotonic()
        if isinstance(event, self._sdk.OutputChunk):
            return event.value.bytes_ or b""
        return str(getattr(event, "tag", type(event).__name__))

    def _consume(self, future: asyncio.Future[Any]) -> None:
        # a receive nobody waits for any more (the stream was given up) must not log "never retrieved"
        self._shielded.discard(future)
        if not future.cancelled():
            future.exception()

    async def _receive_loop(self) -> None:
        sink = self._sink
        assert sink is not None
        error: RealtimeError | None = None
        try:
            while not self.dead:
                try:
                    item = await self._receive()
                except StreamFault as fault:  # an exception event: reported; the stream may go on
                    error = fault.error
                    sink.fault(fault.error)
                    continue
                except RealtimeError as exc:  # the stream broke
                    error = exc
                    break
                if item is None:
                    break
                if isinstance(item, str):
                    sink.fault(ProtocolError(f"unknown output event {item!r}", provider=PROVIDER))
                    continue
                parsed = _parse(item)
                if isinstance(parsed, RealtimeError):
                    sink.fault(parsed)
                    continue
                try:
                    sink.handle(*parsed)
                except RealtimeError as exc:
                    sink.fault(exc)
                except Exception as exc:
                    log.debug("nova: could not handle %s", parsed[0], exc_info=True)
                    sink.fault(ProtocolError(f"could not handle {parsed[0]}: {type(exc).__name__}", provider=PROVIDER))
        finally:
            self._end(error)

    def fail(self, error: RealtimeError) -> None:
        """Give the stream up: the sink hears ``error``, the SDK stream is released in the background."""
        if self.dead:
            return
        self._end(error)
        self._core.spawn(self.abort(), name="nova-abort", report_errors=False)

    def _end(self, error: RealtimeError | None) -> None:
        if self.dead:
            return
        self.dead = True
        self.finished.set()
        sink = self._sink
        if sink is not None:
            sink.ended(error)

    # ================================================================== liveness
    async def _watchdog(self) -> None:
        """While nothing arrives, probe; no answer within half the liveness timeout: the path is dead."""
        probe = self._probe
        assert probe is not None
        limit = self.liveness_timeout
        tick = limit / 4
        while not self.dead:
            await asyncio.sleep(tick)
            if self.dead or time.monotonic() - self.last_activity < tick:
                continue
            attempt = asyncio.ensure_future(probe())
            self._shielded.add(attempt)
            attempt.add_done_callback(self._consume)
            try:
                async with asyncio.timeout(limit / 2):
                    await asyncio.shield(attempt)
            except TimeoutError:
                self.fail(
                    ConnectionFailedError(
                        f"Bedrock did not answer within {limit / 2:g} s: the network path is dead", provider=PROVIDER
                    )
                )
                return
            except RealtimeError as exc:
                self.fail(ConnectionFailedError(f"liveness probe failed: {exc.message}", provider=PROVIDER))
                return
            self.last_activity = time.monotonic()

    # ================================================================== releasing
    async def abort(self) -> None:
        """Stop reading and writing; unsent input is dropped."""
        self.input_closed = True
        if not self.dead:
            self._end(None)
        await self._drop_body()
        receiver = self._receiver
        if receiver is not None:
            try:
                await receiver.close()
            except Exception as exc:
                log.debug("closing the Nova output stream: %r", exc)
        for task in self._tasks:
            if task is not asyncio.current_task() and not task.done():
                task.cancel()

    async def released(self, timeout: float) -> None:
        """Wait (bounded) for the SDK calls in flight to end; they end once the stream or the client is
        closed. Any still running then are cancelled."""
        pending = [f for f in self._shielded if not f.done()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=timeout)
            for future in still:
                future.cancel()

    async def _drop_body(self) -> None:
        # The SDK's publisher closes its body buffer only after flushing it, which never happens once the
        # HTTP/2 stream is gone; close the buffer without flushing so awscrt's body writer ends.
        body = getattr(self._publisher, "_writer", None)
        close = getattr(body, "close", None)
        if close is None:
            return
        try:
            result = close(flush=False)
            if asyncio.iscoroutine(result):
                await result
        except Exception as exc:
            log.debug("dropping the Nova request body: %r", exc)


def _parse(data: bytes) -> tuple[str, dict[str, Any]] | RealtimeError:
    """``{"event": {name: body}}`` as ``(name, body)``, or the error for a malformed one."""
    try:
        doc = json.loads(data)
        ((name, body),) = doc["event"].items()
        if not isinstance(name, str) or not isinstance(body, dict):
            raise TypeError("event body is not an object")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        return ProtocolError(f"malformed Nova event: {type(exc).__name__}", provider=PROVIDER)
    return name, body  # pyright: ignore[reportUnknownVariableType]


@dataclass(eq=False)
class Prompt:
    """One open stream of a session: its transport, its handler (the session's to make) and its prompt's
    names."""

    stream: NovaStream
    handler: NovaHandler
    prompt_name: str = field(default_factory=lambda: str(uuid.uuid4()))
    audio_content: str = field(default_factory=lambda: str(uuid.uuid4()))
    encoder: protocol.AudioEventEncoder = field(init=False)
    ending: bool = False  # contentEnd/promptEnd/sessionEnd sent or being sent: no more input

    def __post_init__(self) -> None:
        self.encoder = protocol.AudioEventEncoder(self.prompt_name, self.audio_content)

    @property
    def open(self) -> bool:
        return not self.ending and not self.stream.dead


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to raise from a failed setup: a typed error first (a TLS verdict, an HTTP error), else the
    first one."""
    leaves: list[BaseException] = []

    def walk(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                walk(inner)
        else:
            leaves.append(error)

    walk(group)
    for error in leaves:
        if isinstance(error, RealtimeError) and not error.recoverable:
            return error
    for error in leaves:
        if isinstance(error, RealtimeError):
            return error
    return leaves[0]
