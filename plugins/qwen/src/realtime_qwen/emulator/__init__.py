"""A loopback emulator of DashScope's Qwen-Omni realtime API for tests, demos and offline development.

Start it with ``async with QwenEmulator(scenario=...) as emulator`` and point a session at it with
``QwenRealtime(**emulator.session_options())``; the model in the session's URL selects the emulated profile.
"""

from .connection import QwenConnection
from .replies import DashScopeReplyWriter
from .schema import DashScopeSchema
from .server import TEST_API_KEY, QwenEmulator

__all__ = ["TEST_API_KEY", "DashScopeReplyWriter", "DashScopeSchema", "QwenConnection", "QwenEmulator"]
