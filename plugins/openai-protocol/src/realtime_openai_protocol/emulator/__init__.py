"""Emulator pieces shared by every emulator of the OpenAI-style protocol (OpenAI GA, DashScope...).

Built on :mod:`realtime_core.emulator` (the framework owns tasks, the inbox, faults and the turn template):

* :class:`OpenAIStyleEmulator` — the server side: behaviour switches, the log of server events, what earlier
  connections said (history replays), the kit's declarations;
* :class:`OpenAIStyleConnection` — one connection: ``session.update``, the input buffer and its VAD, items,
  ``response.create``/``cancel``, and the turn hooks that write each reply's events (:class:`ReplyWriter`);
* :class:`SessionRules` / :class:`SessionView` / :class:`TurnDetection` — the seam for a dialect's session
  object (GA nests it, DashScope keeps it flat);
* framework-free parts: the error shapes (:class:`RequestError`...), :class:`Conversation` / :class:`Item`,
  :class:`InputAudio` (the audio clock and VAD).

A provider's emulator adds its routes, credentials, session rules and dialect (realtime-openai's emulator is
the GA one).
"""

from .buffer import InputBufferEvents
from .connection import OpenAIStyleConnection
from .conversation import Conversation, Item, image_info, normalize_client_item
from .input import InputAudio, InputEvent
from .items import ConversationEvents
from .replies import ReplyWriter, audio_delta, obfuscated
from .server import OpenAIStyleEmulator
from .session import SessionRules, SessionView, TurnDetection
from .wire import (
    RequestError,
    above_max,
    below_min,
    invalid_type,
    invalid_value,
    missing,
    type_name,
    unknown_parameter,
)

__all__ = [
    "Conversation",
    "ConversationEvents",
    "InputAudio",
    "InputBufferEvents",
    "InputEvent",
    "Item",
    "OpenAIStyleConnection",
    "OpenAIStyleEmulator",
    "ReplyWriter",
    "RequestError",
    "SessionRules",
    "SessionView",
    "TurnDetection",
    "above_max",
    "audio_delta",
    "below_min",
    "image_info",
    "invalid_type",
    "invalid_value",
    "missing",
    "normalize_client_item",
    "obfuscated",
    "type_name",
    "unknown_parameter",
]
