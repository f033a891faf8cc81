"""A loopback emulator of the OpenAI Realtime API (GA) for tests, demos and offline development.

Start it with ``async with OpenAIEmulator(scenario=...) as emulator`` and point a session at it with
``OpenAIRealtime(**emulator.session_options())``. It stands on :mod:`realtime_core.emulator` (tasks,
faults, the turn template) through realtime-openai-protocol's OpenAI-style connection; what is GA's own is
here: the routes and refusals (:mod:`.server`), the session rules (:mod:`.schema`), client secrets, WebRTC
calls (:mod:`.webrtc`, :mod:`.playout`).
"""

from realtime_openai_protocol.emulator import RequestError

from .ga_connection import GaConnection
from .schema import DEFAULT_INSTRUCTIONS, GaSessionSchema
from .server import TEST_API_KEY, OpenAIEmulator

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "TEST_API_KEY",
    "GaConnection",
    "GaSessionSchema",
    "OpenAIEmulator",
    "RequestError",
]
