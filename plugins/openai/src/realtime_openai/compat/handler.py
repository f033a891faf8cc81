"""realtime-openai 0.2's handler constructor, kept for realtime-qwen 0.2 only (see :mod:`realtime_openai.compat`).

The protocol's :class:`~realtime_openai_protocol.ServerEventHandler` takes the session's SessionCore and a
:class:`~realtime_openai_protocol.ProtocolHost`; realtime-qwen 0.2 still builds its handler from the session
itself, so this adapter derives both from the session (the names it reads are qwen's own).
"""

from __future__ import annotations

from typing import Any

import realtime_openai_protocol as rop
from realtime_openai_protocol import Dialect, ToolCallDraft

__all__ = ["ServerEventHandler", "_Call"]

_Call = ToolCallDraft


class _SessionHost:
    """A :class:`~realtime_openai_protocol.ProtocolHost` over a 0.2-style session."""

    def __init__(self, session: Any) -> None:
        self._session = session

    @property
    def interrupts_on_speech(self) -> bool:
        return bool(self._session._config.interrupt_response)

    def response_slot_free(self) -> None:
        self._session._send_deferred_soon()


class ServerEventHandler(rop.ServerEventHandler):
    """``ServerEventHandler(session, dialect, output_rate=...)`` as realtime-qwen 0.2 calls it."""

    def __init__(self, session: Any, dialect: Dialect, *, output_rate: int) -> None:
        core = session._core  # pyright: ignore[reportPrivateUsage]
        super().__init__(core, _SessionHost(session), dialect=dialect, output_rate=output_rate, response_timeout=None)
