"""Kept for realtime-qwen 0.2 (see :mod:`realtime_openai.compat`)."""

from .compat.session import DialectSession, EventSender

__all__ = ["DialectSession", "EventSender"]
