"""One client connection of an emulator: its tasks, its inbox, its fault schedule and its hooks.

An emulator subclasses :class:`EmulatorConnection` once per protocol and implements hooks; everything that
is the same in every protocol lives here:

* **tasks**: :meth:`~EmulatorConnection.spawn` owns a task; all of them are cancelled and awaited when the
  connection ends (:meth:`~EmulatorConnection.shutdown`), whoever ends it.
* **the inbox**: :meth:`~EmulatorConnection.run` reads client frames (``receive``), decodes them
  (``decode``), records them, fires per-message faults and hands each to ``handle``, one at a time.
* **turns**: :attr:`~EmulatorConnection.turns`, a :class:`~realtime_core.emulator.TurnPlayer`, plays the
  turn template in a task of its own, calling the turn hooks, so the inbox handles a cancel, a barge-in or
  more audio at once while a reply streams.
* **faults**: timed (``after_ms``), per message (``after_messages``) and per turn (``at_turn`` + ``phase``),
  ``once`` across reconnections, and one dispatch from fault kind to hook (:meth:`apply_fault`).
* **facts and audio counts** the conformance kit reads (:meth:`note`, :meth:`note_config`,
  :meth:`account_audio_in`; reply audio is counted by the turn player).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import math
import time
from collections.abc import Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..audio import PcmData
from .engine import PlannedToolCall, PlannedTurn
from .exceptions import BadMessage, ConnectionGone, TurnAborted
from .facts import session_config
from .faults import hostile_frame
from .scenario import Fault
from .turns import ReplyStream, TurnPlayer, reply_steps

if TYPE_CHECKING:
    from .server import EmulatorServer

__all__ = ["EmulatorConnection"]


class EmulatorConnection[E: EmulatorServer](abc.ABC):
    """Base of an emulator's per-connection object. See the module docstring; the hooks are grouped below.
    ``E`` is the emulator's class (``class AcmeConnection(WebSocketConnection[AcmeEmulator])``), so
    :attr:`emulator` has its type.

    Transport hooks (a transport base such as :class:`~realtime_core.emulator.WebSocketConnection`
    implements them): :meth:`receive`, :meth:`send_frame`, :meth:`close_transport`, :meth:`decode`,
    :meth:`encode`. Protocol hooks (the emulator implements them): :meth:`handle`, :meth:`send_error`, the
    turn hooks (:meth:`send_reply_chunk` at least), and :meth:`expire` / :meth:`go_away` when the protocol has
    them.

    :param emulator: the server (facts, audio counts, the scenario player, the message log).
    :param number: 1 for the first connection, 2 after a reconnect...
    """

    fault_close_code: ClassVar[int] = 1011
    """The close code of a ``close`` fault without a ``code``."""
    close_timeout: ClassVar[float] = 2.0
    """How long a server-side close may wait for the client's part of the handshake."""

    def __init__(self, emulator: E, number: int) -> None:
        self.emulator: E = emulator
        self.player = emulator.player
        self.number = number
        self.opened_at = time.monotonic()
        self.messages = 0
        """Client messages decoded so far (``after_messages`` faults count them)."""
        self.closed = False
        self.closed_by: Literal["client", "server"] | None = None
        self.close_code: int | None = None
        self.output_modality: Literal["audio", "text"] = "audio"
        """Set it from the session's configuration: text replies stream their text only."""
        self.turns = TurnPlayer(self)
        """Plays turns and replies: ``turns.start(turn)``, ``turns.cancel(reason)``, ``turns.barge_in()``..."""
        self.received_config: dict[str, Any] | None = None
        """The last :meth:`note_config`."""
        self.dropped_frames = 0
        """Frames not sent because a ``stall`` fault silenced the server."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._send_lock = asyncio.Lock()
        self._closed_event = asyncio.Event()
        self._hold_until = 0.0
        self._silent_until = 0.0
        self._close_task: asyncio.Task[None] | None = None
        self._shutdown_task: asyncio.Task[None] | None = None

    # ================================================================== transport hooks
    @abc.abstractmethod
    async def receive(self) -> Any | None:
        """The next client frame, or None once the client has gone (set :attr:`close_code` first if known)
        or once :meth:`close_transport` closed the transport."""

    @abc.abstractmethod
    async def send_frame(self, frame: str | bytes) -> None:
        """Write one frame to the client (raise on a dead transport: the framework turns it into ConnectionGone)."""

    @abc.abstractmethod
    async def close_transport(self, code: int | None, reason: str) -> None:
        """Close the transport with ``code`` and ``reason``; ``code`` None: drop it with no close handshake."""

    @abc.abstractmethod
    def decode(self, frame: Any) -> Any:
        """One client frame as a message; raise :class:`BadMessage` for a frame the protocol refuses."""

    def encode(self, event: Any) -> str | bytes:
        """One server event as a frame (default: compact JSON text)."""
        import json

        return json.dumps(event, separators=(",", ":"))

    # ================================================================== protocol hooks
    async def on_open(self) -> None:
        """The connection was accepted (send the protocol's greeting, e.g. ``session.created``)."""

    async def on_closed(self) -> None:
        """The connection ended and its tasks are gone (release protocol state)."""

    @abc.abstractmethod
    async def handle(self, message: Any) -> None:
        """One client message, in order. Be quick: start replies with :meth:`start_turn` /
        :meth:`start_reply` (they play in their own task); never wait for a reply here."""

    @abc.abstractmethod
    async def send_error(self, code: str, message: str) -> None:
        """Send the protocol's error message (for ``error`` faults and :class:`BadMessage`)."""

    def kind_of(self, message: Any) -> str:
        """The message's type name for the message log (default: its ``"type"`` field)."""
        if isinstance(message, dict):
            return str(message.get("type"))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        return type(message).__name__

    def log_message(self, message: Any) -> None:
        """Record a decoded client message on the emulator (override to log a summary, e.g. without audio)."""
        self.emulator.record(self.kind_of(message), message, self.number)

    async def on_bad_message(self, error: BadMessage) -> None:
        """A client message the protocol refuses (default: ``send_error(error.code, error.message)``)."""
        await self.send_error(error.code, error.message)

    def sample_event(self) -> dict[str, Any]:
        """A typical server event of the protocol (reply audio, say): ``malformed`` faults are built from it."""
        return {"type": "event"}

    def new_response_id(self) -> str:
        """The id of a new reply (default: ``resp_000001``, unique in the emulator)."""
        return self.emulator.next_id("resp")

    # ------------------------------------------------------------------ turn hooks (the TurnPlayer calls them)
    async def send_user_transcript(self, turn: PlannedTurn, context: Mapping[str, Any]) -> None:
        """What the model heard (speech turns only; default: nothing, for protocols without user transcripts)."""

    async def reply_started(self, reply: ReplyStream) -> None:
        """The reply begins (``response.created``...)."""

    def plan_steps(self, reply: ReplyStream) -> list[tuple[PcmData | None, list[str]]]:
        """How the reply is cut into steps for :meth:`send_reply_chunk` (default: :func:`reply_steps`, the
        text spread over the audio chunks; audio only when :attr:`output_modality` is ``"audio"``). Override it
        for a protocol with its own segmentation (sentences...) or per-reply modalities (``reply.context``)."""
        return reply_steps(reply.reply, audio=self.output_modality == "audio")

    @abc.abstractmethod
    async def send_reply_chunk(self, reply: ReplyStream, audio: PcmData | None, text: Sequence[str]) -> None:
        """One step of the reply: an audio chunk (None in text replies or past the audio) and the text pieces
        that go with it (the transcript of audio replies, the text of text replies)."""

    async def send_tool_calls(self, reply: ReplyStream, calls: Sequence[PlannedToolCall]) -> None:
        """The reply's tool calls (after its last chunk). Protocols with tools must implement it."""
        raise NotImplementedError(f"{type(self).__name__} has no send_tool_calls(); the scenario calls tools")

    async def reply_finished(self, reply: ReplyStream) -> None:
        """The reply ended: ``reply.status`` is ``completed`` or ``cancelled`` (send ``response.done``...)."""

    async def turn_finished(self, last: ReplyStream) -> None:
        """The whole turn ended normally (after its tool round trip and after-tools reply), before its
        ``after_reply`` faults (e.g. Gemini's ``turnComplete``, Nova's usage)."""

    async def tools_cancelled(self, calls: Sequence[PlannedToolCall]) -> None:
        """A cancel or barge-in gave up waiting for these tool calls' results (e.g. ``toolCallCancellation``)."""

    async def reply_played(self, reply: ReplyStream) -> None:
        """Called before ``after_reply`` faults, *only when some are scripted*: a transport where the reply
        plays out after it was generated (WebRTC) waits here until the playout ended."""

    # ------------------------------------------------------------------ fault hooks
    async def inject_error(self, fault: Fault) -> None:
        """An ``error`` fault (default: ``send_error(code or "server_error", message or "emulated error")``)."""
        await self.send_error(str(fault.code or "server_error"), fault.message or "emulated error")

    async def send_malformed(self, fault: Fault) -> None:
        """A ``malformed`` fault: the hostile frame of ``fault.variant`` built from :meth:`sample_event`
        (in the protocol's frame type: bytes when :meth:`encode` makes bytes)."""
        sample = self.sample_event()
        frame = hostile_frame(fault.variant, sample, size=fault.size)
        if isinstance(frame, str) and isinstance(self.encode(sample), bytes):
            frame = frame.encode()
        await self.send_raw(frame)

    async def expire(self, fault: Fault) -> None:
        """An ``expire`` fault: the session hit its time limit (only protocols with a session limit)."""
        raise NotImplementedError(f"{type(self).__name__} has no expire(); drop 'expire' from fault_kinds")

    async def go_away(self, fault: Fault) -> None:
        """A ``go_away`` fault: the server announces the end of the session (only protocols that do)."""
        raise NotImplementedError(f"{type(self).__name__} has no go_away(); drop 'go_away' from fault_kinds")

    # ================================================================== lifecycle
    async def run(self) -> None:
        """Serve the connection until it ends; then everything it owns is gone. The server awaits this."""
        self.emulator.open_connections[self.number] = self
        try:
            await self.on_open()
            for index, fault in self.player.timed_faults():
                self.spawn(self._timed_fault(index, fault), "timed-fault")
            self.turns.begin()
            while not self.closed:
                frame = await self.receive()
                if frame is None:
                    if not self.closed:
                        self.closed_by = "client"
                        self.note("client_closed", code=self.close_code)
                    break
                with contextlib.suppress(ConnectionGone):
                    await self._inbound(frame)
        except ConnectionGone:
            pass
        except Exception as exc:
            self.emulator.internal_error(self.number, f"the inbox failed: {exc!r}")
            await self.close(1011, "emulator error")
        finally:
            await self.shutdown()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "task") -> asyncio.Task[Any]:
        """Run ``coro`` in a task this connection owns (cancelled and awaited when it ends)."""
        task = asyncio.get_running_loop().create_task(coro, name=f"emulator-{self.emulator.provider}-{self.number}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None or isinstance(exc, ConnectionGone | TurnAborted):
            return
        self.emulator.internal_error(self.number, f"task {task.get_name()} failed: {exc!r}")
        if not self.closed:  # a dead turn loop would leave the client waiting for good: end the connection
            self.spawn(self.close(1011, "emulator error"), "close")

    async def close(self, code: int | None = 1000, reason: str = "") -> None:
        """Close from the server side (``code`` None or 1006: drop the connection without a close frame).
        Idempotent; the close completes even if the caller is cancelled meanwhile."""
        if self._close_task is None:
            if not self.closed:
                self.closed_by = "server"
                self.close_code = code
            self.closed = True
            self._closed_event.set()
            self._close_task = asyncio.get_running_loop().create_task(
                self._close_quietly(None if code == 1006 else code, reason),
                name=f"emulator-{self.emulator.provider}-{self.number}-close",
            )
        await asyncio.shield(self._close_task)

    async def _close_quietly(self, code: int | None, reason: str) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.close_timeout):
                await self.close_transport(code, reason)

    async def shutdown(self) -> None:
        """End every task of this connection and wait for them (idempotent; the server's ``stop`` and the
        end of :meth:`run` call it)."""
        self.closed = True
        self._closed_event.set()
        if self._shutdown_task is None:
            self._shutdown_task = asyncio.get_running_loop().create_task(
                self._shutdown(), name=f"emulator-{self.emulator.provider}-{self.number}-shutdown"
            )
        await asyncio.shield(self._shutdown_task)

    async def _shutdown(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._close_task is not None:
            await asyncio.gather(self._close_task, return_exceptions=True)
        try:
            await self.on_closed()
        finally:
            if self.emulator.open_connections.get(self.number) is self:
                del self.emulator.open_connections[self.number]

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """The tasks this connection owns right now."""
        return frozenset(self._tasks)

    # ================================================================== the inbox
    async def _inbound(self, frame: Any) -> None:
        try:
            message = self.decode(frame)
        except BadMessage as exc:
            await self.on_bad_message(exc)
            return
        self.messages += 1
        self.log_message(message)
        for fault in self.player.faults_for_message(self.messages):
            with contextlib.suppress(TurnAborted):
                await self.apply_fault(fault)
        if self.closed:
            return
        try:
            await self.handle(message)
        except BadMessage as exc:
            await self.on_bad_message(exc)

    # ================================================================== sending
    async def send(self, event: Any) -> None:
        """Encode and send one server event, in order with every other frame and through the ``delay`` /
        ``stall`` faults. :raises ConnectionGone: once the connection is closed (or its transport died)."""
        await self._write(self.encode(event), event)

    async def send_raw(self, frame: str | bytes) -> None:
        """Send a frame as is (hostile frames; protocols that encode by hand)."""
        await self._write(frame, frame)

    @property
    def silenced(self) -> bool:
        """Whether a ``stall`` fault keeps the server quiet right now."""
        return time.monotonic() < self._silent_until

    async def _write(self, frame: str | bytes, logged: Any) -> None:
        if self.closed:
            raise ConnectionGone
        async with self._send_lock:
            hold = self._hold_until - time.monotonic()
            if hold > 0:  # a delay fault: wait it out, unless the connection closes meanwhile
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(hold):
                        await self._closed_event.wait()
            if self.closed:
                raise ConnectionGone
            if self.silenced:
                self.dropped_frames += 1
                return
            try:
                await self.send_frame(frame)
            except Exception as exc:
                raise ConnectionGone from exc
        self.emulator.log_sent(self.number, logged)

    # ================================================================== facts
    def note(self, name: str, **data: Any) -> None:
        """Note a protocol-neutral fact (see :data:`~realtime_core.emulator.FACTS`) on this connection."""
        self.emulator.note(name, self.number, **data)

    def note_config(self, **fields: Any) -> None:
        """Note the configuration received, normalised (``session_configured``): pass every
        :data:`~realtime_core.emulator.CONFIG_FIELDS` the protocol carries, after each change, in full."""
        self.received_config = session_config(**fields)
        self.note("session_configured", **self.received_config)

    def account_audio_in(self, pcm: PcmData) -> None:
        """Count user audio as it arrived on the wire (before any resampling)."""
        self.emulator.account_audio_in(self.number, pcm)

    # ================================================================== faults
    async def apply_fault(self, fault: Fault) -> None:
        """Inject ``fault`` now: the one mapping from a fault kind to its hook."""
        self.emulator.record("emulator.fault", fault.model_dump(exclude_defaults=True), self.number)
        match fault.kind:
            case "close":
                await self.close(_close_code(fault.code, self.fault_close_code), fault.message or "emulated failure")
            case "error":
                await self.inject_error(fault)
            case "malformed":
                await self.send_malformed(fault)
            case "delay":
                self._hold_until = max(self._hold_until, time.monotonic() + fault.delay_ms / 1000)
            case "stall":
                self._silent_until = time.monotonic() + fault.delay_ms / 1000 if fault.delay_ms else math.inf
            case "expire":
                await self.expire(fault)
            case "go_away":
                await self.go_away(fault)

    async def _timed_fault(self, index: int, fault: Fault) -> None:
        wait = (fault.after_ms or 0) / 1000 - (time.monotonic() - self.opened_at)
        if wait > 0:
            await asyncio.sleep(wait)
        if not self.closed and self.player.take_timed(index):
            with contextlib.suppress(TurnAborted):
                await self.apply_fault(fault)

    def close_after(self, seconds: float, code: int | None, reason: str) -> None:
        """Close ``seconds`` from now, in a task this connection owns (an expiry, the end of a grace period)."""
        self.spawn(self._close_after(seconds, code, reason), "close-after")

    async def _close_after(self, seconds: float, code: int | None, reason: str) -> None:
        await asyncio.sleep(seconds)
        await self.close(code, reason)

def _close_code(code: int | str | None, default: int) -> int | None:
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return default
