"""Error shapes of an emulator of the protocol, worded like OpenAI's server (``error`` events and HTTP bodies)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


class RequestError(Exception):
    """A client event the server rejects: becomes one ``error`` event; the connection stays open."""

    def __init__(
        self, code: str | None, message: str, param: str | None = None, kind: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.kind = kind

    def payload(self, event_id: str | None = None) -> dict[str, Any]:
        return {
            "type": self.kind,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": event_id,
        }


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def unknown_parameter(path: str) -> RequestError:
    return RequestError("unknown_parameter", f"Unknown parameter: '{path}'.", path)


def missing(path: str) -> RequestError:
    return RequestError("missing_required_parameter", f"Missing required parameter: '{path}'.", path)


def invalid_type(path: str, expected: str, value: object) -> RequestError:
    return RequestError(
        "invalid_type", f"Invalid type for '{path}': expected {expected}, but got {type_name(value)} instead.", path
    )


def invalid_value(path: str, value: object, supported: Iterable[object]) -> RequestError:
    options = ", ".join(f"'{s}'" for s in supported)
    return RequestError("invalid_value", f"Invalid value: '{value}'. Supported values are: {options}.", path)


def above_max(path: str, maximum: float, value: object) -> RequestError:
    kind = "integer" if isinstance(value, int) else "decimal"
    return RequestError(
        f"{kind}_above_max_value",
        f"Invalid '{path}': {kind} above maximum value. Expected a value <= {maximum}, but got {value} instead.",
        path,
    )


def below_min(path: str, minimum: float, value: object) -> RequestError:
    kind = "integer" if isinstance(value, int) else "decimal"
    return RequestError(
        f"{kind}_below_min_value",
        f"Invalid '{path}': {kind} below minimum value. Expected a value >= {minimum}, but got {value} instead.",
        path,
    )
