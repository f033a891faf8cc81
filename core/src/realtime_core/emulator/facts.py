"""Facts: protocol-neutral observations an emulator makes, so the conformance kit can check what a provider
was told (and what it sent and received) without knowing its wire protocol.

An emulator notes facts with ``EmulatorServer.note(name, connection, **data)`` (or
``EmulatorConnection.note(name, **data)``) where its protocol carries them, and declares in ``observes``
which ones it *can* produce: a clause whose fact is not observable skips with a reason instead of passing
trivially. Audio is counted rather than noted (``audio_in`` / ``audio_out``, see :class:`AudioTally`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..audio import PcmData

__all__ = [
    "AUDIO_ACCOUNTING",
    "CONFIG_FIELDS",
    "FACTS",
    "AudioTally",
    "Fact",
    "audio_format",
    "session_config",
    "tool_spec",
]

FACTS: dict[str, str] = {
    "session_configured": "the configuration the emulator received, normalised (data: the CONFIG_FIELDS the "
    "protocol carries; a field the protocol cannot carry is absent, one it carries but the client left unset is "
    "None); noted again, in full, after every change",
    "text_in": "the client sent user text (data: text)",
    "say": "the client asked the model to speak scripted text (data: text)",
    "response_requested": "the client explicitly asked for a response (manual turn, after tools, text)",
    "tool_result": "a tool result arrived (data: call_id, output; pending: whether that call id was awaited)",
    "cancel": "the client cancelled a response (data: response_id)",
    "truncate": "the client said how much of a reply was heard (data: audio_end_ms, sent_ms, item_id)",
    "video_frame": "an image/video frame arrived (data: width, height, size, mime_type)",
    "state_restored": "a new connection restored the conversation (resumption handle or history replay)",
    "barge_in": "the server detected user speech over a reply and cut the reply off",
    "response_sent": "a reply ended (data: response_id, status, audio_ms, audio_frames, sample_rate, text)",
    "session_finished": "the client ended the session per protocol (data: how)",
    "client_closed": "the client closed the connection (data: code, None when the socket just ended)",
}
"""The protocol-neutral facts emulators note. Emulators note only what their protocol actually carries."""

AUDIO_ACCOUNTING: dict[str, str] = {
    "audio_in": "user audio received, per connection (EmulatorServer.audio_in) and in total (audio_received_ms)",
    "audio_out": "agent audio sent, per response id with its sample rate (EmulatorServer.audio_out)",
}
"""Counts (not facts) an emulator keeps; it lists them in ``observes`` when it keeps them exactly."""

CONFIG_FIELDS: dict[str, str] = {
    "model": "the model asked for (str)",
    "instructions": "the system instructions (str; None: none sent)",
    "tools": "the declared tools: a list of tool_spec(name, description, parameters)",
    "voice": "the voice (str)",
    "output_modality": '"audio" (spoken replies) or "text"',
    "input_audio": "the user audio the service takes: audio_format(sample_rate, encoding)",
    "output_audio": "the agent audio the service sends: audio_format(sample_rate, encoding)",
    "turn_detection": '"server" (the service detects the end of turns) or "manual"',
    "input_transcription": "whether user transcripts were asked for (bool)",
    "temperature": "sampling temperature (float)",
    "max_output_tokens": "the reply length cap (int)",
}
"""The fields of a ``session_configured`` fact (build it with :func:`session_config`)."""


def session_config(**fields: Any) -> dict[str, Any]:
    """``session_configured`` data: only the :data:`CONFIG_FIELDS` the protocol carries.

    :raises ValueError: for a field that is not in :data:`CONFIG_FIELDS` (add it there, documented).
    """
    unknown = sorted(set(fields) - set(CONFIG_FIELDS))
    if unknown:
        raise ValueError(f"unknown session config field(s) {', '.join(unknown)}; see CONFIG_FIELDS")
    return dict(fields)


def tool_spec(name: str, description: str | None = None, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """One tool of ``session_config(tools=[...])``: its name, description and JSON Schema parameters."""
    return {"name": name, "description": description, "parameters": parameters}


def audio_format(sample_rate: int, encoding: str = "pcm16") -> dict[str, Any]:
    """``input_audio`` / ``output_audio`` of ``session_config``: the rate, and the encoding (pcm16, g711_ulaw...)."""
    return {"sample_rate": sample_rate, "encoding": encoding}


@dataclass(frozen=True, slots=True)
class Fact:
    """A protocol-neutral observation (see :data:`FACTS`)."""

    name: str
    data: dict[str, Any]
    connection: int
    at: float


@dataclass
class AudioTally:
    """Audio counted exactly: frames, the rate they came at, and their duration.

    :ivar frames: samples per channel in all.
    :ivar sample_rate: the rate of the audio counted (of the last chunk, if a protocol mixed rates).
    :ivar ms: the exact duration (each chunk's frames at its own rate).
    :ivar chunks: how many pieces were counted.
    """

    frames: int = 0
    sample_rate: int = 0
    ms: float = 0.0
    chunks: int = 0

    def add(self, pcm: PcmData) -> None:
        self.frames += pcm.frames
        self.sample_rate = pcm.sample_rate
        self.ms += pcm.frames * 1000.0 / pcm.sample_rate
        self.chunks += 1
