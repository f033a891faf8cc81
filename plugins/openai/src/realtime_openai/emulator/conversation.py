"""The emulated conversation (moved to :mod:`realtime_openai_protocol.emulator.conversation`; kept for
realtime-qwen 0.2)."""

from realtime_openai_protocol.emulator.conversation import Conversation, Item, image_info, normalize_client_item

__all__ = ["Conversation", "Item", "image_info", "normalize_client_item"]
