"""Kept for realtime-qwen 0.2: the dialect seam now lives in realtime-openai-protocol
(:class:`realtime_openai_protocol.Dialect`, :data:`realtime_openai_protocol.GA`)."""

from realtime_openai_protocol import GA, Dialect

__all__ = ["GA", "Dialect"]
