"""The Nova Sonic models this plugin knows: ids, voices, limits, lifecycle and what each supports.

Three generations share the wire protocol; what differs is a model *profile* (:class:`ModelInfo`):

* ``amazon.nova-2-sonic-v1:0`` (Nova 2 Sonic): the default. Active on Bedrock's model lifecycle page, the
  default of LiveKit and Vision-Agents; typed text input, nested turn detection, 16 voices.
* ``amazon.nova-2-5-sonic`` (Nova 2.5 Sonic; note: no ``-v1:0`` suffix): Pipecat's default and LiveKit's
  ``with_nova_sonic_2_5()``; both peers drive it exactly like Nova 2 on the wire. No AWS model card was
  found for it (limits and voices are Nova 2's until one is), which is why it is not the default.
* ``amazon.nova-sonic-v1:0`` (Nova Sonic 1): **Legacy, end of life 2026-09-14** per its Bedrock model card.
  Still accepted; a session on it logs a warning. No text input, 11 voices, small history.

A model is named by its id, a cross-region inference profile id (``us.amazon.nova-2-sonic-v1:0``) or an
ARN ending in either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from realtime_core.errors import ConfigurationError

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_VOICE",
    "MODELS",
    "NOVA_2_5_SONIC",
    "NOVA_2_SONIC",
    "NOVA_SONIC",
    "STREAM_LIMIT_SECONDS",
    "ModelInfo",
    "model_info",
]

NOVA_SONIC = "amazon.nova-sonic-v1:0"
NOVA_2_SONIC = "amazon.nova-2-sonic-v1:0"
NOVA_2_5_SONIC = "amazon.nova-2-5-sonic"
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

    :ivar model_id: the canonical id (``amazon.nova-2-sonic-v1:0``...).
    :ivar family: ``"nova-sonic"``, ``"nova-2-sonic"`` or ``"nova-2-5-sonic"``.
    :ivar voices: valid ``voiceId`` values.
    :ivar text_input: interactive user text makes the model answer (Nova 2 "cross-modal" input).
    :ivar turn_detection: ``sessionStart.turnDetectionConfiguration.endpointingSensitivity`` is accepted.
    :ivar history_max_messages: most history messages replayed into a new stream (None: no count limit).
    :ivar history_message_bytes: largest history message, in UTF-8 bytes.
    :ivar history_total_bytes: largest replayed history in total (None: no total limit).
    :ivar lifecycle: ``"active"`` or ``"legacy"`` (Bedrock's model lifecycle).
    :ivar end_of_life: the announced end-of-life date (ISO), or None.
    """

    model_id: str
    family: str
    voices: tuple[str, ...]
    text_input: bool
    turn_detection: bool
    history_max_messages: int | None
    history_message_bytes: int
    history_total_bytes: int | None
    lifecycle: str = "active"
    end_of_life: str | None = None


_NOVA1 = ModelInfo(
    model_id=NOVA_SONIC,
    family="nova-sonic",
    voices=_NOVA1_VOICES,
    text_input=False,
    turn_detection=False,
    history_max_messages=40,
    history_message_bytes=1000,
    history_total_bytes=None,
    lifecycle="legacy",
    end_of_life="2026-09-14",
)
_NOVA2 = ModelInfo(
    model_id=NOVA_2_SONIC,
    family="nova-2-sonic",
    voices=_NOVA2_VOICES,
    text_input=True,
    turn_detection=True,
    history_max_messages=None,
    history_message_bytes=50_000,
    history_total_bytes=200_000,
)
_NOVA2_5 = ModelInfo(
    model_id=NOVA_2_5_SONIC,
    family="nova-2-5-sonic",
    voices=_NOVA2_VOICES,
    text_input=True,
    turn_detection=True,
    history_max_messages=None,
    history_message_bytes=50_000,
    history_total_bytes=200_000,
)
MODELS: dict[str, ModelInfo] = {NOVA_2_SONIC: _NOVA2, NOVA_2_5_SONIC: _NOVA2_5, NOVA_SONIC: _NOVA1}
"""Every known model by canonical id, newest generations first."""

_FAMILIES = {info.family: info for info in MODELS.values()}
# The id at the end of a plain id, an inference profile (``us.amazon...``) or an ARN (``...foundation-model/amazon...``).
# Matching the whole family name (not a substring) keeps ``nova-2-5-sonic`` from reading as ``nova-sonic``.
_MODEL_ID = re.compile(r"(?:^|[./])amazon\.(?P<family>nova(?:-2|-2-5)?-sonic)(?:-v\d+(?::\d+)?)?$")


def model_info(model: str) -> ModelInfo:
    """The profile of ``model``: a model id, a cross-region inference profile id or an ARN ending in one.

    :raises ConfigurationError: naming the option and the known models, for anything else.
    """
    if not isinstance(model, str) or not model:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(f"model must be a non-empty string, got {model!r}", provider="nova")
    match = _MODEL_ID.search(model)
    if match is None:
        raise ConfigurationError(
            f"model {model!r} is not a Nova Sonic model: use one of {', '.join(MODELS)} "
            "(or an inference profile id or ARN of one)",
            provider="nova",
        )
    return _FAMILIES[match["family"]]
