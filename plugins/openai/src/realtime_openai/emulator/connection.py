"""Kept for realtime-qwen 0.2 (see :mod:`realtime_openai.compat`): the 0.2 emulator connection. realtime-openai's
own connection is :class:`~realtime_openai.emulator.ga_connection.GaConnection`."""

from ..compat.emulator_connection import EmulatedConnection

__all__ = ["EmulatedConnection"]
