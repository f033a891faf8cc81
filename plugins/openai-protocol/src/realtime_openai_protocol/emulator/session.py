"""What an emulated connection needs to know of a session object, whatever its dialect's shape.

OpenAI GA nests the audio settings (``audio.input.turn_detection``...), DashScope keeps them flat
(``turn_detection``, ``input_audio_transcription``...). A provider's emulator validates and merges
``session.update`` with its own :class:`SessionRules` and tells the shared connection what it needs through
a :class:`SessionView`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["SessionRules", "SessionView", "TurnDetection"]


@dataclass(frozen=True)
class TurnDetection:
    """The server's turn detection, dialect-neutral.

    :ivar kind: ``server_vad`` or ``semantic_vad``.
    :ivar threshold: 0-1 sensitivity around 0.5 (server VAD).
    :ivar silence_ms: silence that ends a turn (semantic VAD: from its eagerness).
    :ivar idle_timeout_ms: after a reply, this much user silence makes the model speak up
        (``input_audio_buffer.timeout_triggered``); None: never.
    """

    kind: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float = 0.5
    silence_ms: float = 500
    prefix_ms: float = 300
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: float | None = None


@dataclass(frozen=True)
class SessionView:
    """The parts of a session object the shared connection acts on.

    :ivar tools: ``{name, description, parameters}`` of each function tool.
    """

    model: str | None = None
    instructions: str | None = None
    voice: Any = None
    output_modality: Literal["audio", "text"] = "audio"
    turn_detection: TurnDetection | None = None
    transcription: bool = False
    transcription_model: str | None = None
    tools: Sequence[Mapping[str, Any]] = field(default_factory=tuple[Mapping[str, Any], ...])
    max_output_tokens: Any = "inf"
    input_rate: int = 24000
    output_rate: int = 24000
    encoding: str = "pcm16"


class SessionRules(Protocol):
    """A dialect's session object on the server side: defaults, validation and merge, echo, view."""

    def defaults(self, model: str) -> dict[str, Any]:
        """The session a new connection starts with."""
        ...

    def apply_update(self, current: dict[str, Any], update: Any, *, audio_produced: bool) -> dict[str, Any]:
        """The session after ``update`` (``session.update``'s ``session``), or raise
        :class:`~realtime_openai_protocol.emulator.RequestError`; ``current`` is left untouched."""
        ...

    def echo(self, config: dict[str, Any], session_id: str, expires_at: int) -> dict[str, Any]:
        """The session as ``session.created`` / ``session.updated`` show it."""
        ...

    def view(self, config: dict[str, Any]) -> SessionView:
        """What the connection needs of ``config``."""
        ...
