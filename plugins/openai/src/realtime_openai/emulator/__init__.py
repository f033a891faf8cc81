"""A loopback emulator of the OpenAI Realtime API (GA) for tests, demos and offline development.

Start it with ``async with OpenAIEmulator(scenario=...) as emulator`` and point a session at it with
``OpenAIRealtime(**emulator.session_options())``.
"""

from .connection import EmulatedConnection
from .schema import DEFAULT_INSTRUCTIONS, GaSessionSchema
from .server import TEST_API_KEY, OpenAIEmulator
from .wire import RequestError

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "TEST_API_KEY",
    "EmulatedConnection",
    "GaSessionSchema",
    "OpenAIEmulator",
    "RequestError",
]
