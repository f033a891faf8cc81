"""Kept for realtime-qwen 0.2 (see :mod:`realtime_openai.compat`): the 0.2 emulator's response streaming."""

from ..compat.emulator_responses import ResponseRun

__all__ = ["ResponseRun"]
