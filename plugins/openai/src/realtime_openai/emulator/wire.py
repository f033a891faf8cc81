"""The protocol's error shapes (moved to :mod:`realtime_openai_protocol.emulator.wire`; kept for realtime-qwen 0.2)."""

from realtime_openai_protocol.emulator.wire import (
    RequestError,
    above_max,
    below_min,
    invalid_type,
    invalid_value,
    missing,
    type_name,
    unknown_parameter,
)

__all__ = [
    "RequestError",
    "above_max",
    "below_min",
    "invalid_type",
    "invalid_value",
    "missing",
    "type_name",
    "unknown_parameter",
]
