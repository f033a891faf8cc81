"""The reference wire protocol: JSON text frames over one WebSocket at ``/v1/realtime``.

It is deliberately small, but it has everything a realtime provider has (audio in and out, server voice
detection, transcripts, tools, cancel and truncate, images, history replay, planned expiry), so the
reference provider exercises every clause of the conformance kit and serves as the template for new
provider plugins.

Client messages: ``session.update``, ``audio.append``, ``audio.commit``, ``text.send``, ``say``,
``response.create``, ``response.cancel``, ``response.truncate``, ``tool.output``, ``image.append``,
``history.replay``, ``session.close``.

Server messages: ``session.ready``, ``speech.started``, ``speech.stopped``, ``transcript.user``,
``response.started``, ``audio.delta``, ``transcript.delta``, ``transcript.done``, ``text.delta``,
``text.done``, ``tool.call``, ``response.done``, ``usage``, ``session.expiring``, ``error``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

PATH = "/v1/realtime"
INPUT_RATE = 16000
OUTPUT_RATE = 24000
VOICES = ("default", "bright", "calm")


def audio_append(pcm_bytes: bytes | memoryview) -> str:
    """The hot-path message, built without json.dumps (base64 needs no escaping)."""
    return '{"type":"audio.append","audio":"' + base64.b64encode(pcm_bytes).decode("ascii") + '"}'


def message(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, separators=(",", ":"))
