"""realtime-openai-protocol: the OpenAI-style realtime event protocol, for provider plugins that speak it.

A library, not a provider (no entry point): realtime-openai (OpenAI GA) and realtime-qwen (Qwen-Omni on
DashScope) build their sessions on it, and so can a plugin for any other service with the same events.

* :class:`Dialect` / :data:`GA` — what differs between variants (event names, shapes, error codes);
* :mod:`~realtime_openai_protocol.client_events` — pure builders of the client events;
* :class:`ServerEventHandler` — one connection's server events → :class:`~realtime_core.SessionCore`
  calls; it needs a :class:`ProtocolHost` (the session's side) and never a session class;
* :class:`ProtocolClient` — the send side: setup handshake, deferred ``response.create``, text, tool
  results, one cancel per reply;
* :class:`WebSocketRealtimeTransport` — JSON over WebSocket with coalesced audio appends;
* :mod:`~realtime_openai_protocol.emulator` — the emulator's OpenAI-style server and connection on
  :mod:`realtime_core.emulator`, and its framework-free pieces.
"""

from . import client_events
from .client import EventSender, ProtocolClient
from .dialect import GA, Dialect
from .errors import close_error, error_from_payload, setup_error
from .handler import ServerEventHandler, ToolCallDraft
from .host import ProtocolHost
from .setup import SetupWaits
from .transport import MessageHandler, RealtimeTransport, WebSocketRealtimeTransport
from .usage import TRANSCRIPTION_SOURCE, emit_response_usage, emit_transcription_usage
from .watchdog import SilentResponseWatch

__version__ = "0.2.0"

__all__ = [
    "GA",
    "TRANSCRIPTION_SOURCE",
    "Dialect",
    "EventSender",
    "MessageHandler",
    "ProtocolClient",
    "ProtocolHost",
    "RealtimeTransport",
    "ServerEventHandler",
    "SetupWaits",
    "SilentResponseWatch",
    "ToolCallDraft",
    "WebSocketRealtimeTransport",
    "__version__",
    "client_events",
    "close_error",
    "emit_response_usage",
    "emit_transcription_usage",
    "error_from_payload",
    "setup_error",
]
