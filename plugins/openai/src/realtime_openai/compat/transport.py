"""realtime-openai 0.2's transport constructor, kept for realtime-qwen 0.2 only (see :mod:`realtime_openai.compat`)."""

from __future__ import annotations

from typing import Any

import realtime_openai_protocol as rop

__all__ = ["WebSocketRealtimeTransport"]


class WebSocketRealtimeTransport(rop.WebSocketRealtimeTransport):
    """``WebSocketRealtimeTransport(session, url, ...)`` as realtime-qwen 0.2 calls it."""

    def __init__(self, session: Any, url: str, **options: Any) -> None:
        core = session._core  # pyright: ignore[reportPrivateUsage]
        super().__init__(core, url, **options)
