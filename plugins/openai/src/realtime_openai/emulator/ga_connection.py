"""One OpenAI GA connection: the protocol's connection with GA's own rules.

What is GA's beyond the shared OpenAI-style connection: ``output_audio_buffer.clear`` exists only on WebRTC
and SIP connections (refused here; :mod:`.webrtc` implements it), and the facts the kit reads come from GA's
session object (:class:`~realtime_openai.emulator.schema.GaSessionSchema`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from realtime_openai_protocol.emulator import OpenAIStyleConnection, RequestError

if TYPE_CHECKING:
    from .server import OpenAIEmulator

__all__ = ["GaConnection"]


class GaConnection(OpenAIStyleConnection["OpenAIEmulator"]):
    """A GA WebSocket connection (``GET /v1/realtime``)."""

    def __init__(self, emulator: OpenAIEmulator, request: Any, ws: Any, number: int, config: dict[str, Any]) -> None:
        super().__init__(emulator, request, ws, number, config)
        self.routes["output_audio_buffer.clear"] = self.on_output_audio_clear

    async def on_output_audio_clear(self, msg: dict[str, Any]) -> None:
        raise RequestError(
            "invalid_value", "output_audio_buffer.clear is only supported on WebRTC and SIP connections.", "type"
        )
