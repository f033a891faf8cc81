"""The server side every emulator of the OpenAI-style protocol shares, on :mod:`realtime_core.emulator`.

:class:`OpenAIStyleEmulator` is a :class:`~realtime_core.emulator.WebEmulator` with the protocol's
behaviour switches (the orderings and fields real services differ in), the log of every server event
sent (for fidelity checks against official SDK models), what each connection restored from an earlier
one, and the declarations the conformance kit reads. A provider's emulator subclasses it with its routes,
its credentials, its :class:`~realtime_openai_protocol.emulator.SessionRules` and its dialect, and serves
connections of (a subclass of) :class:`~realtime_openai_protocol.emulator.OpenAIStyleConnection`.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar, Literal

from realtime_core import ConfigurationError
from realtime_core.emulator import AUDIO_ACCOUNTING, FACTS, FAULT_PHASES, FRAMEWORK_FAULT_KINDS, WebEmulator

from ..dialect import GA, Dialect
from .session import SessionRules

__all__ = ["OpenAIStyleEmulator"]


class OpenAIStyleEmulator(WebEmulator):
    """Base of the protocol's emulators (see the module docstring).

    Switches (default: what OpenAI's service does, as captured):

    :param transcription_timing: user transcripts ``"after_response_created"`` (interleaved with the reply,
        as observed) or ``"before_response"``.
    :param transcription_usage: ``usage`` on ``input_audio_transcription.completed``: ``"tokens"`` (as
        captured) or ``"duration"`` (the schema's other shape; the field is required).
    :param obfuscation: ``obfuscation`` padding on text deltas (input transcription, output text and
        transcript), as the real server sends.
    :param item_object: ``"object": "realtime.item"`` on items (optional in the schema; GA captures omit it).
    :param rate_limits_at: ``rate_limits.updated`` at the ``"end"`` of each response (after ``response.done``,
        as captured) or at its ``"start"``.
    :param assistant_item_done: whether assistant items get the dialect's ``item_done`` event.
    :param content_part_types: ``"audio"`` (``audio``/``text`` part types, as captured) or ``"output_audio"``.
    :param truncate_error_code: the code of the "truncate past the end" error.
    :param commit_error_delay_ms: delay before ``input_audio_buffer_commit_empty`` (observed ~150 ms).
    :param max_session_seconds: the session cap; at expiry ``session_expired`` then a close with
        ``expire_close_code``.
    """

    provider = "openai"
    output_sample_rate = 24000
    input_sample_rate: ClassVar[int] = 24000
    """Rate of ``input_audio_buffer.append`` audio."""
    interrupt_facts: ClassVar[tuple[str, ...]] = ("cancel", "truncate")
    observes: ClassVar[frozenset[str]] = frozenset(FACTS) | frozenset(AUDIO_ACCOUNTING)
    fault_kinds: ClassVar[frozenset[str]] = FRAMEWORK_FAULT_KINDS | {"expire"}
    fault_phases: ClassVar[frozenset[str]] = frozenset(FAULT_PHASES)

    def __init__(
        self,
        *,
        rules: SessionRules,
        dialect: Dialect = GA,
        transcription_timing: Literal["after_response_created", "before_response"] = "after_response_created",
        transcription_usage: Literal["tokens", "duration"] = "tokens",
        obfuscation: bool = True,
        item_object: bool = False,
        rate_limits_at: Literal["end", "start"] = "end",
        assistant_item_done: bool = True,
        content_part_types: Literal["audio", "output_audio"] = "audio",
        truncate_error_code: str = "invalid_value",
        commit_error_delay_ms: float = 0.0,
        max_session_seconds: float = 3600.0,
        expire_close_code: int = 1000,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        choices: dict[str, tuple[object, tuple[object, ...]]] = {
            "transcription_timing": (transcription_timing, ("after_response_created", "before_response")),
            "transcription_usage": (transcription_usage, ("tokens", "duration")),
            "rate_limits_at": (rate_limits_at, ("end", "start")),
            "content_part_types": (content_part_types, ("audio", "output_audio")),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigurationError(f"{name} must be one of {allowed}, got {value!r}")
        if max_session_seconds <= 0:
            raise ConfigurationError("max_session_seconds must be positive")
        if commit_error_delay_ms < 0:
            raise ConfigurationError("commit_error_delay_ms must be >= 0")
        self.rules = rules
        self.dialect = dialect
        self.transcription_timing = transcription_timing
        self.transcription_usage = transcription_usage
        self.obfuscation = obfuscation
        self.item_object = item_object
        self.rate_limits_at = rate_limits_at
        self.assistant_item_done = assistant_item_done
        self.content_part_types = content_part_types
        self.truncate_error_code = truncate_error_code
        self.commit_error_delay_ms = float(commit_error_delay_ms)
        self.max_session_seconds = float(max_session_seconds)
        self.expire_close_code = int(expire_close_code)
        log_limit = int(options.get("log_limit", 20000))
        self.server_events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=log_limit)
        """``(connection, event)`` for every server event sent (JSON events only), oldest first."""
        self.responses_total = 0
        self._texts: dict[str, int] = {}
        self._calls: dict[str, int] = {}

    # ------------------------------------------------------------------ the logs
    def log_sent(self, connection: int, event: Any) -> None:
        super().log_sent(connection, event)
        if isinstance(event, dict):
            self.server_events.append((connection, event))  # pyright: ignore[reportUnknownArgumentType]

    def server_events_of(self, connection: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Server events sent (on one connection, of one type)."""
        return [
            e
            for c, e in self.server_events
            if (connection is None or c == connection) and (kind is None or e.get("type") == kind)
        ]

    # ------------------------------------------------------------------ shapes the switches decide
    def part_type(self, audio: bool) -> str:
        if self.content_part_types == "output_audio":
            return "output_audio" if audio else "output_text"
        return self.dialect.audio_part if audio else self.dialect.text_part

    def rate_limits_event(self) -> dict[str, Any]:
        used = self.responses_total = self.responses_total + 1
        return {
            "type": "rate_limits.updated",
            "rate_limits": [
                {"name": "requests", "limit": 5000, "remaining": max(0, 5000 - used), "reset_seconds": 0.012},
                {"name": "tokens", "limit": 400000, "remaining": max(0, 400000 - 250 * used), "reset_seconds": 0.15},
            ],
        }

    # ------------------------------------------------------------------ what earlier connections said
    def remember_text(self, text: str, connection: int) -> None:
        if text:
            self._texts[text] = min(connection, self._texts.get(text, connection))

    def seen_text(self, text: object, connection: int) -> bool:
        """Whether ``text`` was said on an earlier connection (a history replay re-sends it)."""
        return isinstance(text, str) and self._texts.get(text, connection) < connection

    def remember_call(self, call_id: str, connection: int) -> None:
        self._calls[call_id] = min(connection, self._calls.get(call_id, connection))

    def seen_call(self, call_id: object, connection: int) -> bool:
        return isinstance(call_id, str) and self._calls.get(call_id, connection) < connection
