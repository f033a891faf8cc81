"""The transports of an OpenAI session: the protocol's WebSocket transport, or WebRTC (:mod:`.webrtc`).

Both carry decoded protocol events to the same handler; only how audio moves differs (base64 PCM in
``input_audio_buffer.append`` over WebSocket; Opus on RTP tracks over WebRTC). This module builds the
WebSocket one with OpenAI's headers; the WebRTC one loads aiortc and is built in :mod:`.webrtc`.
"""

from __future__ import annotations

from realtime_core import SecretStr, SessionCore
from realtime_core.transport import CloseClassifier
from realtime_openai_protocol import MessageHandler, RealtimeTransport
from realtime_openai_protocol import WebSocketRealtimeTransport as ProtocolWebSocketTransport

from .config import SAMPLE_RATE

__all__ = ["MessageHandler", "RealtimeTransport", "auth_headers", "websocket_transport"]


def auth_headers(api_key: SecretStr, *, organization: str | None = None, project: str | None = None) -> dict[str, str]:
    """OpenAI's request headers (never logged: the transport's repr and core's logs hide them)."""
    headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"}
    if organization:
        headers["OpenAI-Organization"] = organization
    if project:
        headers["OpenAI-Project"] = project
    return headers


def websocket_transport(
    core: SessionCore,
    url: str,
    headers: dict[str, str],
    *,
    ca_file: str | None,
    classify: CloseClassifier,
    min_append_ms: float,
) -> ProtocolWebSocketTransport:
    """The WebSocket transport of one connection (24 kHz PCM appends, coalesced to ``min_append_ms``)."""
    return ProtocolWebSocketTransport(
        core,
        url,
        headers=headers,
        ca_file=ca_file,
        open_timeout=core.connect_timeout,
        classify=classify,
        sample_rate=SAMPLE_RATE,
        min_append_ms=min_append_ms,
    )
