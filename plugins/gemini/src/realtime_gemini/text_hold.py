"""User text held back while the model's turn is under way (docs/contract.md, promise 4.4).

Gemini takes text (``realtimeInput.text``, ``clientContent``) as user activity: sent while the model replies, it
cuts the reply. The contract says text does not interrupt; its reply follows the current one. So text that
arrives mid-turn waits here and goes out at ``turnComplete``, one text per turn (each gets its own reply).

Nothing held is lost: across a reconnect it goes out on the new connection; at close it is reported in an
error event. Should the server go quiet mid-turn and never complete it, the text goes out anyway after
:data:`PATIENCE` seconds of silence (a late turn beats a lost message).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from realtime_core import ConnectionFailedError, ProviderError, SessionCore

from .handler import GeminiHandler

__all__ = ["PATIENCE", "TextHold"]

log = logging.getLogger("realtime_gemini")

PATIENCE = 5.0
"""Seconds the server may stay quiet mid-turn (after the reply's audio would have played) before held text
is sent without waiting for ``turnComplete``."""

SendText = Callable[[GeminiHandler, str], Awaitable[None]]


class TextHold:
    """The texts waiting for the model's turn to end, in order.

    :param send: sends one text on ``handler``'s connection and tells the handler a reply is owed; on
        :class:`ConnectionFailedError` it leaves no trace (the text is put back here).
    :param live_handler: the current connection's handler while the session is connected, else None.
    """

    patience: float = PATIENCE

    def __init__(self, core: SessionCore, send: SendText, live_handler: Callable[[], GeminiHandler | None]) -> None:
        self._core = core
        self._send = send
        self._live_handler = live_handler
        self._texts: deque[str] = deque()
        self._backstop: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._texts)

    async def submit(self, handler: GeminiHandler, text: str) -> None:
        """Send ``text`` now, or hold it if the model's turn is under way (or older text is still held)."""
        if not self._texts and not handler.answering:
            await self._send(handler, text)
            return
        self._texts.append(text)
        log.debug("gemini: text held until the model's turn completes (%d held)", len(self._texts))
        self._ensure_backstop()

    def _ensure_backstop(self) -> None:
        if self._backstop is None or self._backstop.done():
            self._backstop = self._core.spawn(self._wait_out_silence(), name="gemini-held-text")

    def turn_ended(self) -> None:
        """``turnComplete``: the next held text may go (in a task: the handler calls this from a message)."""
        if self._texts:
            self._core.spawn(self._pump_current(), name="gemini-held-text-send")

    async def pump(self, handler: GeminiHandler) -> None:
        """Send the next held text on ``handler``'s connection unless its model is answering.

        :raises ConnectionFailedError: the connection failed (the text is held again, for the next one).
        """
        if self._texts and not handler.answering:
            await self._send_next(handler)

    def restore(self, texts: list[str]) -> None:
        """Hold ``texts`` (sent on a lost connection, never answered) ahead of those already held."""
        if texts:
            self._texts.extendleft(reversed(texts))
            self._ensure_backstop()

    def drop(self) -> None:
        if self._texts:
            log.warning("gemini: %d held text message(s) not sent: the session failed", len(self._texts))
            self._texts.clear()

    def report_unsent(self) -> None:
        """At close: say that held texts never went out (an error event), instead of dropping them silently."""
        count = len(self._texts)
        self._texts.clear()
        if count:
            self._core.emit_error_event(
                ProviderError(
                    f"{count} text message(s) given to simple_response() were not sent: the session closed "
                    "while the model was still answering",
                    code="text_not_sent",
                    provider="gemini",
                    recoverable=False,
                ),
                context="simple_response",
            )

    async def _send_next(self, handler: GeminiHandler) -> None:
        text = self._texts.popleft()
        try:
            await self._send(handler, text)
        except ConnectionFailedError:
            self._texts.appendleft(text)
            raise

    async def _pump_current(self) -> None:
        handler = self._live_handler()
        if handler is None:
            return  # reconnecting: the new connection sends it
        try:
            await self.pump(handler)
        except ConnectionFailedError:
            log.debug("gemini: held text not sent yet: the connection failed", exc_info=True)

    async def _wait_out_silence(self) -> None:
        """The backstop: held text goes out once the server has been quiet for :attr:`patience` seconds."""
        while self._texts:
            handler = self._live_handler()
            wait = self.patience if handler is None else handler.quiet_since + self.patience - time.monotonic()
            if handler is None or wait > 0:
                await asyncio.sleep(wait)
                continue
            if handler.answering:
                log.warning("gemini: the model's turn did not complete; sending the held text anyway")
            try:
                await self._send_next(handler)
            except ConnectionFailedError:
                await asyncio.sleep(self.patience)  # held again; the reconnected session sends it
