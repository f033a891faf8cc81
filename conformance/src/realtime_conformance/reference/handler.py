"""One connection's handler: turns the reference protocol's server messages into core calls.

It is given the session's :class:`~realtime_core.SessionCore` (the provider surface) and nothing else, so
it never depends on the session class: every plugin's handler has this shape.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from realtime_core import PcmData, ProtocolError, SessionCore, ToolCall

from . import protocol
from .errors import error_from_message

__all__ = ["ReferenceHandler"]


class ReferenceHandler:
    """Per-connection state (the setup future, tool calls waiting for their response's end)."""

    def __init__(self, core: SessionCore) -> None:
        self.core = core
        self.ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_calls: dict[str, list[ToolCall]] = {}

    def handle(self, msg: dict[str, Any]) -> None:
        core = self.core
        kind = msg.get("type")
        rid = str(msg.get("response_id", ""))
        match kind:
            case "session.ready":
                if not self.ready.done():
                    self.ready.set_result(msg)
            case "speech.started":
                core.audio_confirmed()  # the service has our audio up to here
                core.emit_user_speech_started(msg.get("item_id"), msg.get("audio_start_ms"))
                if core.agent_audible:
                    core.handle_barge_in()
            case "speech.stopped":
                core.audio_confirmed()
                core.emit_user_speech_stopped(msg.get("item_id"), msg.get("audio_end_ms"))
            case "transcript.user":
                core.emit_user_speech_transcription(msg["text"], msg, mode="final", item_id=msg.get("item_id"))
            case "response.started":
                core.begin_response(rid)
            case "audio.delta":
                core.emit_audio_output_event(PcmData.from_bytes(base64.b64decode(msg["audio"]), protocol.OUTPUT_RATE), rid)
            case "transcript.delta":
                core.emit_agent_speech_transcription(msg["text"], mode="delta", response_id=rid)
            case "transcript.done":
                core.emit_agent_speech_transcription(msg["text"], mode="final", response_id=rid)
            case "text.delta":
                core.emit_response_event(msg["text"], rid, is_complete=False)
            case "text.done":
                core.emit_response_event(msg["text"], rid, is_complete=True)
            case "tool.call":
                call = ToolCall(msg["call_id"], msg["name"], msg.get("arguments") or {}, response_id=rid)
                self._pending_calls.setdefault(rid, []).append(call)
            case "response.done":
                self._response_done(rid, msg)
            case "session.expiring":
                core.renew("session expiring")
            case "error":
                error = error_from_message(msg)
                if not self.ready.done():
                    self.ready.set_exception(error)  # during setup: connect() raises it, no event
                else:
                    core.emit_error_event(error, context=f"server error {error.code}")
            case _:
                raise ProtocolError(f"unknown message type {kind!r}", provider=core.provider_name)

    def _response_done(self, rid: str, msg: dict[str, Any]) -> None:
        core = self.core
        if msg.get("status") != "cancelled":
            core.emit_audio_output_done_event(rid)
        calls = self._pending_calls.pop(rid, [])
        if calls:
            core.start_tool_calls(calls)  # all calls of the response, answered together
        usage = msg.get("usage") or {}
        if usage:
            core.emit_usage_event(
                rid,
                raw=usage,
                input_tokens=usage.get("input_tokens"),
                output_tokens=usage.get("output_tokens"),
                total_tokens=usage.get("total_tokens"),
            )
