"""One OpenAI connection's server events → core calls.

Over WebSocket this is the protocol's :class:`~realtime_openai_protocol.ServerEventHandler` with the GA
dialect, as is. Over WebRTC the reply audio does not come in events: :class:`WebRtcEventHandler` adds the
output audio buffer's events (``output_audio_buffer.started``/``stopped``/``cleared``) and attributes the
remote track's audio to replies through a :class:`~realtime_openai.webrtc_protocol.PlayoutTracker`. Both
get the session's SessionCore and a :class:`~realtime_openai_protocol.ProtocolHost`, never the session.
"""

from __future__ import annotations

import logging
from typing import Any

from realtime_core import SessionCore
from realtime_openai_protocol import GA, ProtocolHost
from realtime_openai_protocol import ServerEventHandler as ProtocolEventHandler

from .webrtc_protocol import PlayoutTracker

__all__ = ["ProtocolEventHandler", "WebRtcEventHandler", "make_handler"]

log = logging.getLogger("realtime_openai.webrtc")


class WebRtcEventHandler(ProtocolEventHandler):
    """The protocol's handler for a WebRTC connection: the same events, plus the output audio buffer's,
    with reply audio taken from the track (through :attr:`playout`) instead of deltas."""

    def __init__(self, core: SessionCore, host: ProtocolHost, *, playout: PlayoutTracker, response_timeout: float | None) -> None:
        super().__init__(core, host, dialect=GA, output_rate=playout.rate, response_timeout=response_timeout)
        self.playout = playout
        self._audio_parts = {GA.audio_part, "audio", "output_audio"}
        self._warned_deltas = False
        self._routes.update(
            {
                "response.content_part.added": self._on_part_added,
                "output_audio_buffer.started": self._on_buffer_started,
                "output_audio_buffer.stopped": self._on_buffer_stopped,
                "output_audio_buffer.cleared": self._on_buffer_cleared,
                GA.audio_delta: self._on_audio_delta_on_channel,
            }
        )

    def agent_audible(self) -> bool:
        return self.playout.active or super().agent_audible()

    def _on_part_added(self, msg: dict[str, Any]) -> None:
        part = msg.get("part") or {}
        rid = msg.get("response_id")
        if self.ready and part.get("type") in self._audio_parts and rid:
            self.playout.expect(rid)
            item_id = msg.get("item_id")
            if isinstance(item_id, str) and item_id:
                self.remember_audio_item(rid, item_id)  # no deltas on WebRTC: the part names the item

    def _on_buffer_started(self, msg: dict[str, Any]) -> None:
        rid = msg.get("response_id")
        if self.ready and rid:
            self.playout.started(rid)

    def _on_buffer_stopped(self, msg: dict[str, Any]) -> None:
        rid = msg.get("response_id")
        if self.ready and rid:
            self.playout.stopped(rid)

    def _on_buffer_cleared(self, msg: dict[str, Any]) -> None:
        if self.ready:
            self.playout.cut(msg.get("response_id") or None)

    def _on_audio_delta_on_channel(self, msg: dict[str, Any]) -> None:
        # The audio also plays on the track; taking both would play every reply twice.
        if not self._warned_deltas:
            self._warned_deltas = True
            log.debug("openai webrtc: ignoring %s on the data channel (audio comes on the track)", msg.get("type"))

    def _audio_done(self, rid: str, response: dict[str, Any]) -> None:
        if not self.playout.defer_done(rid, response):
            super()._audio_done(rid, response)


def make_handler(
    core: SessionCore,
    host: ProtocolHost,
    *,
    output_rate: int,
    response_timeout: float | None,
    playout: PlayoutTracker | None = None,
) -> ProtocolEventHandler:
    """The handler of one connection: WebRTC's when the connection has a ``playout``, else the protocol's."""
    if playout is not None:
        return WebRtcEventHandler(core, host, playout=playout, response_timeout=response_timeout)
    return ProtocolEventHandler(core, host, dialect=GA, output_rate=output_rate, response_timeout=response_timeout)
