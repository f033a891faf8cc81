"""The fault kinds, phases and hostile frames of the scenario language, and what an emulator must support.

A :class:`~realtime_core.emulator.Fault` fires ``after_ms`` from a connection's opening, when the
``after_messages``-th client message of a connection arrives, or during turn ``at_turn`` at ``phase``.
:class:`~realtime_core.emulator.EmulatorConnection` schedules all three and maps each kind to one hook, so an
emulator implements hooks, never the scheduling.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "DEFAULT_DEEP_NESTING",
    "DEFAULT_HUGE_BYTES",
    "FAULT_KINDS",
    "FAULT_PHASES",
    "FRAMEWORK_FAULT_KINDS",
    "LEGACY_FAULT_KINDS",
    "LEGACY_FAULT_PHASES",
    "MALFORMED_VARIANTS",
    "hostile_frame",
]

FAULT_KINDS: dict[str, str] = {
    "close": "close the connection with close code `code` (default: the emulator's `fault_close_code`; 1006: drop "
    "the connection with no close frame). Every emulator: the reconnection clauses use it.",
    "error": "send the protocol's error message (`code`, default server_error; `message`); the session must live "
    "on. Every emulator.",
    "malformed": "send a hostile frame (`variant`); the client must report a ProtocolError and live on. Every "
    "emulator (the framework builds the frames from the emulator's `sample_event()`).",
    "delay": "hold the server's output for `delay_ms`, then send it all (nothing lost). Done by the framework.",
    "stall": "the server goes silent for `delay_ms` (0: for good) without closing: what it would send is dropped, "
    "client messages are still read; the transport still answers pings. Done by the framework.",
    "expire": "the session reaches its time limit, as the protocol ends sessions (an error and/or a close). Only "
    "emulators of protocols with a session limit (the `session_limit_renewal` clause).",
    "go_away": "the server announces it will end the session soon (goAway, GOAWAY...). Only emulators of "
    "protocols with such an announcement.",
}
"""Every fault kind and what it does; an emulator declares the kinds it injects in ``fault_kinds``."""

FRAMEWORK_FAULT_KINDS = frozenset({"close", "error", "malformed", "delay", "stall"})
"""The kinds every emulator built on :class:`~realtime_core.emulator.EmulatorConnection` injects (``close``
and ``error`` through its transport and error hooks); add ``expire``/``go_away`` when the protocol has them."""

LEGACY_FAULT_KINDS = frozenset({"close", "error", "malformed", "delay", "expire", "go_away"})
"""What emulators written before the framework accept (the default of ``EmulatorServer.fault_kinds``)."""

FAULT_PHASES: dict[str, str] = {
    "before_reply": "the turn started (the user's turn ended or text arrived); nothing of the reply is out yet",
    "mid_reply": "after the middle chunk of the turn's first reply (before its tool calls)",
    "awaiting_tools": "the tool calls are out and the client owes their results",
    "after_reply": "the turn's last reply has ended (its done event is out)",
}
"""Where in a turn an ``at_turn`` fault fires (the turn template calls them in this order)."""

LEGACY_FAULT_PHASES = frozenset({"before_reply", "mid_reply", "after_reply"})

MALFORMED_VARIANTS: dict[str, str] = {
    "truncated": "the first half of a valid event (cut-off JSON)",
    "not_json": "text that is not JSON",
    "not_object": "valid JSON that is not an object (a list holding an event)",
    "deep": "an event with a field nested `size` levels deep (100000: json.loads raises RecursionError)",
    "huge": "a valid event padded to `size` bytes (8 MiB: above most clients' frame limit)",
    "wrong_types": "a valid event whose every field has the wrong type (strings as numbers, lists as objects...)",
    "binary": "bytes that are not UTF-8, in a binary frame",
}

DEFAULT_HUGE_BYTES = 8 * 1024 * 1024
DEFAULT_DEEP_NESTING = 100_000


def hostile_frame(variant: str, sample: dict[str, Any], *, size: int | None = None) -> str | bytes:
    """The frame a ``malformed`` fault of ``variant`` sends, built from ``sample`` (a typical server event).

    Text (JSON) for every variant but ``binary``; an emulator whose protocol frames JSON as bytes encodes it.
    """
    if variant == "truncated":
        text = json.dumps(sample, separators=(",", ":"))
        return text[: max(1, len(text) // 2)]
    if variant == "not_json":
        return "this is not JSON {"
    if variant == "not_object":
        return json.dumps([sample])
    if variant == "deep":
        depth = size or DEFAULT_DEEP_NESTING
        return _with_field(sample, "nested", "[" * depth + "]" * depth)
    if variant == "huge":
        target = size or DEFAULT_HUGE_BYTES
        base = _with_field(sample, "padding", '""')
        return _with_field(sample, "padding", '"' + "x" * max(0, target - len(base)) + '"')
    if variant == "wrong_types":
        return json.dumps({k: (v if k == "type" else _wrong(v)) for k, v in sample.items()})
    if variant == "binary":
        return b"\xff\xfe\xfd\x00" * 16
    raise ValueError(f"unknown malformed variant {variant!r}; choose one of {', '.join(MALFORMED_VARIANTS)}")


def _with_field(sample: dict[str, Any], name: str, raw_json: str) -> str:
    """``sample`` as JSON with one more field whose value is ``raw_json`` (written as is)."""
    text = json.dumps(sample, separators=(",", ":"))
    return text[:-1] + ("," if sample else "") + json.dumps(name) + ":" + raw_json + "}"


def _wrong(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return "not a number"
    if isinstance(value, str):
        return 12345
    if isinstance(value, dict):
        return {k: _wrong(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return {"not": "a list"}
    return ["unexpected"]
