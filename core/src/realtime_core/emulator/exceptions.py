"""The exceptions an emulator's hooks raise and the connection framework catches."""

from __future__ import annotations

__all__ = ["BadMessage", "ConnectionGone", "TurnAborted"]


class ConnectionGone(Exception):
    """The connection is closed: raised by ``send`` so a turn or a handler unwinds (the framework catches it)."""


class BadMessage(Exception):
    """A client message the protocol refuses. Raise it from ``decode`` or ``handle``: the framework answers
    with ``send_error(code, message)`` (see ``EmulatorConnection.on_bad_message``) and reads on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TurnAborted(Exception):
    """Raise from a turn hook (or a fault hook during a turn) to end the current turn at once; the hook has
    already told the client whatever the protocol says (e.g. a turn completed with a failure reason)."""
