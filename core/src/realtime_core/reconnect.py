"""Reconnection: the policy, the audio gap buffer, and the loop that replaces a lost connection.

Core owns the reconnect loop (:class:`ReconnectRunner`, started by ``SessionCore.connection_lost`` and
``SessionCore.renew``); a plugin only implements :meth:`Realtime._reconnect`, which opens a new connection
and restores what it can: a resumption handle (Gemini), or a replay of the history (OpenAI, Nova), or
nothing (Qwen). It returns whether the conversation state was restored, and core reports that truthfully in
:class:`~realtime_core.RealtimeReconnectedEvent`, with the input audio replayed after the gap and the audio
that was lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from .audio import PcmData
from .emitter import Emitter
from .errors import ConnectionFailedError, RealtimeError, as_error
from .history import ConversationHistory, HistoryItem
from .lifecycle import Lifecycle, SessionState

__all__ = ["AudioGapBuffer", "HistoryItem", "ReconnectContext", "ReconnectPolicy", "ReconnectRunner"]

log = logging.getLogger("realtime_core.session")


@dataclass(frozen=True)
class ReconnectPolicy:
    """How core retries a dropped connection.

    :param max_attempts: attempts before giving up (0 disables reconnection).
    :param initial_delay: seconds before the first retry; doubled (``multiplier``) on each failure.
    :param max_delay: upper bound on the delay.
    :param jitter: random fraction added to each delay so many sessions do not retry in lockstep.
    :param buffer_audio_ms: input audio kept while disconnected and sent after reconnecting; audio
        beyond this is dropped (oldest first) and reported as ``lost_audio_ms``.
    """

    max_attempts: int = 5
    initial_delay: float = 0.25
    max_delay: float = 8.0
    multiplier: float = 2.0
    jitter: float = 0.2
    buffer_audio_ms: float = 15_000.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** max(0, attempt - 1))
        return base * (1.0 + random.uniform(0.0, self.jitter))

    @classmethod
    def disabled(cls) -> ReconnectPolicy:
        return cls(max_attempts=0)


@dataclass(frozen=True)
class ReconnectContext:
    """Passed to :meth:`Realtime._reconnect`.

    :ivar attempt: 1 for the first attempt.
    :ivar reason: why the connection is being replaced (``"connection lost"``, ``"go_away"``...).
    :ivar planned: True for a proactive renewal (the old connection may still be open:
        make-before-break is possible), False after an unexpected drop.
    :ivar history: the conversation so far, oldest first.
    """

    attempt: int
    reason: str
    planned: bool
    history: tuple[HistoryItem, ...] = field(default_factory=tuple)


class AudioGapBuffer:
    """Input audio waiting to be (re)sent, bounded by duration (oldest dropped first, counted in
    ``lost_ms`` unless ``count_lost`` is False)."""

    def __init__(self, max_ms: float, *, count_lost: bool = True) -> None:
        self.max_ms = max_ms
        self.count_lost = count_lost
        self._chunks: deque[tuple[PcmData, Any, float]] = deque()
        self.buffered_ms = 0.0
        self.lost_ms = 0.0

    def add(self, pcm: PcmData, participant: Any) -> None:
        # on the audio path (every chunk sent is kept until confirmed): one duration computed per chunk
        ms = pcm.samples.size * 1000.0 / (pcm.channels * pcm.sample_rate)
        chunks = self._chunks
        chunks.append((pcm, participant, ms))
        self.buffered_ms += ms
        if self.buffered_ms > self.max_ms:
            while self.buffered_ms > self.max_ms and chunks:
                _, _, old = chunks.popleft()
                self.buffered_ms -= old
                if self.count_lost:
                    self.lost_ms += old

    def drain(self) -> list[tuple[PcmData, Any]]:
        items = [(pcm, participant) for pcm, participant, _ in self._chunks]
        self._chunks.clear()
        self.buffered_ms = 0.0
        return items

    def restore(self, items: list[tuple[PcmData, Any]]) -> None:
        """Put unsent chunks back at the front (a replay failed half-way)."""
        for pcm, participant in reversed(items):
            self._chunks.appendleft((pcm, participant, pcm.duration_ms))
            self.buffered_ms += pcm.duration_ms

    def reset(self) -> None:
        self._chunks.clear()
        self.buffered_ms = 0.0
        self.lost_ms = 0.0

    def __len__(self) -> int:
        return len(self._chunks)


class ReconnectRunner:
    """Decides whether a lost connection is reconnected, and runs the attempts.

    :param reconnect: the provider's :meth:`Realtime._reconnect`, or None if it cannot reconnect.
    :param can_reconnect: whether the session's capabilities declare reconnection (read when needed:
        capabilities may be set at connect).
    :param send_audio: sends one buffered chunk through the provider (used to replay the gap).
    :param release: frees the provider's transport after a final failure (its ``close()``).
    """

    def __init__(
        self,
        *,
        policy: ReconnectPolicy,
        lifecycle: Lifecycle,
        emitter: Emitter,
        history: ConversationHistory,
        connect_timeout: float,
        reconnect: Callable[[ReconnectContext], Awaitable[bool]] | None,
        can_reconnect: Callable[[], bool],
        send_audio: Callable[[PcmData, Any], Awaitable[None]],
        release: Callable[[], Coroutine[Any, Any, None]],
        spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
    ) -> None:
        self.policy = policy
        self.gap = AudioGapBuffer(policy.buffer_audio_ms)
        self.unconfirmed = AudioGapBuffer(policy.buffer_audio_ms, count_lost=False)
        """Audio sent since the provider last confirmed it had everything (oldest beyond the bound is
        presumed received)."""
        self._lifecycle = lifecycle
        self._emitter = emitter
        self._history = history
        self._connect_timeout = connect_timeout
        self._reconnect = reconnect
        self._can_reconnect = can_reconnect
        self._send_audio = send_audio
        self._release = release
        self._spawn = spawn
        self.task: asyncio.Task[None] | None = None
        self._planned = False

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def connection_lost(self, error: BaseException | str | None, reason: str) -> None:
        """The transport died. Reconnect if the policy, the capabilities and ``error.recoverable`` allow;
        otherwise the session fails (one disconnected event, the streams end)."""
        if self._lifecycle.state is not SessionState.CONNECTED:
            return
        provider = self._emitter.provider
        err = as_error(error, provider, ConnectionFailedError) if error is not None else ConnectionFailedError(reason, provider=provider)
        will = (
            err.recoverable
            and self.policy.max_attempts > 0
            and self._reconnect is not None
            and self._can_reconnect()
        )
        self._emitter.end_active_response()
        # audio sent since the provider last confirmed it may have died with the connection: send it again
        self.gap.restore(self.unconfirmed.drain())
        self._lifecycle.move(SessionState.RECONNECTING if will else SessionState.FAILED)
        if not will:
            self._emitter.error(err, context="connection")
        lost = 0.0 if will else self._drop_buffered()
        self._emitter.disconnected(reason, was_clean=False, will_reconnect=will, error=err, lost_ms=lost)
        if will:
            self.task = self._spawn(self._run(reason, planned=False), "realtime-reconnect")
        else:
            self._give_up()
            self._spawn(self._release(), "realtime-release")

    def renew(self, reason: str) -> None:
        """Replace the connection before a known limit; input is buffered meanwhile."""
        if self._lifecycle.state is not SessionState.CONNECTED or self.running or self._reconnect is None:
            return
        self._lifecycle.move(SessionState.RECONNECTING)
        self._planned = True
        self.task = self._spawn(self._run(reason, planned=True), "realtime-renew")

    def sent(self, pcm: PcmData, participant: Any) -> None:
        """A chunk went out on the live connection (kept until the provider confirms it)."""
        self.unconfirmed.add(pcm, participant)

    def confirmed(self) -> None:
        self.unconfirmed.reset()

    def unsent_audio(self, pcm: PcmData, participant: Any) -> None:
        """Audio a transport still held when its connection went away.

        Only a planned renewal needs it (the old connection is closed on purpose with audio still
        queued): after a lost connection, everything unconfirmed is replayed anyway (or reported lost if
        the session fails), this audio included.
        """
        if self._planned and self._lifecycle.state is SessionState.RECONNECTING:
            self.gap.add(pcm, participant)

    async def cancel(self) -> None:
        task = self.task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.debug("reconnect task ended with an error", exc_info=True)

    async def _run(self, reason: str, *, planned: bool) -> None:
        assert self._reconnect is not None
        policy = self.policy
        last: RealtimeError | None = None
        attempt = 0
        while attempt < max(1, policy.max_attempts):
            attempt += 1
            if not (planned and attempt == 1):
                await asyncio.sleep(policy.delay(attempt))
            ctx = ReconnectContext(attempt=attempt, reason=reason, planned=planned, history=self._history.items())
            try:
                async with asyncio.timeout(self._connect_timeout):
                    restored = await self._reconnect(ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                last = as_error(exc, self._emitter.provider, ConnectionFailedError)
                log.info("%s reconnect attempt %d failed: %s", self._emitter.provider, attempt, last)
                if not last.recoverable:
                    break
                continue
            if self._lifecycle.state is not SessionState.RECONNECTING:
                return  # closed meanwhile
            try:
                replayed = await self._replay_gap()
            except ConnectionFailedError as exc:
                last = exc
                continue  # the new connection died already: try again, the audio is still buffered
            lost = self.gap.lost_ms
            self.gap.reset()
            if planned:  # what the old connection got is not the new one's to confirm
                self.unconfirmed.reset()
            self._planned = False
            self._lifecycle.move(SessionState.CONNECTED)
            self._emitter.reconnected(
                reason=reason, attempts=attempt, planned=planned, state_restored=bool(restored), replayed_ms=replayed, lost_ms=lost
            )
            return
        final = ConnectionFailedError(
            f"could not reconnect after {attempt} attempt(s)" + (f": {last.message}" if last else ""),
            provider=self._emitter.provider,
            recoverable=False,
            code=last.code if last else None,
        )
        self._planned = False
        self._lifecycle.move(SessionState.FAILED)
        self._emitter.error(final, context="reconnect")
        lost = self._drop_buffered()
        self._emitter.disconnected("reconnect failed", was_clean=False, error=final, lost_ms=lost)
        self._give_up()
        await self._release()

    def _drop_buffered(self) -> float:
        """The session failed: the audio waiting to be (re)sent never will be. Returns its duration."""
        lost = self.gap.lost_ms + self.gap.buffered_ms
        self.gap.reset()
        self.unconfirmed.reset()
        if lost:
            log.warning("%s: %.0f ms of input audio were never sent", self._emitter.provider, lost)
        return lost

    def _give_up(self) -> None:
        self._lifecycle.disconnected_announced = True
        self._emitter.dispatcher.end()

    async def _replay_gap(self) -> float:
        replayed = 0.0
        while len(self.gap):
            items = self.gap.drain()
            for i, (pcm, participant) in enumerate(items):
                try:
                    await self._send_audio(pcm, participant)
                except ConnectionFailedError:
                    self.gap.restore(items[i:])
                    raise
                self.sent(pcm, participant)
                replayed += pcm.duration_ms
        return replayed
