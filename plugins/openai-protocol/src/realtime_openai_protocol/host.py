"""What the per-connection handler needs of the session that owns it, as a Protocol with public names.

The handler (:class:`~realtime_openai_protocol.ServerEventHandler`) reports through the session's
:class:`~realtime_core.SessionCore`; the little it needs beyond that (the session's configuration, and a way
to send what waited for the server) it asks of a :class:`ProtocolHost`. The session implements it (or hands
the handler a small object that does): the handler never imports a session class.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["ProtocolHost"]


@runtime_checkable
class ProtocolHost(Protocol):
    """The session side of a :class:`~realtime_openai_protocol.ServerEventHandler`."""

    @property
    def interrupts_on_speech(self) -> bool:
        """Whether the server's turn detection cuts the agent off when the user starts speaking
        (``interrupt_response``): the handler then reports a barge-in while the agent is audible."""
        ...

    def response_slot_free(self) -> None:
        """The server is no longer generating a response and ``response.create`` requests wait
        (:attr:`ServerEventHandler.deferred <realtime_openai_protocol.ServerEventHandler.deferred>`): send
        them. Called from the receive loop: must not block (start a task)."""
        ...
