"""A faithful loopback emulator of the Gemini Live API (BidiGenerateContent over WebSocket), built on
core's emulator framework (:mod:`realtime_core.emulator`).

    async with GeminiEmulator(scenario=Scenario(...)) as emulator:
        session = GeminiRealtime(**emulator.session_options())

Open protocol points (where the sources disagree or are silent) are switches: see :class:`Profile`,
:class:`Traffic` and the options of :class:`GeminiEmulator`.
"""

from __future__ import annotations

from .connection import GeminiConnection
from .profiles import PROFILES, Profile, Traffic
from .server import DEFAULT_API_KEY, DEFAULT_EPHEMERAL_TOKEN, DEFAULT_VERTEX_TOKEN, GeminiEmulator
from .setup import Route
from .store import Conversation, HandleStore, Turn

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_EPHEMERAL_TOKEN",
    "DEFAULT_VERTEX_TOKEN",
    "PROFILES",
    "Conversation",
    "GeminiConnection",
    "GeminiEmulator",
    "HandleStore",
    "Profile",
    "Route",
    "Traffic",
    "Turn",
]
