"""One WebSocket connection to DashScope: the protocol's transport, plus images and the input buffer's state.

:class:`QwenTransport` is realtime-openai-protocol's :class:`~realtime_openai_protocol.WebSocketRealtimeTransport`
(core's WebSocket underneath: TLS verified, typed handshake errors, a receive loop that survives malformed
frames, liveness pings, sends that cannot drain fail) with 16 kHz microphone audio coalesced into
``input_audio_buffer.append`` frames written straight from the sample buffer. It adds what DashScope has on
top: camera frames (``input_image_buffer.append``), and what an image and a manual turn need to know about
the input buffer (:class:`InputBuffer`): DashScope refuses an image before any audio since the server's last
commit ("Error append image before append audio."), and a manual turn needs audio since the client's own
commit.
"""

from __future__ import annotations

from collections.abc import Mapping

from realtime_core import PcmData, SecretStr, SessionCore
from realtime_core.transport import CloseClassifier
from realtime_openai_protocol import WebSocketRealtimeTransport

from .config import INPUT_SAMPLE_RATE
from .protocol import image_append

__all__ = ["InputBuffer", "QwenTransport", "auth_headers"]


def auth_headers(api_key: SecretStr, workspace: str | None) -> dict[str, str]:
    """DashScope's request headers (never logged: the transport's repr and core's logs hide them)."""
    headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"}
    if workspace:
        headers["X-DashScope-WorkSpace"] = workspace
    return headers


class InputBuffer:
    """What the client knows of the server's input buffer on one connection.

    :ivar audio_since_commit: audio went out since the server last committed or cleared the buffer (an
        image would be accepted now).
    :ivar uncommitted_ms: audio sent since the client's own last commit or clear (a manual turn).
    """

    __slots__ = ("audio_since_commit", "uncommitted_ms")

    def __init__(self) -> None:
        self.audio_since_commit = False
        self.uncommitted_ms = 0.0

    def server_committed(self) -> None:
        """The server committed or cleared the buffer: an image now needs fresh audio first."""
        self.audio_since_commit = False

    def turn_reset(self) -> None:
        """The client committed or cleared the buffer: a new manual turn starts."""
        self.uncommitted_ms = 0.0


class QwenTransport(WebSocketRealtimeTransport):
    """See the module docstring. Audio that could not be sent goes back to core, which replays it on the new
    connection (or reports it lost): the session keeps the send's error away from core's audio wrapper.
    Microphone audio goes through the inherited :meth:`send_audio` after :meth:`audio_going_out`.

    :param buffer: the connection's :class:`InputBuffer` (the handler resets it on the server's commits).
    """

    def __init__(
        self,
        core: SessionCore,
        url: str,
        *,
        headers: Mapping[str, str],
        buffer: InputBuffer,
        ca_file: str | None = None,
        classify: CloseClassifier | None = None,
        min_append_ms: float = 50.0,
    ) -> None:
        super().__init__(
            core,
            url,
            headers=headers,
            ca_file=ca_file,
            open_timeout=core.connect_timeout,
            classify=classify,
            sample_rate=INPUT_SAMPLE_RATE,
            min_append_ms=min_append_ms,
            max_frame_size=16 * 1024 * 1024,
        )
        self.buffer = buffer

    def audio_going_out(self, pcm: PcmData) -> None:
        """Account for microphone audio about to go through :meth:`send_audio` (called by the session before
        it, rather than from an override: one coroutine less per chunk on the hot path)."""
        buffer = self.buffer
        buffer.uncommitted_ms += pcm.frames / 16.0  # ms at 16 kHz
        buffer.audio_since_commit = True  # an image sent after this flushes the audio first

    async def send_image(self, jpeg: bytes) -> None:
        """Send one JPEG with ``input_image_buffer.append``, after the audio held back for coalescing."""
        await self.flush_audio()
        await self.send(image_append(jpeg))
