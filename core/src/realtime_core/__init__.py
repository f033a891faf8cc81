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

Everything is imported on first use (``import realtime_core`` itself is cheap; ``from realtime_core
import PcmData`` loads the audio module and numpy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .audio import (
        PcmData,
        Resampler,
        read_wav,
        write_wav,
    )
    from .capabilities import (
        Capabilities,
    )
    from .credentials import (
        SecretStr,
        resolve_api_key,
    )
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
    from .history import (
        HistoryItem,
    )
    from .hookspecs import (
        hookimpl,
    )
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
    from .provider import (
        ResponseView,
        SessionCore,
    )
    from .reconnect import (
        ReconnectContext,
        ReconnectPolicy,
    )
    from .responses import (
        InterruptInfo,
    )
    from .session import (
        Realtime,
        SessionState,
    )
    from .stream import (
        EventStream,
    )
    from .tools import (
        Tool,
        ToolCall,
        ToolRegistry,
        ToolResult,
        tool,
    )
    from .video import (
        VideoFrameJpeg,
        VideoSampler,
    )

__version__ = "0.2.0"

_LAZY: dict[str, str] = {
    "AuthenticationError": "errors",
    "Capabilities": "capabilities",
    "ConfigurationError": "errors",
    "ConnectionFailedError": "errors",
    "EVENT_TYPES": "events",
    "EventStream": "stream",
    "HistoryItem": "history",
    "InterruptInfo": "responses",
    "InvalidAudioError": "errors",
    "MissingAPIKeyError": "errors",
    "PcmData": "audio",
    "ProtocolError": "errors",
    "ProviderError": "errors",
    "ProviderNotFoundError": "errors",
    "ProviderSpec": "plugins",
    "QuotaExceededError": "errors",
    "RateLimit": "events",
    "RateLimitedError": "errors",
    "Realtime": "session",
    "RealtimeAgentSpeechStartedEvent": "events",
    "RealtimeAgentSpeechStoppedEvent": "events",
    "RealtimeAgentSpeechTranscriptionEvent": "events",
    "RealtimeAudioInputEvent": "events",
    "RealtimeAudioOutputDoneEvent": "events",
    "RealtimeAudioOutputEvent": "events",
    "RealtimeConnectedEvent": "events",
    "RealtimeDisconnectedEvent": "events",
    "RealtimeError": "errors",
    "RealtimeErrorEvent": "events",
    "RealtimeEvent": "events",
    "RealtimeInterruptedEvent": "events",
    "RealtimeMetricsEvent": "events",
    "RealtimeRateLimitsEvent": "events",
    "RealtimeReconnectedEvent": "events",
    "RealtimeResponseEvent": "events",
    "RealtimeToolCallFinishedEvent": "events",
    "RealtimeToolCallStartedEvent": "events",
    "RealtimeUsageEvent": "events",
    "RealtimeUserSpeechStartedEvent": "events",
    "RealtimeUserSpeechStoppedEvent": "events",
    "RealtimeUserSpeechTranscriptionEvent": "events",
    "ReconnectContext": "reconnect",
    "ReconnectPolicy": "reconnect",
    "Resampler": "audio",
    "ResponseView": "provider",
    "SecretStr": "credentials",
    "SessionClosedError": "errors",
    "SessionCore": "provider",
    "SessionExpiredError": "errors",
    "SessionState": "session",
    "Tool": "tools",
    "ToolCall": "tools",
    "ToolExecutionError": "errors",
    "ToolRegistry": "tools",
    "ToolResult": "tools",
    "ToolTimeoutError": "errors",
    "UnsupportedCapability": "errors",
    "UserTranscriptEvent": "events",
    "VideoFrameJpeg": "video",
    "VideoSampler": "video",
    "connect": "plugins",
    "get_plugin_manager": "plugins",
    "get_provider": "plugins",
    "hookimpl": "hookspecs",
    "list_plugins": "plugins",
    "load": "plugins",
    "plugin_errors": "plugins",
    "providers": "plugins",
    "read_wav": "audio",
    "register_plugin": "plugins",
    "resolve_api_key": "credentials",
    "tool": "tools",
    "unregister_plugin": "plugins",
    "write_wav": "audio",
}
"""Where each public name lives (imported when first asked for)."""

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
