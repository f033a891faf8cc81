"""realtime-core: one contract for realtime speech-to-speech providers.

Quick use::

    import realtime_core
    from realtime_core import PcmData, RealtimeAudioOutputEvent

    async with realtime_core.connect("openai", instructions="Be brief.") as session:
        await session.simple_audio_response(PcmData.from_bytes(mic_bytes, 48000))
        async for event in session.events():
            if isinstance(event, RealtimeAudioOutputEvent):
                play(event.audio_data)

Providers are separate distributions (``realtime-openai``, ``realtime-gemini``, ``realtime-nova``,
``realtime-qwen``, or third-party ones) found through the entry-point group ``realtime``.
"""

from __future__ import annotations

from .audio import PcmData, Resampler, read_wav, write_wav
from .capabilities import Capabilities
from .credentials import SecretStr, resolve_api_key
from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    InvalidAudioError,
    MissingAPIKeyError,
    ProtocolError,
    ProviderError,
    ProviderNotFoundError,
    QuotaExceededError,
    RateLimitedError,
    RealtimeError,
    SessionClosedError,
    SessionExpiredError,
    ToolExecutionError,
    ToolTimeoutError,
    UnsupportedCapability,
)
from .events import (
    EVENT_TYPES,
    RateLimit,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAgentSpeechTranscriptionEvent,
    RealtimeAudioInputEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeConnectedEvent,
    RealtimeDisconnectedEvent,
    RealtimeErrorEvent,
    RealtimeEvent,
    RealtimeInterruptedEvent,
    RealtimeMetricsEvent,
    RealtimeRateLimitsEvent,
    RealtimeReconnectedEvent,
    RealtimeResponseEvent,
    RealtimeToolCallFinishedEvent,
    RealtimeToolCallStartedEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechStoppedEvent,
    RealtimeUserSpeechTranscriptionEvent,
    UserTranscriptEvent,
)
from .history import HistoryItem
from .hookspecs import hookimpl
from .plugins import (
    ProviderSpec,
    connect,
    get_plugin_manager,
    get_provider,
    list_plugins,
    load,
    plugin_errors,
    providers,
    register_plugin,
    unregister_plugin,
)
from .provider import ResponseView, SessionCore
from .reconnect import ReconnectContext, ReconnectPolicy
from .responses import InterruptInfo
from .session import Realtime, SessionState
from .stream import EventStream
from .tools import Tool, ToolCall, ToolRegistry, ToolResult, tool
from .video import VideoFrameJpeg, VideoSampler

__version__ = "0.2.0"

__all__ = [
    "EVENT_TYPES",
    "AuthenticationError",
    "Capabilities",
    "ConfigurationError",
    "ConnectionFailedError",
    "EventStream",
    "HistoryItem",
    "InterruptInfo",
    "InvalidAudioError",
    "MissingAPIKeyError",
    "PcmData",
    "ProtocolError",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderSpec",
    "QuotaExceededError",
    "RateLimit",
    "RateLimitedError",
    "Realtime",
    "RealtimeAgentSpeechStartedEvent",
    "RealtimeAgentSpeechStoppedEvent",
    "RealtimeAgentSpeechTranscriptionEvent",
    "RealtimeAudioInputEvent",
    "RealtimeAudioOutputDoneEvent",
    "RealtimeAudioOutputEvent",
    "RealtimeConnectedEvent",
    "RealtimeDisconnectedEvent",
    "RealtimeError",
    "RealtimeErrorEvent",
    "RealtimeEvent",
    "RealtimeInterruptedEvent",
    "RealtimeMetricsEvent",
    "RealtimeRateLimitsEvent",
    "RealtimeReconnectedEvent",
    "RealtimeResponseEvent",
    "RealtimeToolCallFinishedEvent",
    "RealtimeToolCallStartedEvent",
    "RealtimeUsageEvent",
    "RealtimeUserSpeechStartedEvent",
    "RealtimeUserSpeechStoppedEvent",
    "RealtimeUserSpeechTranscriptionEvent",
    "ReconnectContext",
    "ReconnectPolicy",
    "Resampler",
    "ResponseView",
    "SecretStr",
    "SessionClosedError",
    "SessionCore",
    "SessionExpiredError",
    "SessionState",
    "Tool",
    "ToolCall",
    "ToolExecutionError",
    "ToolRegistry",
    "ToolResult",
    "ToolTimeoutError",
    "UnsupportedCapability",
    "UserTranscriptEvent",
    "VideoFrameJpeg",
    "VideoSampler",
    "__version__",
    "connect",
    "get_plugin_manager",
    "get_provider",
    "hookimpl",
    "list_plugins",
    "load",
    "plugin_errors",
    "providers",
    "read_wav",
    "register_plugin",
    "resolve_api_key",
    "tool",
    "unregister_plugin",
    "write_wav",
]
