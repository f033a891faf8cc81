"""WebRTC for the OpenAI emulator: ``POST /v1/realtime/calls`` answered by an aiortc peer on loopback.

A call is one :class:`RtcConnection`: the GA connection (session, VAD, conversation, replies through the
core framework's turn template) with the transport swapped (protocol notes §1.3 and §12 item 15):

* client events arrive on the ``oai-events`` data channel the client created, server events leave on it,
  starting with ``session.created`` when the channel opens; never ``response.output_audio.delta``;
* user audio arrives as Opus on the inbound track (48 kHz), is resampled to 24 kHz mono and goes into the
  same input buffer and VAD as WebSocket appends (``input_audio_buffer.append`` is refused); it is read in a
  task of its own, so a barge-in is heard while a reply plays, whatever the inbox is doing;
* reply audio plays out on the outbound track (:class:`~realtime_openai.emulator.playout.PlayoutTrack`),
  announced by ``output_audio_buffer.started``; ``.stopped`` follows once its playback drained (after
  ``response.done``); a VAD barge-in or the client's ``output_audio_buffer.clear`` stops it at once
  (``.cleared``) and the server truncates the assistant item to the audio actually played.

aiortc is imported by this module only; the emulator loads it when it starts (not inside a request).
Host candidates come from aiortc, which skips loopback: on a machine with no other address the answer would
carry no candidate and the call could never connect, so such a call is refused with a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from typing import TYPE_CHECKING, Any, cast

import av
from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from realtime_core import PcmData, Resampler
from realtime_core.emulator import BadMessage, ReplyStream, audio_format
from realtime_openai_protocol.emulator import RequestError

from .ga_connection import GaConnection
from .http_answers import http_error
from .playout import RTC_RATE, Playback, PlayoutTrack

if TYPE_CHECKING:
    from .server import OpenAIEmulator

__all__ = ["NO_CANDIDATES", "RtcConnection", "answer_call", "hangup_call"]

log = logging.getLogger("realtime_openai.emulator.webrtc")

_CHANNEL_LABEL = "oai-events"
_END = object()
NO_CANDIDATES = (
    "the emulator's WebRTC answer has no ICE candidate: aiortc offers host addresses only and skips loopback, "
    "and this machine has no other network address. Run it on a machine (or container) with a non-loopback "
    "interface, or use the WebSocket transport."
)


class RtcConnection(GaConnection):
    """One WebRTC call (see the module docstring)."""

    def __init__(self, emulator: OpenAIEmulator, request: web.Request, number: int, config: dict[str, Any], *, call_id: str) -> None:
        super().__init__(emulator, request, None, number, config)
        self.call_id = call_id
        self.offer_content_type = ""
        """How the offer came: ``application/sdp`` or ``multipart/form-data``."""
        self.ephemeral = False
        """Whether an ``ek_`` client secret created the call."""
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel: RTCDataChannel | None = None
        self.playout = PlayoutTrack(speed=emulator.webrtc_playout_speed, on_started=self._playback_started,
                                    on_drained=self._playback_drained)  # fmt: skip
        self.ended = asyncio.Event()
        self.routes["input_audio_buffer.append"] = self.on_append_refused
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._listening = False
        self._runner: asyncio.Task[None] | None = None
        self._torn_down = False

    # ------------------------------------------------------------------ signalling
    async def answer(self, offer: str) -> str:
        """Take the client's offer; return the SDP answer (with its host candidates: no trickle ICE).

        :raises LookupError: the answer has no candidate (see :data:`NO_CANDIDATES`).
        """
        pc = self.pc
        pc.on("datachannel", self._on_datachannel)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        pc.addTrack(self.playout)  # binds to the audio transceiver the offer created
        await pc.setLocalDescription(await pc.createAnswer())
        sdp = pc.localDescription.sdp
        if "a=candidate:" not in sdp:
            raise LookupError(NO_CANDIDATES)
        limit = self.emulator.webrtc_max_message_size
        if limit is not None:  # advertise a smaller data channel message limit (aiortc's own is 256 KiB)
            sdp = re.sub(r"a=max-message-size:\d+", f"a=max-message-size:{int(limit)}", sdp)
        return sdp

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != _CHANNEL_LABEL or self.channel is not None:
            return  # the API only speaks on oai-events
        self.channel = channel
        channel.on("message", self._inbox.put_nowait)
        channel.on("close", lambda: self._inbox.put_nowait(_END))
        if channel.readyState == "open":
            self._start()
        else:
            channel.on("open", self._start)

    def _start(self) -> None:
        if self._runner is None and not self.closed:
            self._runner = self.emulator.spawn_call_task(self.run(), f"emulator-call-{self.number}")

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self.spawn(self._read_audio(track), "call-audio")

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self._inbox.put_nowait(_END)

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        """The mic track, heard in its own task: VAD events (a barge-in) never wait for the inbox."""
        resampler = Resampler(self.emulator.input_sample_rate, 1)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not self._listening or self.closed:
                continue  # before session.created / after the end: the server is not listening
            wire = PcmData.from_av_frame(cast(av.AudioFrame, frame))
            self.account_audio_in(wire)  # as it arrived: Opus decodes to 48 kHz
            pcm = resampler.process(wire)
            if pcm:
                await self.hear(pcm)

    def audio_formats(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """On a call the audio travels as Opus at 48 kHz both ways, whatever PCM format the session names
        (that one applies to WebSocket appends and deltas only)."""
        return audio_format(RTC_RATE, "opus"), audio_format(RTC_RATE, "opus")

    # ------------------------------------------------------------------ the framework's transport hooks
    async def on_open(self) -> None:
        self._listening = True
        await super().on_open()

    async def receive(self) -> Any | None:
        item = await self._inbox.get()
        return None if item is _END else item

    def decode(self, frame: Any) -> Any:
        if not isinstance(frame, str):
            raise BadMessage("invalid_event", "Binary messages are not supported; send JSON text.")
        return super().decode(frame)

    async def send_frame(self, frame: str | bytes) -> None:
        channel = self.channel
        if channel is None or channel.readyState != "open":
            raise ConnectionError("the data channel is not open")
        text = frame if isinstance(frame, str) else frame.decode()
        try:
            channel.send(text)
        except ValueError:  # over the client's max-message-size: the real server would not send it either
            log.warning("emulator: a %d-byte event exceeds the client's data channel limit; dropped", len(text))

    async def close_transport(self, code: int | None, reason: str) -> None:
        """Hang up: flush the data channel (unless ``code`` is None: an abrupt drop), close the peer
        connection (the client sees it closed; WebRTC has no close codes)."""
        channel = self.channel
        if code is not None and channel is not None and channel.bufferedAmount and channel.readyState == "open":
            drained = asyncio.Event()  # let what was sent before the hangup reach the client
            channel.on("bufferedamountlow", drained.set)  # threshold 0: fires once everything went out
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await drained.wait()
        self._inbox.put_nowait(_END)
        await self.teardown()

    async def on_closed(self) -> None:
        await self.teardown()

    async def hung_up(self) -> None:
        """The client ended the call (``POST .../hangup``): it closed the connection, as a WebSocket client
        closes its socket (``client_closed``); the server then releases the peer connection."""
        if not self.closed:
            self.closed = True  # before close(): the client ended it, not the server
            self.closed_by = "client"
            self.note("client_closed", code=None)
        await self.close(1000, "hangup")

    async def teardown(self) -> None:
        """Release the peer connection and the tracks (idempotent)."""
        if self._torn_down:
            return
        self._torn_down = True
        self.closed = True
        self._listening = False
        self.playout.stop()
        with contextlib.suppress(Exception):
            await self.pc.close()
        self._inbox.put_nowait(_END)
        self.ended.set()
        self.emulator.call_ended(self)

    async def partition(self) -> None:
        """The network between the peers dies: this side goes quiet without a word to the client."""
        self._listening = False
        self.playout.stop()
        await self.silence_ice()
        await self.close(None, "partitioned")

    async def silence_ice(self) -> None:
        """Close this peer's ICE sockets without sending anything: no connectivity check is ever answered
        again (the call itself stays until hung up)."""
        sctp = self.pc.sctp
        ice: Any = sctp.transport.transport if sctp is not None else None
        connection: Any = getattr(ice, "_connection", None)  # aioice's Connection
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    # ------------------------------------------------------------------ reply audio: the track, not events
    async def send_audio_delta(self, reply: ReplyStream, ids: dict[str, Any], audio: PcmData) -> None:
        self.playout.enqueue(reply.id, ids["item_id"], audio)

    async def reply_finished(self, reply: ReplyStream) -> None:
        await super().reply_finished(reply)
        self.playout.finish(reply.id)  # generation ended: play the rest, then drain

    async def reply_played(self, reply: ReplyStream) -> None:
        """A reply is over once its playback drained (only awaited when ``after_reply`` faults are scripted;
        the turn player's task waits here, never the inbox)."""
        await self.playout.played(reply.id)

    def _playback_started(self, pb: Playback) -> None:
        self.spawn(self.send({"type": "output_audio_buffer.started", "response_id": pb.response_id}), "started")

    def _playback_drained(self, pb: Playback) -> None:
        self.spawn(self.send({"type": "output_audio_buffer.stopped", "response_id": pb.response_id}), "stopped")

    async def clear_output(self) -> bool:
        """Stop the playout now: ``output_audio_buffer.cleared``, and the items truncated to what was played."""
        cleared = self.playout.clear()
        if not cleared:
            return False
        await self.send({"type": "output_audio_buffer.cleared", "response_id": cleared[0].response_id})
        for pb in cleared:
            item = self.conversation.get(pb.item_id)
            if item is not None and item.is_assistant_message:
                await self._truncate_played(item, min(int(pb.played_ms), int(item.audio_ms)))
        return True

    async def _truncate_played(self, item: Any, end_ms: int) -> None:
        if self.emulator.webrtc_truncated_event:
            await self.items.truncate(item, end_ms, by="server")
            return
        self.note("truncate", item_id=item.id, audio_end_ms=end_ms, sent_ms=item.sent_ms, by="server")
        del item.audio[int(end_ms * item.rate / 500) :]

    # ------------------------------------------------------------------ client events that differ
    async def on_append_refused(self, msg: dict[str, Any]) -> None:
        raise RequestError(
            "invalid_value",
            "input_audio_buffer.append is not supported on WebRTC connections: send audio on the media track.",
            "type",
        )

    async def on_output_audio_clear(self, msg: dict[str, Any]) -> None:
        await self.clear_output()

    async def barge_in(self) -> None:
        """The user spoke: cut the generation (the template) and, at once, the playout of a reply the user
        still hears even if its generation ended long ago (real servers do both)."""
        generating = self.turns.current is not None and self.turns.current.status == "streaming"
        await super().barge_in()
        playing = self.playout.playing
        if playing is None:
            return
        if not generating:
            self.note("barge_in", response_id=playing.response_id)
        await self.clear_output()


# ====================================================================== the HTTP endpoints
def _field_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, web.FileField):
        return value.file.read().decode("utf-8", "replace")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


async def _call_config(emu: OpenAIEmulator, request: web.Request, bound: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | web.Response:
    """The offer and the session of a call, or the error answer."""
    ctype = request.content_type
    if ctype == "application/sdp":
        offer = await request.text()
        model = request.query.get("model")
        if bound is not None:
            return offer, dict(bound)
        if model:
            if not emu.known_model(model):
                return http_error(400, "invalid_model", f"The model '{model}' does not exist or you do not have access to it.", "model")
            return offer, emu.schema.defaults(model)
        return http_error(400, "missing_required_parameter",
                          "Missing required parameter: 'session'. A raw SDP offer needs an ephemeral key (ek_...) that "
                          "carries the session; with a standard key send multipart/form-data with 'sdp' and 'session'.", "session")  # fmt: skip
    if ctype != "multipart/form-data":
        return http_error(400, "unsupported_content_type", f"Unsupported content type {ctype!r}: send application/sdp or multipart/form-data.")
    form = await request.post()
    offer = _field_text(form.get("sdp")) or ""
    raw_session = _field_text(form.get("session"))
    session: Any = {}
    if raw_session is not None:
        try:
            session = json.loads(raw_session)
        except ValueError:
            return http_error(400, "invalid_json", "We could not parse the JSON of the 'session' field.", "session")
        if not isinstance(session, dict):
            return http_error(400, "invalid_type", "Invalid type for 'session': expected an object.", "session")
    model: Any = session.get("model")  # pyright: ignore[reportUnknownMemberType]
    if isinstance(model, str) and not emu.known_model(model):
        return http_error(400, "invalid_model", f"The model '{model}' does not exist or you do not have access to it.", "session.model")
    base = dict(bound) if bound is not None else emu.schema.defaults(model if isinstance(model, str) else emu.model)
    try:
        return offer, emu.schema.apply_update(base, session, audio_produced=False) if session else base
    except RequestError as exc:
        return http_error(400, exc.code, exc.message, exc.param)


async def answer_call(emu: OpenAIEmulator, request: web.Request) -> web.StreamResponse:
    """``POST /v1/realtime/calls``: ``application/sdp`` (the body is the offer; an ``ek_`` key carries the
    session) or ``multipart/form-data`` (``sdp`` + ``session``); 201, the SDP answer and ``Location``."""
    if request.headers.get("OpenAI-Beta"):
        return http_error(400, "beta_api_shape_disabled", "The beta Realtime API shape is disabled; drop the OpenAI-Beta header.")
    key, _ = emu.key_of(request)
    valid, bound = emu.session_for_key(key)
    if not valid:
        return http_error(401, "invalid_api_key", emu.bad_key_message(key))
    found = await _call_config(emu, request, bound)
    if isinstance(found, web.Response):
        return found
    offer, config = found
    if not offer.startswith("v=0") or "m=audio" not in offer:
        return http_error(400, "invalid_offer", "Invalid 'sdp': expected an SDP offer with an audio section.", "sdp")
    if "webrtc-datachannel" not in offer:  # the events go there (no sideband WebSocket in this emulator)
        return http_error(400, "invalid_offer", "Invalid 'sdp': the offer has no data channel; create 'oai-events' first.", "sdp")
    call_id = "rtc_" + secrets.token_hex(16)
    conn = RtcConnection(emu, request, emu.new_connection(), config, call_id=call_id)
    try:
        answer = await conn.answer(offer)
    except LookupError as exc:
        log.error("emulator: %s", exc)
        await conn.teardown()
        return http_error(503, "no_ice_candidates", str(exc), kind="server_error")
    except Exception as exc:
        await conn.teardown()
        return http_error(400, "invalid_offer", f"Invalid 'sdp': {exc}", "sdp")
    conn.offer_content_type = request.content_type
    conn.ephemeral = bound is not None
    emu.call_started(conn)
    if emu.webrtc_ice_failure:
        await conn.silence_ice()  # the answer is fine, but nothing will ever answer the client's checks
    return web.Response(status=201, body=answer.encode(), content_type="application/sdp",
                        headers={"Location": f"/v1/realtime/calls/{call_id}"})  # fmt: skip


async def hangup_call(emu: OpenAIEmulator, request: web.Request) -> web.StreamResponse:
    """``POST /v1/realtime/calls/{call_id}/hangup``."""
    key, _ = emu.key_of(request)
    valid, _ = emu.session_for_key(key)
    if not valid:
        return http_error(401, "invalid_api_key", emu.bad_key_message(key))
    call_id = request.match_info["call_id"]
    conn = emu.call(call_id)
    if conn is None:
        return http_error(404, "call_not_found", f"Call '{call_id}' not found.", "call_id")
    conn.note("session_finished", how="hangup", call_id=call_id)
    await conn.hung_up()
    return web.json_response({})
