"""One browser tab's call: a WebRTC peer connection bridged into one realtime session.

The browser sends its microphone on an audio track and (for providers with video input) its camera on
a video track; the bridge feeds them to the session with ``simple_audio_response`` and
``watch_video_track``. The agent's audio goes back on :class:`ReplyAudioTrack`; every other event goes
to the page as JSON over the data channel, and the page's commands (interrupt, text, camera, hang up)
come back the same way. Only the session's public API is used.

Lifecycle: :meth:`Bridge.open` starts the provider's emulator (with ``--emulator``), connects the
session and answers the browser's offer; the bridge closes, exactly once, when the browser hangs up or
goes away (data channel or peer connection closed or failed, the page's close beacon), when WebRTC does
not connect in time, or when the server stops. Closing it closes the session and the emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, cast

from aiortc import MediaStreamTrack, RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from .. import plugins
from ..audio import PcmData
from ..emulator.scenario import Scenario
from ..emulator.server import EmulatorServer
from ..errors import ConfigurationError, ConnectionFailedError, RealtimeError, SessionClosedError
from ..events import (
    EVENT_TYPES,
    RealtimeAudioInputEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeDisconnectedEvent,
    RealtimeEvent,
    RealtimeInterruptedEvent,
    UserTranscriptEvent,
)
from ..session import Realtime
from ..stream import EventStream
from .demo_tool import get_time
from .reply_track import ReplyAudioTrack
from .wire import describe_error, event_to_wire

__all__ = ["NO_CANDIDATES", "Bridge"]

log = logging.getLogger("realtime_core.playground")

# the page gets every event but the mirror of its own microphone and the STT-shaped duplicate transcript
_FORWARDED = tuple(t for t in EVENT_TYPES if t not in (RealtimeAudioInputEvent, UserTranscriptEvent))
_PENDING_LIMIT = 2000  # messages held until the data channel opens

NO_CANDIDATES = (
    "WebRTC cannot start: the server found no network address to offer the browser. aiortc never uses "
    "loopback (127.0.0.1, ::1), so the machine needs a non-loopback interface (any LAN, Wi-Fi or virtual "
    "interface) even when the browser runs on the same machine."
)


class Bridge:
    """A browser tab's WebRTC call bridged into a session of ``provider``.

    :param provider: the provider's registered name.
    :param options: session keyword arguments (from ``--option``).
    :param emulator: start the provider's emulator for this call and point the session at it.
    :param scenario: the emulator's scenario (None: echo).
    :param webrtc_timeout: seconds the browser has to complete the WebRTC connection after the answer.
    :param on_closed: called once the bridge has closed.
    """

    def __init__(
        self,
        provider: str,
        *,
        options: dict[str, Any] | None = None,
        emulator: bool = False,
        scenario: Scenario | None = None,
        webrtc_timeout: float = 30.0,
        on_closed: Callable[[Bridge], None] | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.provider = provider
        self.created_at = time.time()
        self.session: Realtime | None = None
        self.emulator: EmulatorServer | None = None
        self.track = ReplyAudioTrack(on_played=self._report_playback)
        self.closed_reason: str | None = None
        self.messages_sent = 0
        self._options = dict(options or {})
        self._use_emulator = emulator
        self._scenario = scenario
        self._webrtc_timeout = webrtc_timeout
        self._on_closed = on_closed
        self._pc: RTCPeerConnection | None = None
        self._channel: RTCDataChannel | None = None
        self._pending: list[str] = []
        self._video_track: MediaStreamTrack | None = None
        self._webrtc_up = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._close_task: asyncio.Task[None] | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._mic_error_reported = False

    def __repr__(self) -> str:
        state = f"closed: {self.closed_reason}" if self.closed else "open"
        return f"<Bridge {self.id[:8]} provider={self.provider} {state}>"

    @property
    def closed(self) -> bool:
        return self._close_task is not None

    # ------------------------------------------------------------------ opening
    async def open(self, sdp: str, sdp_type: str = "offer") -> dict[str, Any]:
        """Connect the session and answer the browser's offer.

        :return: ``{"id", "sdp", "type", "capabilities"}`` for the page.
        :raises RealtimeError: (typed) when the session or WebRTC cannot start; the bridge is then closed.
        """
        try:
            return await self._open(sdp, sdp_type)
        except BaseException as exc:
            await self.close(f"could not start: {exc}")
            raise

    async def _open(self, sdp: str, sdp_type: str) -> dict[str, Any]:
        if sdp_type != "offer" or not sdp.strip():
            raise ConfigurationError("the browser must send a WebRTC offer (type 'offer' with an SDP)")
        session = await self._create_session()
        stream = session.events(types=_FORWARDED)  # before connect(): the page sees the connected event
        self._pump_task = self._spawn(self._pump(stream), "pump")
        await session.connect()

        pc = self._pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.on("track", self._on_track)
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_connection_state)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        pc.addTrack(self.track)
        await pc.setLocalDescription(await pc.createAnswer())  # gathers host candidates: no trickle ICE
        answer = pc.localDescription
        if "a=candidate:" not in answer.sdp:
            log.error(NO_CANDIDATES)
            raise ConnectionFailedError(NO_CANDIDATES, provider=self.provider)
        self._spawn(self._watch_webrtc(), "webrtc-watchdog")
        log.info("bridge %s: %s session %s answering the browser", self.id[:8], self.provider, session.session_id)
        return {
            "id": self.id,
            "sdp": answer.sdp,
            "type": answer.type,
            "capabilities": session.capabilities.model_dump(mode="json"),
            "session_id": session.session_id,
        }

    async def _create_session(self) -> Realtime:
        options = dict(self._options)
        spec = plugins.get_provider(self.provider)
        if self._use_emulator:
            factory = spec.resolve_emulator()
            if factory is None:
                raise ConfigurationError(f"provider {spec.name!r} ships no emulator")
            self.emulator = factory(scenario=self._scenario)
            await self.emulator.start()
            options = {**self.emulator.session_options(), **options}
        try:
            session = self.session = plugins.load(spec.name, **options)
        except TypeError as exc:  # an option the provider's constructor does not take
            raise ConfigurationError(f"{spec.name}: {exc}", provider=spec.name) from None
        if session.capabilities.tools:
            session.register_tool(get_time)
        return session

    # ------------------------------------------------------------------ WebRTC callbacks
    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._forward_microphone(track), "microphone")
        elif track.kind == "video":
            self._video_track = track

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        self._channel = channel
        channel.on("message", self._on_message)
        channel.on("close", lambda: self._request_close("the page closed the data channel"))
        if channel.readyState == "open":
            self._flush_pending()
        else:
            channel.on("open", self._flush_pending)

    def _on_connection_state(self) -> None:
        pc = self._pc
        if pc is None:
            return
        state = pc.connectionState
        log.debug("bridge %s: WebRTC %s", self.id[:8], state)
        if state == "connected":
            self._webrtc_up.set()
        elif state == "failed":
            self._request_close("WebRTC connection failed (the browser went away or the network path broke)")
        elif state == "closed":
            self._request_close("WebRTC connection closed")

    async def _watch_webrtc(self) -> None:
        try:
            await asyncio.wait_for(self._webrtc_up.wait(), self._webrtc_timeout)
        except TimeoutError:
            reason = (
                f"the browser did not complete the WebRTC connection within {self._webrtc_timeout:.0f} s "
                "(ICE found no working path between the browser and this server)"
            )
            log.warning("bridge %s: %s", self.id[:8], reason)
            self._request_close(reason)

    # ------------------------------------------------------------------ media
    async def _forward_microphone(self, track: MediaStreamTrack) -> None:
        session = self.session
        assert session is not None
        while True:
            try:
                frame: object = await track.recv()  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            except MediaStreamError:
                return  # the browser stopped sending: the call is ending
            if not isinstance(frame, AudioFrame):
                continue
            pcm = PcmData.from_av_frame(frame)
            try:
                await session.simple_audio_response(pcm)
            except SessionClosedError:
                return
            except RealtimeError as exc:
                if not self._mic_error_reported:  # once: the same failure would repeat 50 times a second
                    self._mic_error_reported = True
                    self._send_error(exc, "microphone")

    def _report_playback(self, response_id: str, played_ms: float) -> None:
        session = self.session
        if session is not None:
            session.report_playback(response_id, played_ms)

    # ------------------------------------------------------------------ events to the page
    async def _pump(self, stream: EventStream) -> None:
        async with stream:
            async for event in stream:
                self._deliver(event)

    def _deliver(self, event: RealtimeEvent) -> None:
        if isinstance(event, RealtimeAudioOutputEvent):
            self.track.push(event.response_id, event.audio_data)
            return
        if isinstance(event, RealtimeInterruptedEvent):
            self.track.flush()  # stop the voice now: queued audio of the cut response is never played
        elif isinstance(event, RealtimeAudioOutputDoneEvent) and not event.interrupted:
            self.track.end(event.response_id)  # the resampler's tail of this reply
        self._send({"kind": "event", "event": event_to_wire(event)})
        if isinstance(event, RealtimeDisconnectedEvent) and not event.will_reconnect and not self.closed:
            self._send({"kind": "ended", "reason": event.reason or "the session ended"})

    def _send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message)
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            channel.send(text)
            self.messages_sent += 1
        elif len(self._pending) < _PENDING_LIMIT:
            self._pending.append(text)
        else:
            log.warning("bridge %s: the page is not reading; dropped %s", self.id[:8], message.get("kind"))

    def _send_error(self, exc: BaseException, context: str) -> None:
        log.info("bridge %s: %s failed: %s", self.id[:8], context, exc)
        self._send({"kind": "error", "context": context, "error": describe_error(exc)})

    def _flush_pending(self) -> None:
        channel = self._channel
        if channel is None:
            return
        pending, self._pending = self._pending, []
        for text in pending:
            channel.send(text)
            self.messages_sent += 1

    # ------------------------------------------------------------------ commands from the page
    def _on_message(self, raw: str | bytes) -> None:
        try:
            command = _parse_command(raw)
        except ValueError as exc:
            self._send_error(ConfigurationError(f"bad command from the page: {exc}"), "command")
            return
        self._spawn(self._run_command(command), f"command-{command['type']}")

    async def _run_command(self, command: dict[str, Any]) -> None:
        kind = command["type"]
        session = self.session
        if kind == "hangup":
            self._request_close("the page hung up")
            return
        try:
            if session is None:
                raise SessionClosedError("no session")
            if kind == "interrupt":
                await session.interrupt()
            elif kind == "text":
                text = command.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise ConfigurationError("text must be a non-empty string")
                await session.simple_response(text)
            elif kind == "camera":
                await self._camera(session, bool(command.get("on")))
            else:
                raise ConfigurationError(f"unknown command {kind!r}")
        except RealtimeError as exc:
            self._send_error(exc, kind)
        else:
            self._send({"kind": "ack", "command": kind, "id": command.get("id")})

    async def _camera(self, session: Realtime, on: bool) -> None:
        if not on:
            await session.stop_watching_video_track()
            return
        if self._video_track is None:
            raise ConfigurationError("the page offered no video track (reload the page after a provider change)")
        await session.watch_video_track(self._video_track)

    # ------------------------------------------------------------------ closing
    def _request_close(self, reason: str) -> None:
        if not self.closed:
            self._close_task = asyncio.get_running_loop().create_task(self._close(reason), name="playground-close")

    async def close(self, reason: str = "closed") -> None:
        """Close the session, the peer connection and the emulator. Idempotent; safe from any task."""
        self._request_close(reason)
        assert self._close_task is not None
        await asyncio.shield(self._close_task)

    async def wait_closed(self) -> None:
        if self._close_task is not None:
            await asyncio.shield(self._close_task)

    async def _close(self, reason: str) -> None:
        self.closed_reason = reason
        log.info("bridge %s: closing (%s)", self.id[:8], reason)
        session, pc, emulator = self.session, self._pc, self.emulator
        if session is not None:
            await self._step("stop the video", session.stop_watching_video_track())
            await self._step("close the session", session.close())
            if self._pump_task is not None:  # let it forward the final disconnected event
                await asyncio.wait({self._pump_task}, timeout=2.0)
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.track.stop()
        if pc is not None:
            await self._step("close the peer connection", pc.close())
        if emulator is not None:
            await self._step("stop the emulator", emulator.stop())
        if self._on_closed is not None:
            self._on_closed(self)

    async def _step(self, what: str, step: Coroutine[Any, Any, None]) -> None:
        """One step of closing: a failure is logged and the next steps still run."""
        try:
            await step
        except Exception:
            log.exception("bridge %s: could not %s", self.id[:8], what)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=f"playground-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("bridge %s: %s crashed", self.id[:8], task.get_name(), exc_info=exc)
            self._send_error(exc, task.get_name().removeprefix("playground-"))


def _parse_command(raw: str | bytes) -> dict[str, Any]:
    message: Any = json.loads(raw)
    if not isinstance(message, dict) or not isinstance(cast(dict[str, Any], message).get("type"), str):
        raise ValueError("a command is a JSON object with a string 'type'")
    return cast(dict[str, Any], message)
