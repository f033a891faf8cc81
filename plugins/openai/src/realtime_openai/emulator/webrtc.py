"""WebRTC for the OpenAI emulator: ``POST /v1/realtime/calls`` answered by an aiortc peer on loopback.

A call is one :class:`RtcConnection`: the protocol machinery of a WebSocket connection
(:class:`~realtime_openai.emulator.connection.EmulatedConnection`: session, VAD, conversation,
responses, faults) with the transport swapped (protocol notes §1.3 and §12 item 15):

* client events arrive on the ``oai-events`` data channel the client created, server events leave on it,
  starting with ``session.created`` when the channel opens; never ``response.output_audio.delta``;
* user audio arrives as Opus on the inbound track (48 kHz stereo), is resampled to 24 kHz mono and goes
  into the same input buffer and VAD as WebSocket appends (``input_audio_buffer.append`` is rejected);
* reply audio plays out on the outbound track (:class:`PlayoutTrack`, ``speed`` times real time, silence
  between replies as a live peer sends it), announced by ``output_audio_buffer.started``; ``.stopped``
  follows once its playback drained (after ``response.done``); a VAD barge-in or the client's
  ``output_audio_buffer.clear`` throws the rest away (``.cleared``) and the server truncates the
  assistant item to the audio actually played (the ``truncate`` fact).

aiortc is imported by this module only; the emulator loads it on the first call.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fractions
import json
import logging
import re
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import av
import numpy as np
from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from realtime_core import PcmData, Resampler
from realtime_core.emulator import VadEvent

from ..protocol import new_id
from .connection import EmulatedConnection
from .wire import RequestError

if TYPE_CHECKING:
    from .server import OpenAIEmulator

__all__ = ["PlayoutTrack", "RtcConnection", "answer_call", "hangup_call"]

log = logging.getLogger("realtime_openai.emulator.webrtc")

RTC_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz, what aiortc's Opus encoder packs per packet
FRAME_BYTES = FRAME_SAMPLES * 2
FRAME_S = 0.02
_SILENCE = bytes(FRAME_BYTES)
_STALL_S = 0.1  # a reply whose audio stalls this long gets silence in between (the stream keeps flowing)
_TIME_BASE = fractions.Fraction(1, RTC_RATE)
_CHANNEL_LABEL = "oai-events"


def _http_error(status: int, code: str | None, message: str, param: str | None = None) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}, status=status
    )


# ====================================================================== outbound audio
@dataclass
class Playback:
    """One reply's audio on its way out: queued PCM at 48 kHz and how much of it was played."""

    response_id: str
    item_id: str
    pcm: bytearray = field(default_factory=bytearray)
    resampler: Resampler = field(default_factory=lambda: Resampler(RTC_RATE, 1))
    played_samples: int = 0
    finished: bool = False
    announced: bool = False

    @property
    def played_ms(self) -> float:
        return self.played_samples * 1000 / RTC_RATE


class PlayoutTrack(MediaStreamTrack):
    """The emulator's outbound audio track.

    Replies play one after the other, ``speed`` times faster than real time (1.0 is what a real peer
    does; tests speed it up); between replies it sends silence in real time, as a live WebRTC peer does
    (which also pushes the last packets of a reply out of the client's jitter buffer).

    :param on_started: called when a reply starts playing (``output_audio_buffer.started``).
    :param on_drained: called once the last frame of a finished reply was sent (``.stopped``).
    """

    kind = "audio"

    def __init__(
        self,
        *,
        speed: float = 1.0,
        on_started: Callable[[Playback], None],
        on_drained: Callable[[Playback], None],
    ) -> None:
        super().__init__()
        self.speed = speed
        self._on_started = on_started
        self._on_drained = on_drained
        self._queue: deque[Playback] = deque()
        self._by_id: dict[str, Playback] = {}
        self._gone: set[str] = set()
        self._wake = asyncio.Event()
        self._clock: float | None = None
        self._starved_at: float | None = None
        self._pts = 0
        self.drained = asyncio.Event()
        """Set while no reply is queued (nothing but silence goes out)."""
        self.drained.set()

    @property
    def playing(self) -> Playback | None:
        """The reply being played out (or waiting for its next audio), if any."""
        return self._queue[0] if self._queue else None

    def enqueue(self, response_id: str, item_id: str, pcm: PcmData) -> None:
        """More audio of a reply (any rate, mono); ignored once that reply was cleared or drained."""
        if response_id in self._gone:
            return
        pb = self._by_id.get(response_id)
        if pb is None:
            pb = self._by_id[response_id] = Playback(response_id, item_id)
            self._queue.append(pb)
            self.drained.clear()
            if pb is self._queue[0]:
                self._announce(pb)
        pb.pcm += pb.resampler.process(pcm).samples.tobytes()
        self._wake.set()

    def finish(self, response_id: str) -> None:
        """The reply's generation ended: play what is queued, then drain."""
        pb = self._by_id.get(response_id)
        if pb is None or pb.finished:
            return
        pb.pcm += pb.resampler.flush().samples.tobytes()
        pb.finished = True
        self._wake.set()

    def clear(self) -> list[Playback]:
        """Throw away every queued reply (the first one is the one playing); return them."""
        cleared = list(self._queue)
        self._queue.clear()
        for pb in cleared:
            self._by_id.pop(pb.response_id, None)
            self._gone.add(pb.response_id)
        self._clock = None
        self._wake.set()
        self.drained.set()
        return cleared

    def stop(self) -> None:
        super().stop()
        self._wake.set()
        self.drained.set()

    def _announce(self, pb: Playback) -> None:
        if not pb.announced:
            pb.announced = True
            self._on_started(pb)

    async def _sleep_until(self, at: float) -> bool:
        """Wait until ``at`` (loop time); True if woken earlier by new audio, a clear or a stop."""
        delay = at - asyncio.get_running_loop().time()
        if delay <= 0:
            return False
        self._wake.clear()
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            now = loop.time()
            if self._clock is None or self._clock < now - 0.1:
                self._clock = now  # (re)anchor: never try to catch up on time lost while idle
            head = self._queue[0] if self._queue else None
            if head is not None:
                self._announce(head)
                if len(head.pcm) >= FRAME_BYTES or (head.finished and head.pcm):
                    if await self._sleep_until(self._clock):
                        continue  # something changed (a clear, a stop): look again
                    data = bytes(head.pcm[:FRAME_BYTES])
                    del head.pcm[:FRAME_BYTES]
                    head.played_samples += len(data) // 2
                    self._clock += FRAME_S / self.speed
                    self._starved_at = None
                    return self._frame(data.ljust(FRAME_BYTES, b"\x00"))
                if head.finished:  # drained: this call means its last frame went out
                    self._queue.popleft()
                    self._by_id.pop(head.response_id, None)
                    self._gone.add(head.response_id)
                    self._clock = now
                    self._on_drained(head)
                    if not self._queue:
                        self.drained.set()
                    continue
                # the reply is still being generated and its audio ran short: wait for more
                if self._starved_at is None:
                    self._starved_at = now
                if await self._sleep_until(max(self._clock, self._starved_at + _STALL_S)):
                    continue
            elif await self._sleep_until(self._clock):
                continue
            self._clock = max(self._clock, loop.time() - 0.1) + FRAME_S
            return self._frame(_SILENCE)

    def _frame(self, data: bytes) -> av.AudioFrame:
        frame = av.AudioFrame.from_ndarray(np.frombuffer(data, np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RTC_RATE
        frame.pts = self._pts
        frame.time_base = _TIME_BASE
        self._pts += FRAME_SAMPLES
        return frame


# ====================================================================== one call
class RtcConnection(EmulatedConnection):
    """One WebRTC call: :class:`EmulatedConnection` over a data channel and two audio tracks."""

    def __init__(
        self,
        emulator: OpenAIEmulator,
        request: web.Request,
        number: int,
        config: dict[str, Any],
        *,
        call_id: str,
    ) -> None:
        super().__init__(emulator, cast(Any, None), request, number, config)
        self.call_id = call_id
        self.offer_content_type = ""
        """How the offer came: ``application/sdp`` or ``multipart/form-data``."""
        self.ephemeral = False
        """Whether an ``ek_`` client secret created the call."""
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel: RTCDataChannel | None = None
        self.playout = PlayoutTrack(
            speed=emulator.webrtc_playout_speed, on_started=self._playback_started, on_drained=self._playback_drained
        )
        self.ended = asyncio.Event()
        self._inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._running = False
        self._runner: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._torn_down = False

    # ------------------------------------------------------------------ signalling
    async def answer(self, offer: str) -> str:
        """Take the client's offer; return the SDP answer (with its host candidates: no trickle ICE)."""
        pc = self.pc
        pc.on("datachannel", self._on_datachannel)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        pc.addTrack(self.playout)  # binds to the audio transceiver the offer created
        await pc.setLocalDescription(await pc.createAnswer())
        sdp = pc.localDescription.sdp
        limit = self.emu.webrtc_max_message_size
        if limit is not None:  # advertise a smaller data channel message limit (aiortc's own is 256 KiB)
            sdp = re.sub(r"a=max-message-size:\d+", f"a=max-message-size:{int(limit)}", sdp)
        return sdp

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != _CHANNEL_LABEL or self.channel is not None:
            return  # the API only speaks on oai-events
        self.channel = channel

        def on_message(message: str | bytes) -> None:
            self._inbox.put_nowait(("text", message) if isinstance(message, str) else ("binary", message))

        channel.on("message", on_message)
        channel.on("close", lambda: self._inbox.put_nowait(("end", "data channel closed")))
        if channel.readyState == "open":
            self._start()
        else:
            channel.on("open", self._start)

    def _start(self) -> None:
        if self._runner is None and not self.closed:
            self._runner = self.emu.spawn_call_task(self.run(), f"emulator-call-{self.number}")

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._reader is None:
            self._reader = self.emu.spawn_call_task(self._read_audio(track), f"emulator-call-{self.number}-audio")

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self._inbox.put_nowait(("end", f"peer connection {self.pc.connectionState}"))

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        resampler = Resampler(self._rate, 1)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not self._running or self.closed:
                continue  # before session.created / after the end: the server is not listening
            pcm = resampler.process(PcmData.from_av_frame(cast(av.AudioFrame, frame)))
            if pcm:
                self._inbox.put_nowait(("audio", pcm))

    # ------------------------------------------------------------------ the connection's life
    async def run(self) -> None:
        self._running = True
        self._spawn(self._expire_later(), "expiry")
        for index, fault in self.emu.player.timed_faults():
            self._spawn(self._timed_fault(index, fault), "timed-fault")
        try:
            await self.send({"type": "session.created", "session": self.session_echo()})
            while not self.closed:
                kind, payload = await self._inbox.get()
                if kind == "text":
                    await self._on_text(payload)
                elif kind == "audio":
                    await self.feed_audio(payload)
                elif kind == "binary":
                    await self.send_error(
                        RequestError("invalid_value", "Binary messages are not supported; send JSON text.", None)
                    )
                else:
                    break
        finally:
            self.closed = True
            run = self.response
            tasks = [t for t in self._tasks if not t.done()]
            if run is not None and run.task is not None and not run.task.done():
                tasks.append(run.task)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await self.teardown()

    async def teardown(self) -> None:
        """Release the peer connection and the tracks (idempotent)."""
        if self._torn_down:
            return
        self._torn_down = True
        self.closed = True
        self.playout.stop()
        with contextlib.suppress(Exception):
            await self.pc.close()
        reader = self._reader
        if reader is not None and reader is not asyncio.current_task() and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        self.ended.set()
        self.emu.call_ended(self)

    async def close(self, code: int | None = None, message: str = "") -> None:
        """Hang up on the client: flush the data channel (unless ``code`` is None: an abrupt drop), then
        close the peer connection (the client sees it closed; there are no close codes on WebRTC)."""
        if self.closed:
            return
        self.closed = True
        channel = self.channel
        if code is not None and channel is not None and channel.bufferedAmount and channel.readyState == "open":
            drained = asyncio.Event()  # let what was sent before the hangup reach the client
            channel.on("bufferedamountlow", drained.set)  # threshold 0: fires once everything went out
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await drained.wait()
        self._inbox.put_nowait(("end", "closed by the server"))
        if self._runner is None:
            await self.teardown()

    async def partition(self) -> None:
        """The network between the peers dies: this side goes quiet without a word to the client."""
        if self.closed:
            return
        self.closed = True
        self.playout.stop()
        await self.silence_ice()
        self._inbox.put_nowait(("end", "partitioned"))
        if self._runner is None:
            await self.teardown()

    async def silence_ice(self) -> None:
        """Close this peer's ICE sockets without sending anything: no connectivity check is ever answered
        again (the call itself stays until hung up)."""
        sctp = self.pc.sctp
        ice: Any = sctp.transport.transport if sctp is not None else None
        connection: Any = getattr(ice, "_connection", None)  # aioice's Connection
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    # ------------------------------------------------------------------ sending
    async def send(self, event: dict[str, Any]) -> None:
        self.emit(event)

    def emit(self, event: dict[str, Any]) -> None:
        """Send one server event now (the data channel queues synchronously); reply audio goes to the track."""
        if self.closed:
            return
        kind = event.get("type")
        if kind == self.dialect.audio_delta:
            pcm = PcmData.from_bytes(base64.b64decode(event["delta"]), self.emu.output_sample_rate)
            self.playout.enqueue(event["response_id"], event["item_id"], pcm)
            return
        if kind == "response.done":
            self.playout.finish(event["response"]["id"])  # generation ended: play the rest, then drain
        full = {"event_id": new_id("event"), **event}
        self.emu.log_server_event(self.number, full)
        self._send_text(json.dumps(full, separators=(",", ":")))

    async def send_raw(self, text: str) -> None:
        self._send_text(text)

    def _send_text(self, text: str) -> None:
        channel = self.channel
        if channel is None or channel.readyState != "open":
            return
        try:
            channel.send(text)
        except ValueError:
            log.warning("emulator: a %d-byte event exceeds the client's data channel limit; dropped", len(text))
        except Exception:  # the channel is going away; the inbox hears about it
            log.debug("emulator: data channel send failed", exc_info=True)

    # ------------------------------------------------------------------ audio out
    def _playback_started(self, pb: Playback) -> None:
        self.emit({"type": "output_audio_buffer.started", "response_id": pb.response_id})

    def _playback_drained(self, pb: Playback) -> None:
        self.emit({"type": "output_audio_buffer.stopped", "response_id": pb.response_id})

    def response_finished(self, run: Any) -> None:
        super().response_finished(run)
        self.playout.finish(run.id)

    async def apply_turn_faults(self, turn_index: int, phase: str) -> bool:
        if phase == "after_reply":
            # on WebRTC a reply is over when its playback drained, not when its generation ended
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    await self.playout.drained.wait()
        return await super().apply_turn_faults(turn_index, phase)

    async def _clear_output(self) -> bool:
        """Throw away the audio not played yet and truncate the items to what was played."""
        cleared = self.playout.clear()
        if not cleared:
            return False
        await self.send({"type": "output_audio_buffer.cleared", "response_id": cleared[0].response_id})
        for pb in cleared:
            await self._truncate_played(pb)
        return True

    async def _truncate_played(self, pb: Playback) -> None:
        item = self.conversation.get(pb.item_id)
        if item is None or not item.is_assistant_message:
            return
        end_ms = min(int(pb.played_ms), int(item.audio_ms))
        self.emu.note("truncate", self.number, item_id=item.id, audio_end_ms=end_ms, sent_ms=item.sent_ms, by="server")
        del item.audio[int(end_ms * item.rate / 500) :]  # 2 bytes per sample
        content = item.data.get("content") or []
        if content:
            content[0]["transcript"] = ""
        if self.emu.webrtc_truncated_event:
            await self.send(
                {"type": "conversation.item.truncated", "item_id": item.id, "content_index": 0, "audio_end_ms": end_ms}
            )

    # ------------------------------------------------------------------ client events that differ
    async def _on_append(self, msg: dict[str, Any]) -> None:
        raise RequestError(
            "invalid_value",
            "input_audio_buffer.append is not supported on WebRTC connections: send audio on the media track.",
            "type",
        )

    async def _on_output_audio_clear(self, msg: dict[str, Any]) -> None:
        await self._clear_output()

    async def _on_vad(self, vad_event: VadEvent) -> None:
        run = self.response
        generating = run is not None and not run.cancelled
        await super()._on_vad(vad_event)  # speech_started, and the cancel of a reply being generated
        if vad_event.kind != "start" or self.playout.playing is None:
            return
        td = self._turn_detection() or {}
        if not td.get("interrupt_response", True):
            return
        if not generating:  # generation had ended but the user still hears the reply: cut it off too
            self.emu.note("barge_in", self.number, response_id=self.playout.playing.response_id)
        await self._clear_output()


# ====================================================================== the HTTP endpoints
def _field_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, web.FileField):
        return value.file.read().decode("utf-8", "replace")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


async def answer_call(emu: OpenAIEmulator, request: web.Request) -> web.StreamResponse:
    """``POST /v1/realtime/calls``: ``application/sdp`` (the body is the offer; an ``ek_`` key carries the
    session) or ``multipart/form-data`` (``sdp`` + ``session``); 201, the SDP answer and ``Location``."""
    if request.headers.get("OpenAI-Beta"):
        return _http_error(400, "unsupported_protocol", "This emulator speaks the GA Realtime protocol only.")
    key, _ = emu.key_of(request)
    valid, bound = emu.session_for_key(key)
    if not valid:
        return _http_error(401, "invalid_api_key", emu.bad_key_message(key))
    ctype = request.content_type
    if ctype == "application/sdp":
        offer = await request.text()
        if bound is not None:
            config = dict(bound)
        elif request.query.get("model"):
            config = emu.schema.defaults(request.query["model"])
        else:
            return _http_error(
                400,
                "missing_required_parameter",
                "Missing required parameter: 'session'. A raw SDP offer needs an ephemeral key (ek_...) that "
                "carries the session; with a standard key send multipart/form-data with 'sdp' and 'session'.",
                "session",
            )
    elif ctype == "multipart/form-data":
        form = await request.post()
        offer = _field_text(form.get("sdp")) or ""
        raw_session = _field_text(form.get("session"))
        session: Any = {}
        if raw_session is not None:
            try:
                session = json.loads(raw_session)
            except ValueError:
                return _http_error(
                    400, "invalid_json", "We could not parse the JSON of the 'session' field.", "session"
                )
            if not isinstance(session, dict):
                return _http_error(400, "invalid_type", "Invalid type for 'session': expected an object.", "session")
        model: Any = session.get("model")  # pyright: ignore[reportUnknownMemberType]
        base = dict(bound) if bound is not None else emu.schema.defaults(model if isinstance(model, str) else emu.model)
        try:
            config = emu.schema.apply_update(base, session, audio_produced=False) if session else base
        except RequestError as exc:
            return _http_error(400, exc.code, exc.message, exc.param)
    else:
        return _http_error(
            400,
            "unsupported_content_type",
            f"Unsupported content type {ctype!r}: send application/sdp or multipart/form-data.",
        )
    if not offer.startswith("v=0") or "m=audio" not in offer:
        return _http_error(400, "invalid_offer", "Invalid 'sdp': expected an SDP offer with an audio section.", "sdp")
    if "webrtc-datachannel" not in offer:  # the events go there (no sideband WebSocket in this emulator)
        return _http_error(
            400, "invalid_offer", "Invalid 'sdp': the offer has no data channel; create 'oai-events' first.", "sdp"
        )
    call_id = "rtc_" + secrets.token_hex(16)
    conn = RtcConnection(emu, request, emu.new_connection(), config, call_id=call_id)
    try:
        answer = await conn.answer(offer)
    except Exception as exc:
        await conn.teardown()
        return _http_error(400, "invalid_offer", f"Invalid 'sdp': {exc}", "sdp")
    conn.offer_content_type = ctype
    conn.ephemeral = bound is not None
    emu.call_started(conn)
    if emu.webrtc_ice_failure:
        await conn.silence_ice()  # the answer is fine, but nothing will ever answer the client's checks
    return web.Response(
        status=201,
        body=answer.encode(),
        content_type="application/sdp",
        headers={"Location": f"/v1/realtime/calls/{call_id}"},
    )


async def hangup_call(emu: OpenAIEmulator, request: web.Request) -> web.StreamResponse:
    """``POST /v1/realtime/calls/{call_id}/hangup``."""
    key, _ = emu.key_of(request)
    valid, _ = emu.session_for_key(key)
    if not valid:
        return _http_error(401, "invalid_api_key", emu.bad_key_message(key))
    call_id = request.match_info["call_id"]
    conn = emu.call(call_id)
    if conn is None:
        return _http_error(404, "call_not_found", f"Call '{call_id}' not found.", "call_id")
    emu.note("session_finished", conn.number, how="hangup", call_id=call_id)
    await conn.close(1000, "hangup")
    return web.json_response({})
