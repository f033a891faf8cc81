"""The Nova Sonic models this plugin knows: ids, voices, limits and which features each supports."""

from __future__ import annotations

from dataclasses import dataclass

from realtime_core.errors import ConfigurationError

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_VOICE",
    "MODELS",
    "NOVA_2_SONIC",
    "NOVA_SONIC",
    "STREAM_LIMIT_SECONDS",
    "ModelInfo",
    "model_info",
]

NOVA_SONIC = "amazon.nova-sonic-v1:0"
NOVA_2_SONIC = "amazon.nova-2-sonic-v1:0"
DEFAULT_MODEL = NOVA_2_SONIC
DEFAULT_VOICE = "matthew"
STREAM_LIMIT_SECONDS = 480.0
"""Bedrock closes a bidirectional stream after 8 minutes (``ModelTimeoutException``)."""

_NOVA1_VOICES = (
    "matthew", "tiffany", "amy", "lupe", "carlos", "ambre", "florian", "greta", "lennart", "beatrice", "lorenzo",
)  # fmt: skip
_NOVA2_VOICES = (
    "matthew", "tiffany", "amy", "olivia", "kiara", "arjun", "ambre", "florian", "beatrice", "lorenzo",
    "tina", "lennart", "lupe", "carlos", "carolina", "leo",
)  # fmt: skip


@dataclass(frozen=True)
class ModelInfo:
    """What one Nova Sonic generation accepts.

    :ivar family: ``"nova-sonic"`` (Nova Sonic 1) or ``"nova-2-sonic"``.
    :ivar voices: valid ``voiceId`` values.
    :ivar text_input: interactive user text makes the model answer (Nova 2 "cross-modal" input).
    :ivar turn_detection: ``sessionStart.turnDetectionConfiguration.endpointingSensitivity`` is accepted.
    :ivar history_max_messages: most history messages replayed into a new stream (None: no count limit).
    :ivar history_message_bytes: largest history message, in UTF-8 bytes.
    :ivar history_total_bytes: largest replayed history in total (None: no total limit).
    """

    family: str
    voices: tuple[str, ...]
    text_input: bool
    turn_detection: bool
    history_max_messages: int | None
    history_message_bytes: int
    history_total_bytes: int | None


_NOVA1 = ModelInfo(
    family="nova-sonic",
    voices=_NOVA1_VOICES,
    text_input=False,
    turn_detection=False,
    history_max_messages=40,
    history_message_bytes=1000,
    history_total_bytes=None,
)
_NOVA2 = ModelInfo(
    family="nova-2-sonic",
    voices=_NOVA2_VOICES,
    text_input=True,
    turn_detection=True,
    history_max_messages=None,
    history_message_bytes=50_000,
    history_total_bytes=200_000,
)
MODELS: dict[str, ModelInfo] = {NOVA_SONIC: _NOVA1, NOVA_2_SONIC: _NOVA2}


def model_info(model: str) -> ModelInfo:
    """The generation of ``model``: a plain id, a cross-region inference profile id
    (``us.amazon.nova-2-sonic-v1:0``) or an ARN ending in one.

    :raises ConfigurationError: for a model that is not a Nova Sonic model.
    """
    if not isinstance(model, str) or not model:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(f"model must be a non-empty string, got {model!r}")
    if "nova-2-sonic" in model:
        return _NOVA2
    if "nova-sonic" in model:
        return _NOVA1
    raise ConfigurationError(
        f"unknown Nova model {model!r}: use one of {', '.join(MODELS)} (or an inference profile or ARN of one)"
    )
