"""The reference provider's session: a complete, minimal :class:`realtime_core.Realtime` subclass."""

from __future__ import annotations

import base64
import contextlib
from typing import Any, ClassVar

from realtime_core import (
    Capabilities,
    ConfigurationError,
    InterruptInfo,
    PcmData,
    Realtime,
    RealtimeError,
    ReconnectContext,
    SecretStr,
    ToolResult,
    VideoFrameJpeg,
    resolve_api_key,
)
from realtime_core.transport import WebSocketTransport

from . import protocol
from .capabilities import build_capabilities
from .handler import ReferenceHandler

__all__ = ["ReferenceRealtime"]

class ReferenceRealtime(Realtime):
    """A session with the reference provider.

    :param api_key: the key (default: ``$REFERENCE_API_KEY``).
    :param url: the WebSocket URL of the service (or of its emulator).
    :param ca_file: a CA certificate to trust in addition to the system ones (for a TLS emulator).
    :param voice: one of ``protocol.VOICES``.
    :param modality: ``"audio"`` (spoken replies) or ``"text"``.
    :param turn_detection: ``"server"`` (the service detects turns) or ``"manual"``.
    :param core_options: ``fps``, ``instructions``, ``tools``, ``reconnect``... (see :class:`Realtime`).
    """

    provider_name: ClassVar[str] = "reference"
    handler_class: ClassVar[type[ReferenceHandler]] = ReferenceHandler
    """Builds the handler of each connection's messages."""
    api_key_env: ClassVar[tuple[str, ...]] = ("REFERENCE_API_KEY",)

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        url: str = "wss://realtime.reference.invalid/v1/realtime",
        ca_file: str | None = None,
        voice: str = "default",
        modality: str = "audio",
        turn_detection: str = "server",
        **core_options: Any,
    ) -> None:
        super().__init__(**core_options)
        if voice not in protocol.VOICES:
            raise ConfigurationError(f"unknown voice {voice!r}; choose one of {', '.join(protocol.VOICES)}")
        if modality not in ("audio", "text"):
            raise ConfigurationError(f"modality must be 'audio' or 'text', got {modality!r}")
        if turn_detection not in ("server", "manual"):
            raise ConfigurationError(f"turn_detection must be 'server' or 'manual', got {turn_detection!r}")
        self._api_key = resolve_api_key(api_key, self.api_key_env, provider=self.provider_name)
        self.url = url
        self.ca_file = ca_file
        self.voice = voice
        self.modality = modality
        self.turn_detection = turn_detection
        self._transport: WebSocketTransport | None = None

    def _build_capabilities(self) -> Capabilities:
        return build_capabilities(modality=self.modality, turn_detection=self.turn_detection)

    def session_config(self) -> dict[str, Any]:
        """The configuration sent in ``session.update`` (never contains the key)."""
        return {
            "instructions": self.instructions or "",
            "voice": self.voice,
            "modality": self.modality,
            "turn_detection": self.turn_detection,
            "tools": self.tools.schemas(),
        }

    # ------------------------------------------------------------------ connection
    async def _open(self) -> WebSocketTransport:
        """A new connection, set up: the handler of its messages is per connection."""
        assert self._api_key is not None
        transport = WebSocketTransport(self._core)
        await transport.open(
            self.url,
            headers={"Authorization": f"Bearer {self._api_key.get_secret_value()}"},
            ca_file=self.ca_file,
            open_timeout=self._core.connect_timeout,
        )
        self._transport = transport  # set before any await: close() can release it from here on
        handler = self.handler_class(self._core)
        transport.start(handler.handle)
        await transport.send_text(protocol.message("session.update", session=self.session_config()))
        await transport.wait(handler.ready)
        return transport

    async def connect(self) -> None:
        await self._open()
        self._emit_connected_event(self.session_config(), self.capabilities)

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        old = self._transport
        transport = await self._open()  # make-before-break: the new socket is ready first
        if old is not None and old is not transport:
            await old.close()
        items = [{"role": h.role, "text": h.text} for h in ctx.history if h.kind == "message" and h.text]
        if items:
            await transport.send_text(protocol.message("history.replay", items=items))
        return bool(items)

    async def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is None:
            return
        if transport.is_open:
            with contextlib.suppress(RealtimeError):  # already gone: closing anyway
                await transport.send_text(protocol.message("session.close"))
        await transport.close()

    # ------------------------------------------------------------------ sending
    async def _send(self, text: str) -> None:
        transport = self._transport
        if transport is None:
            raise ConfigurationError("not connected")
        await transport.send_text(text)

    async def simple_audio_response(self, pcm: PcmData, *, participant: Any = None) -> None:
        await self._send(protocol.audio_append(pcm.samples.data))

    async def simple_response(self, text: str) -> None:
        await self._send(protocol.message("text.send", text=text))

    async def say(self, text: str) -> None:
        await self._send(protocol.message("say", text=text))

    async def end_user_turn(self) -> None:
        await self._send(protocol.message("audio.commit"))

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        if info.response_id is None or info.source != "local":
            return  # on server barge-in the service already stopped the response
        if info.generating:  # fully received replies that are still playing only need the truncate
            await self._send(protocol.message("response.cancel", response_id=info.response_id))
        if self.capabilities.truncation and info.heard_ms is not None:
            await self._send(
                protocol.message("response.truncate", response_id=info.response_id, audio_end_ms=int(info.heard_ms))
            )

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        for result in results:
            await self._send(protocol.message("tool.output", call_id=result.call_id, output=result.as_json()))
        await self._send(protocol.message("response.create"))

    async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
        await self._send(
            protocol.message(
                "image.append",
                image=base64.b64encode(frame.data).decode("ascii"),
                mime_type=frame.mime_type,
                width=frame.width,
                height=frame.height,
            )
        )
