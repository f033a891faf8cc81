"""Emulator pieces shared by every emulator of the OpenAI-style protocol (OpenAI GA, DashScope...).

Framework-independent parts: the error shapes of the protocol (:mod:`.wire`) and the conversation an
emulated server keeps (:mod:`.conversation`). A provider's emulator adds its routes, session rules and
dialect on top (realtime-openai's and realtime-qwen's emulators).
"""

from .conversation import Conversation, Item, image_info, normalize_client_item
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
    "Item",
    "RequestError",
    "above_max",
    "below_min",
    "image_info",
    "invalid_type",
    "invalid_value",
    "missing",
    "normalize_client_item",
    "type_name",
    "unknown_parameter",
]
