"""The WebRTC transport (aiortc): the data channel carries the protocol's events, two Opus tracks the audio.

:class:`WebRtcRealtimeTransport` implements the same :class:`~realtime_openai.transport.RealtimeTransport`
interface as the WebSocket transport, so the session, the event handler and every event are shared:

* ``open``: an ``RTCPeerConnection``; the local audio track (:class:`MicrophoneTrack`) and the
  ``oai-events`` data channel are added before the offer; the offer goes to ``POST /v1/realtime/calls``
  (:class:`~realtime_openai.calls.CallsClient`), the answer completes the connection; it returns once
  the data channel is open (``session.created`` follows on it);
* events: JSON text messages on the channel, handed to the handler in order by a session-owned task; a
  malformed message becomes a :class:`~realtime_core.ProtocolError` error event and the loop goes on;
* audio out: ``send_audio`` queues PCM on the microphone track (48 kHz mono; aiortc encodes Opus);
* audio in: the remote track is read continuously, every frame (48 kHz, downmixed to mono, no
  resampling) goes to the :class:`~realtime_openai.webrtc_protocol.PlayoutTracker`, which emits it with
  its response id;
* failures: ICE or DTLS failing, the server closing the peer connection or the data channel, or no audio
  packet for ``media_timeout`` seconds end the receive loop and go to core's ``_connection_lost`` (core
  reconnects or reports); ``close()`` hangs up (``POST /calls/{id}/hangup``) and closes the peer connection.

This module imports aiortc: the session loads it only for ``transport="webrtc"``
(``pip install "realtime-openai[webrtc]"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamError

from realtime_core import (
    ConnectionFailedError,
    PcmData,
    ProtocolError,
    RealtimeError,
    Resampler,
    SessionCore,
    SessionState,
)

from .calls import CallsClient
from .webrtc_mic import MicrophoneTrack
from .webrtc_protocol import WEBRTC_SAMPLE_RATE, PlayoutTracker, WebRtcOptions

if TYPE_CHECKING:
    from realtime_openai_protocol import MessageHandler

    from .handler import WebRtcEventHandler

_T = TypeVar("_T")

__all__ = ["MicrophoneTrack", "WebRtcRealtimeTransport"]  # MicrophoneTrack: from .webrtc_mic

log = logging.getLogger("realtime_openai.webrtc")

CHANNEL_LABEL = "oai-events"
_END = object()
PROVIDER = "openai"
NO_LOCAL_CANDIDATES = (
    "WebRTC needs a network address to offer, and this machine has none but loopback (aiortc skips "
    "127.0.0.1 and ::1): the offer has no ICE candidate, so no call could connect. Use transport='websocket' "
    "or run where a non-loopback interface exists."
)


def _ice_servers(servers: Any) -> list[RTCIceServer]:
    return [server if isinstance(server, RTCIceServer) else RTCIceServer(urls=str(server)) for server in servers]


class WebRtcRealtimeTransport:
    """One WebRTC connection of a session (see the module docstring).

    :param handler: the connection's event handler (its :attr:`~WebRtcEventHandler.playout` receives the
        remote audio; its ``connection_closed`` fails the setup waiters when the connection ends).
    :param calls: the signalling client (it holds the key).
    :param session_config: the ``session`` object sent with the offer (standard keys).
    """

    name = "webrtc"

    def __init__(
        self,
        core: SessionCore,
        *,
        handler: WebRtcEventHandler,
        calls: CallsClient,
        session_config: Mapping[str, Any] | None,
        options: WebRtcOptions,
    ) -> None:
        self._core = core
        self._handler = handler
        self._playout: PlayoutTracker = handler.playout
        self._calls = calls
        self._session_config = dict(session_config) if session_config is not None else None
        self._options = options
        self._pc: RTCPeerConnection | None = None
        self._channel: RTCDataChannel | None = None
        self._mic = MicrophoneTrack()
        self._resampler: Resampler | None = None
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._ended = asyncio.Event()
        self._end_reason = ""
        self._closing = False
        self._receiver: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._last_media = 0.0

    def __repr__(self) -> str:  # the key stays inside the CallsClient, which never shows it
        return f"<WebRtcRealtimeTransport open={self.is_open} call_id={self.call_id}>"

    @property
    def call_id(self) -> str | None:
        return self._calls.call_id

    @property
    def microphone(self) -> MicrophoneTrack:
        return self._mic

    @property
    def max_message_size(self) -> int:
        """The largest data channel message the server accepts (its SDP's ``max-message-size``)."""
        sctp: Any = self._pc.sctp if self._pc is not None else None
        return int(getattr(sctp, "_remote_max_message_size", 0) or 65536)

    # ------------------------------------------------------------------ connecting
    async def open(self, on_message: MessageHandler) -> None:
        pc = self._pc = RTCPeerConnection(RTCConfiguration(iceServers=_ice_servers(self._options.ice_servers)))
        pc.addTrack(self._mic)
        channel = self._channel = pc.createDataChannel(CHANNEL_LABEL)  # before the offer: it goes in the SDP
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._inbox.put_nowait)
        channel.on("close", lambda: self._end("the data channel closed"))
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)
        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers candidates here: no trickle ICE
        if "a=candidate:" not in pc.localDescription.sdp:
            raise ConnectionFailedError(NO_LOCAL_CANDIDATES, provider=PROVIDER, recoverable=False)
        answer = await self._calls.create(pc.localDescription.sdp, self._session_config)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except ValueError as exc:
            raise ProtocolError(f"the server's SDP answer is not usable: {exc}", provider=PROVIDER) from None
        core = self._core
        self._receiver = core.spawn(self._receive(on_message), name="openai-webrtc-receive")
        ended = asyncio.ensure_future(self._ended.wait())
        waiting = asyncio.ensure_future(opened.wait())
        try:
            await asyncio.wait({ended, waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            waiting.cancel()
        if not opened.is_set():
            raise ConnectionFailedError(
                f"the WebRTC connection could not be established: {self._end_reason}", provider=PROVIDER
            )
        self._last_media = asyncio.get_running_loop().time()
        if self._options.media_timeout:
            self._watchdog = core.spawn(self._watch_media(self._options.media_timeout), name="openai-webrtc-watchdog")

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._reader is None:
            self._reader = self._core.spawn(self._read_audio(track), name="openai-webrtc-audio")

    def _on_state(self) -> None:
        pc = self._pc
        if pc is None:
            return
        if pc.connectionState == "failed":
            self._end("the WebRTC connection failed (ICE or DTLS)")
        elif pc.connectionState == "closed":
            self._end("the server closed the WebRTC connection")

    def _end(self, reason: str) -> None:
        if self._ended.is_set():
            return
        self._end_reason = reason
        self._ended.set()
        self._inbox.put_nowait(_END)

    # ------------------------------------------------------------------ receiving
    async def _receive(self, on_message: MessageHandler) -> None:
        core = self._core
        while True:
            raw = await self._inbox.get()
            if raw is _END:
                break
            if not isinstance(raw, str):
                core.emit_error_event(
                    ProtocolError(
                        f"unexpected binary message on the data channel ({len(raw)} bytes)", provider=PROVIDER
                    ),
                    context="receive",
                )
                continue
            try:
                decoded: Any = json.loads(raw)
            except (ValueError, RecursionError) as exc:  # RecursionError: a hostile, deeply nested message
                core.emit_error_event(
                    ProtocolError(
                        f"malformed message from the server ({len(raw)} bytes, not JSON): {exc}", provider=PROVIDER
                    ),
                    context="receive",
                )
                continue
            if not isinstance(decoded, dict):
                core.emit_error_event(
                    ProtocolError(
                        f"malformed message from the server: expected a JSON object, got {type(decoded).__name__}",
                        provider=PROVIDER,
                    ),
                    context="receive",
                )
                continue
            message = cast(dict[str, Any], decoded)
            try:
                on_message(message)
            except RealtimeError as exc:
                core.emit_error_event(exc, context="receive")
            except Exception as exc:
                log.exception("openai webrtc: error handling a server message")
                core.emit_error_event(
                    ProtocolError(
                        f"could not handle a {message.get('type')!r} message: {type(exc).__name__}: {exc}",
                        provider=PROVIDER,
                    ),
                    context="receive",
                )
        self._playout.close()
        reason = self._end_reason or "the WebRTC connection ended"
        error = self._handler.connection_closed(None, reason)  # fails whatever the setup waits for
        if self._closing:
            return
        if self._handler.fatal is None:
            error = ConnectionFailedError(reason, provider=PROVIDER)
        self._hand_back_unsent()
        core.connection_lost(error, reason=reason)

    def _hand_back_unsent(self) -> None:
        """Audio still queued on the dead connection goes back to core: replayed after the reconnection."""
        data = self._mic.take_pending()
        if data:
            self._core.unsent_audio(PcmData.from_bytes(data, WEBRTC_SAMPLE_RATE))

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        handler = self._handler
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self._last_media = loop.time()
            if not handler.ready or self._closing:
                continue
            try:
                pcm = PcmData.from_av_frame(cast(av.AudioFrame, frame)).to_mono()
                self._playout.on_frame(pcm)
            except Exception:  # one bad frame must not end the audio
                log.exception("openai webrtc: could not handle an audio frame")

    async def _watch_media(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        while not self._ended.is_set():
            silent_for = loop.time() - self._last_media
            if silent_for >= timeout:
                self._end(f"no audio from the server for {timeout:g} s (the network path is gone)")
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout - silent_for + 0.05):
                    await self._ended.wait()

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable`` (a setup future) unless the connection ends first (then raise why)."""
        fut = asyncio.ensure_future(awaitable)
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({fut, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if fut.done():
            return fut.result()
        fut.cancel()
        raise self._handler.fatal or ConnectionFailedError(
            f"the WebRTC connection ended during setup: {self._end_reason}", provider=PROVIDER
        )

    # ------------------------------------------------------------------ sending
    async def send(self, event: Mapping[str, Any]) -> None:
        channel = self._channel
        if channel is None or self._closing or self._ended.is_set() or channel.readyState != "open":
            raise ConnectionFailedError("not connected", provider=PROVIDER)
        text = json.dumps(event, separators=(",", ":"))
        try:
            channel.send(text)
        except InvalidStateError:
            raise ConnectionFailedError("the data channel closed while sending", provider=PROVIDER) from None
        except ValueError:
            raise ProtocolError(
                f"a {event.get('type')} event of {len(text)} bytes exceeds the data channel's limit "
                f"({self.max_message_size} bytes)",
                provider=PROVIDER,
                recoverable=False,
            ) from None

    async def send_audio(self, pcm: PcmData) -> None:
        if self._closing or self._pc is None:
            raise ConnectionFailedError("not connected", provider=PROVIDER)
        if self._ended.is_set():  # dead, and core does not know yet: keep the chunk for the replay
            self._core.unsent_audio(pcm)
            return
        if pcm.sample_rate != WEBRTC_SAMPLE_RATE or pcm.channels != 1:
            if self._resampler is None:
                self._resampler = Resampler(WEBRTC_SAMPLE_RATE, 1)
            pcm = self._resampler.process(pcm)
        if pcm:
            self._mic.push(pcm)

    async def flush_audio(self) -> None:
        await self._mic.flush()

    # ------------------------------------------------------------------ closing
    async def close(self) -> None:
        """Hang up and close the peer connection; idempotent, safe on a dead or half-open connection."""
        if self._closing:
            return
        if self._core.state is SessionState.RECONNECTING and not self._ended.is_set():
            self._hand_back_unsent()  # a planned renewal: what this connection did not send, the next one will
        self._closing = True
        self._end("closed by the client")
        self._playout.close()
        await self._calls.hangup()
        self._mic.stop()
        pc = self._pc
        if pc is not None:
            with contextlib.suppress(Exception):
                await pc.close()
        await self._calls.aclose()
        current = asyncio.current_task()
        receiver = self._receiver  # it ends at the end marker, after the messages before it
        if receiver is not None and receiver is not current and not receiver.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                async with asyncio.timeout(1.0):
                    await asyncio.shield(receiver)
        for task in (receiver, self._watchdog, self._reader):
            if task is not None and task is not current and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    @property
    def is_open(self) -> bool:
        channel, pc = self._channel, self._pc
        return (
            not self._closing
            and not self._ended.is_set()
            and channel is not None
            and channel.readyState == "open"
            and pc is not None
            and pc.connectionState == "connected"
        )
