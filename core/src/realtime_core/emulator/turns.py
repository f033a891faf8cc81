"""The turn template: a connection's turns and replies, played one at a time in a task of their own.

A :class:`TurnPlayer` belongs to one :class:`~realtime_core.emulator.EmulatorConnection` (its ``turns``)
and plays what the connection's handlers queue: faults ``before_reply`` → ``send_user_transcript`` → the
reply (after the latency profile's delay: ``reply_started``, the steps through ``send_reply_chunk`` with
``mid_reply`` faults after the middle one, ``send_tool_calls``, ``reply_finished``) → faults
``awaiting_tools`` → wait for :meth:`TurnPlayer.resume_after_tools` → the after-tools reply →
``turn_finished`` → faults ``after_reply``. Because it runs beside the connection's inbox, a cancel or a
barge-in is handled while a reply streams; nothing waits unless the latency profile, a ``delay`` fault or a
scripted ``after_reply`` fault asks for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..audio import PcmData
from .engine import PlannedReply, PlannedToolCall, PlannedTurn
from .exceptions import ConnectionGone, TurnAborted
from .facts import AudioTally

if TYPE_CHECKING:
    from .connection import EmulatorConnection

__all__ = ["ReplyStream", "TurnPlayer", "reply_steps"]

ReplyStatus = Literal["pending", "streaming", "completed", "cancelled", "dropped", "aborted"]


@dataclass(eq=False)
class ReplyStream:
    """One reply on its way to the client (a response, a model turn...).

    :ivar id: its response id (from ``EmulatorConnection.new_response_id``).
    :ivar reply: what it says.
    :ivar turn: the scenario turn it belongs to (None for a reply outside any turn, e.g. a ``say``).
    :ivar context: what the handler passed to ``TurnPlayer.start``/``start_reply`` (an item id...).
    :ivar part: ``"reply"`` or ``"after_tools"`` (the continuation once tool results arrived).
    :ivar status: ``pending`` (waiting for its first event), ``streaming``, then ``completed``,
        ``cancelled`` (cut by a cancel or barge-in; ``cancel_reason`` says why), ``dropped`` (cancelled before
        it started: the client never heard of it) or ``aborted`` (the connection ended).
    :ivar audio: the audio sent so far, counted exactly.
    :ivar text_sent: the text pieces sent so far.
    :ivar extra: the protocol's own per-reply state (item ids, content ids...).
    """

    id: str
    reply: PlannedReply
    turn: PlannedTurn | None
    context: dict[str, Any]
    part: Literal["reply", "after_tools"] = "reply"
    status: ReplyStatus = "pending"
    cancel_reason: str | None = None
    audio: AudioTally = field(default_factory=AudioTally)
    text_sent: list[str] = field(default_factory=list[str])
    first_audio_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def cancelled(self) -> bool:
        return self.cancel_reason is not None

    @property
    def text(self) -> str:
        """The text sent so far."""
        return "".join(self.text_sent)

    @property
    def playout_end(self) -> float | None:
        """When a client playing this reply's audio in real time from its first chunk is done (monotonic)."""
        return None if self.first_audio_at is None else self.first_audio_at + self.audio.ms / 1000


@dataclass
class _Job:
    turn: PlannedTurn | None
    reply: PlannedReply
    context: dict[str, Any]


def reply_steps(reply: PlannedReply, *, audio: bool) -> list[tuple[PcmData | None, list[str]]]:
    """The reply as steps of (an audio chunk or None, the text pieces that go with it): the text spread evenly
    over the audio; with no audio (or ``audio=False``, a text reply) one step per text piece."""
    pieces = reply.text_chunks()
    chunks = list(reply.audio_chunks()) if audio else []
    if not chunks:
        return [(None, [piece]) for piece in pieces]
    steps: list[tuple[PcmData | None, list[str]]] = [(chunk, []) for chunk in chunks]
    for j, piece in enumerate(pieces):
        steps[j * len(chunks) // len(pieces)][1].append(piece)
    return steps


class TurnPlayer:
    """Plays one connection's turns (see the module docstring); the connection's hooks do the talking.

    :ivar current: the reply being streamed (or waiting for its first event).
    :ivar last: the last reply that was streamed.
    :ivar pending_tool_calls: the tool calls sent and not answered yet, by call id.
    """

    def __init__(self, conn: EmulatorConnection[Any]) -> None:
        self.conn = conn
        self.current: ReplyStream | None = None
        self.last: ReplyStream | None = None
        self.pending_tool_calls: dict[str, PlannedToolCall] = {}
        self._task: asyncio.Task[None] | None = None
        self._jobs: deque[_Job] = deque()
        self._job_ready = asyncio.Event()
        self._tool_state: Literal["idle", "sent", "answered", "abandoned"] = "idle"
        self._tool_wake = asyncio.Event()

    def begin(self) -> None:
        """Start playing (the connection does it when it opens), in a task the connection owns."""
        if self._task is None:
            self._task = self.conn.spawn(self._loop(), "turns")

    # ================================================================== what handlers call
    def start(self, turn: PlannedTurn, context: Mapping[str, Any] | None = None) -> None:
        """Play a scenario turn (after the turns before it). ``context`` reaches the turn hooks."""
        self._enqueue(_Job(turn, turn.reply, dict(context or {})))

    def start_reply(self, reply: PlannedReply, context: Mapping[str, Any] | None = None) -> None:
        """Play a reply outside any scenario turn (a ``say``...): no faults, no user transcript, no tools wait."""
        self._enqueue(_Job(None, reply, dict(context or {})))

    async def cancel(self, reason: str) -> ReplyStream | None:
        """Stop the reply being streamed (a client cancel, a barge-in) and give up waiting for tool results.

        The reply ends with status ``cancelled`` (``reply_finished`` tells the client); this returns it once
        that was sent. A reply still waiting for its first event is dropped without a word; then, and when
        nothing streams, it returns None.
        """
        self.abandon_tools()
        reply = self.current
        if reply is None:
            return None
        if reply.cancel_reason is None:
            reply.cancel_reason = reason
        reply.wake.set()
        if reply.status == "pending":
            return None
        if asyncio.current_task() is not self._task:  # a hook cancelling its own reply cannot wait for it
            await reply.finished.wait()
        return reply

    async def barge_in(self, reason: str = "turn_detected") -> ReplyStream | None:
        """The user spoke over the model: note ``barge_in`` if a reply was streaming, and cancel it (or the
        reply waiting for its first event). Returns the cut reply, or None."""
        reply = self.current
        if reply is None:
            return None
        if reply.status == "streaming":
            self.conn.note("barge_in", response_id=reply.id)
        return await self.cancel(reason)

    def playing(self) -> ReplyStream | None:
        """The reply the client is presumably still hearing: the one streaming, else the last one while its
        audio, played in real time from its first chunk, has not ended (for barge-in during playout)."""
        if self.current is not None and self.current.status == "streaming":
            return self.current
        last = self.last
        end = last.playout_end if last is not None and last.status == "completed" else None
        return last if end is not None and time.monotonic() < end else None

    def tool_result(self, call_id: str, output: Any) -> bool:
        """Note a tool result (the ``tool_result`` fact); True if ``call_id`` was one the turn awaits."""
        pending = self.pending_tool_calls.pop(call_id, None) is not None
        self.conn.note("tool_result", call_id=call_id, output=output, pending=pending)
        return pending

    def resume_after_tools(self) -> None:
        """The client gave the protocol's cue to continue after tool calls (``response.create``, the last
        function response...): the turn goes on with its after-tools reply. Harmless at any other time."""
        if self._tool_state == "sent":
            self._tool_state = "answered"
            self._tool_wake.set()

    def abandon_tools(self) -> None:
        """Stop waiting for tool results (new user input superseded the turn); ``tools_cancelled`` follows."""
        if self._tool_state == "sent":
            self._tool_state = "abandoned"
            self._tool_wake.set()

    @property
    def awaiting_tools(self) -> bool:
        """Whether a turn waits for tool results."""
        return self._tool_state == "sent"

    async def stream_chunk(self, reply: ReplyStream, audio: PcmData | None, text: Sequence[str]) -> None:
        """Send one step of ``reply`` through the ``send_reply_chunk`` hook, counting its audio and text (the
        template uses it; call it for reply audio sent outside the template, e.g. in-flight chunks after a
        cancel). Audio a ``stall`` fault swallows is not counted as sent."""
        conn = self.conn
        counted = not conn.silenced
        await conn.send_reply_chunk(reply, audio, text)
        if audio is not None and counted:
            if reply.first_audio_at is None:
                reply.first_audio_at = time.monotonic()
            reply.audio.add(audio)
            conn.emulator.account_audio_out(reply.id, audio)
        reply.text_sent.extend(text)

    # ================================================================== the template
    def _enqueue(self, job: _Job) -> None:
        self._jobs.append(job)
        self._job_ready.set()

    async def _loop(self) -> None:
        while True:
            while not self._jobs:
                self._job_ready.clear()
                await self._job_ready.wait()
            await self._play(self._jobs.popleft())

    async def _play(self, job: _Job) -> None:
        conn, turn = self.conn, job.turn
        try:
            if turn is not None:
                await self._phase(turn, "before_reply")
                if turn.trigger == "speech":
                    await conn.send_user_transcript(turn, job.context)
            last = await self._stream(job, job.reply, "reply")
            if last is None:
                return
            if job.reply.tool_calls:
                if not await self._await_tools(turn):
                    return
                after = turn.after_tools if turn is not None else None
                if after is not None:
                    last = await self._stream(job, after, "after_tools")
                    if last is None or (after.tool_calls and not await self._await_tools(turn)):
                        return
            await conn.turn_finished(last)
            if turn is not None and conn.player.has_turn_faults(turn.index, "after_reply"):
                await conn.reply_played(last)
                await self._phase(turn, "after_reply")
        except (ConnectionGone, TurnAborted):
            pass

    async def _stream(self, job: _Job, plan: PlannedReply, part: Literal["reply", "after_tools"]) -> ReplyStream | None:
        """Stream one reply; None when it was cancelled (or dropped before it started)."""
        conn = self.conn
        reply = ReplyStream(conn.new_response_id(), plan, job.turn, job.context, part)
        self.current = reply
        try:
            await self._pause(reply, plan.first_event_delay_ms / 1000)
            if reply.cancelled:
                reply.status = "dropped"
                return None
            reply.status = "streaming"
            await conn.reply_started(reply)
            await self._pause(reply, plan.first_chunk_delay_ms / 1000)
            steps = conn.plan_steps(reply)
            middle = (len(steps) - 1) // 2
            started = time.monotonic()
            for i, (audio, text) in enumerate(steps):
                await self._pause(reply, started + i * plan.chunk_interval_ms / 1000 - time.monotonic())
                if reply.cancelled:
                    break
                await self.stream_chunk(reply, audio, text)
                if i == middle and part == "reply" and job.turn is not None:
                    await self._phase(job.turn, "mid_reply")
            if not steps and part == "reply" and job.turn is not None:
                await self._phase(job.turn, "mid_reply")
            if not reply.cancelled and plan.tool_calls:
                self._tool_state = "sent"
                self._tool_wake.clear()
                self.pending_tool_calls = {call.call_id: call for call in plan.tool_calls}
                await conn.send_tool_calls(reply, plan.tool_calls)
            reply.status = "cancelled" if reply.cancelled else "completed"
            await conn.reply_finished(reply)
            return None if reply.cancelled else reply
        finally:
            if reply.status in ("pending", "streaming"):
                reply.status = "aborted"
            if reply.status != "dropped":
                self.last = reply
                conn.note("response_sent", response_id=reply.id, status=reply.status, audio_ms=reply.audio.ms,
                          audio_frames=reply.audio.frames, sample_rate=reply.audio.sample_rate or None,
                          text=reply.text)  # fmt: skip
            if self.current is reply:
                self.current = None
            reply.finished.set()

    async def _await_tools(self, turn: PlannedTurn | None) -> bool:
        if turn is not None:
            await self._phase(turn, "awaiting_tools")
        await self._tool_wake.wait()
        answered = self._tool_state == "answered"
        self._tool_state = "idle"
        if not answered:
            calls, self.pending_tool_calls = list(self.pending_tool_calls.values()), {}
            if calls:
                await self.conn.tools_cancelled(calls)
        return answered

    async def _phase(self, turn: PlannedTurn, phase: str) -> None:
        conn = self.conn
        for fault in conn.player.faults_for_turn(turn.index, phase):
            await conn.apply_fault(fault)
        if conn.closed:
            raise ConnectionGone

    @staticmethod
    async def _pause(reply: ReplyStream, seconds: float) -> None:
        """Wait ``seconds`` (at least one loop turn, so the inbox runs between chunks); a cancel cuts it short."""
        if seconds <= 0 or reply.cancelled:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await reply.wake.wait()
