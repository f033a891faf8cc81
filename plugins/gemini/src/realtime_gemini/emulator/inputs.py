"""The client's realtime input on one emulated connection: audio through the VAD, video frames, text,
manual activity, and what new user input does to a reply in progress (barge-in)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from realtime_core import PcmData, Resampler
from realtime_core.emulator import VadEvent

from . import messages as msg
from .media import image_size
from .schema import INVALID_ARGUMENT, WireError, decode_bytes
from .setup import VAD_RATE
from .store import Turn

if TYPE_CHECKING:
    from .connection import GeminiConnection

__all__ = ["ClientInput"]


class ClientInput:
    """One connection's ``realtimeInput`` (owned by its :class:`GeminiConnection`).

    :ivar audio_ms: user audio received on this connection (the clock of ``voiceActivity`` offsets).
    :ivar prompt_audio_ms: speech that went into turns so far, ``prompt_chars`` text and ``images``
        frames (for plausible usage numbers).
    """

    def __init__(self, conn: GeminiConnection) -> None:
        self.conn = conn
        self.audio_ms = 0.0
        self.activity_open = False
        self.prompt_audio_ms = 0.0
        self.prompt_chars = 0
        self.images = 0
        self._activity_audio: list[PcmData] = []
        self._resampler: Resampler | None = None

    async def realtime_input(self, body: dict[str, Any]) -> None:
        conn = self.conn
        vertex = conn.route.api == "vertex"
        if "activityStart" in body:
            await self._on_activity_start()
        if "audio" in body:
            await self.audio(body["audio"].get("mimeType", ""), body["audio"].get("data", ""))
        if "video" in body:
            self._on_video(body["video"])
        if body.get("mediaChunks"):
            blob = body["mediaChunks"][0]  # deprecated field: only the first element counts
            mime = str(blob.get("mimeType", ""))
            if mime.startswith("audio/"):
                await self.audio(mime, blob.get("data", ""))
            else:
                self._on_video(blob)
        if "text" in body:
            if vertex:
                raise WireError(1007, INVALID_ARGUMENT)
            await self._on_text(body["text"])
        if "activityEnd" in body:
            await self._on_activity_end()
        if body.get("audioStreamEnd"):
            if vertex:
                raise WireError(1007, INVALID_ARGUMENT)
            vad = conn.session_setup.vad
            if vad is not None:
                event = vad.force_stop()
                vad.reset()
                if event is not None:
                    await self._on_vad(event)

    async def audio(self, mime: str, data: str) -> None:
        conn = self.conn
        if not mime.lower().startswith("audio/pcm"):
            raise WireError(1007, f"Unsupported MIME type for realtime audio: {mime}. {INVALID_ARGUMENT}")
        rate = _rate(mime)
        raw = decode_bytes(data, "realtime_input.audio.data")
        pcm = PcmData.from_bytes(raw[: len(raw) // 2 * 2], rate)
        conn.account_audio_in(pcm)
        self.audio_ms += pcm.duration_ms
        if pcm.sample_rate != VAD_RATE:
            resampler = self._resampler
            if resampler is None:
                resampler = self._resampler = Resampler(VAD_RATE, 1)
            pcm = resampler.process(pcm)
        setup = conn.session_setup
        if setup.manual:
            if self.activity_open:
                self._activity_audio.append(pcm)
            return
        assert setup.vad is not None
        for event in setup.vad.process(pcm):
            await self._on_vad(event)

    async def _on_vad(self, event: VadEvent) -> None:
        conn = self.conn
        if event.kind == "start":
            if conn.voice_activity:
                await conn.send(msg.voice_activity("ACTIVITY_START", event.at_ms, traffic=conn.traffic))
            if conn.traffic.empty_messages:
                await conn.send({})
                await conn.send({"serverContent": {}})
            await self.user_activity("speech")
            return
        if conn.voice_activity:
            await conn.send(msg.voice_activity("ACTIVITY_END", event.at_ms, traffic=conn.traffic))
        self.prompt_audio_ms += event.speech_ms
        turn = conn.player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
        if turn is not None:
            conn.turns.start(turn)

    def _on_video(self, blob: Mapping[str, Any]) -> None:
        conn = self.conn
        mime = str(blob.get("mimeType", ""))
        if not mime.startswith("image/"):
            raise WireError(1007, f"Unsupported MIME type for realtime video: {mime}. {INVALID_ARGUMENT}")
        data = decode_bytes(blob.get("data", ""), "realtime_input.video.data")
        width, height = image_size(data)
        self.images += 1
        jpeg = mime == "image/jpeg" and data[:2] == b"\xff\xd8"
        conn.note("video_frame", width=width, height=height, size=len(data), mime_type=mime, jpeg=jpeg)

    async def _on_text(self, text: str) -> None:
        conn = self.conn
        conn.note("text_in", text=text)
        conn.note("response_requested", how="realtimeInput.text")
        conn.conversation.history.append(Turn("user", text, data="text"))
        self.prompt_chars += len(text)
        await self.user_activity("text")
        turn = conn.player.next_turn("text", text=text)
        if turn is not None:
            conn.turns.start(turn)

    async def _on_activity_start(self) -> None:
        conn = self.conn
        if not conn.session_setup.manual:
            raise WireError(1007, INVALID_ARGUMENT)  # activity signals need automatic detection disabled
        if self.activity_open:
            return
        self.activity_open = True
        self._activity_audio = []
        if conn.voice_activity:
            await conn.send(msg.voice_activity("ACTIVITY_START", self.audio_ms, traffic=conn.traffic))
        await self.user_activity("activity")

    async def _on_activity_end(self) -> None:
        conn = self.conn
        if not conn.session_setup.manual:
            raise WireError(1007, INVALID_ARGUMENT)
        if not self.activity_open:
            return
        self.activity_open = False
        chunks, self._activity_audio = self._activity_audio, []
        if not chunks:
            # What the real server does with an empty activity: end the turn, then refuse the session.
            await conn.send({"serverContent": {"turnComplete": True}, "usageMetadata": {}})
            raise WireError(1007, "Precondition check failed.")
        speech = PcmData.concat(chunks)
        if conn.voice_activity:
            await conn.send(msg.voice_activity("ACTIVITY_END", self.audio_ms, traffic=conn.traffic))
        conn.note("response_requested", how="activityEnd")
        self.prompt_audio_ms += speech.duration_ms
        turn = conn.player.next_turn("speech", speech=speech, speech_ms=speech.duration_ms)
        if turn is not None:
            conn.turns.start(turn)

    async def user_activity(self, source: str) -> None:
        """New user input: interrupt a generation in progress (unless NO_INTERRUPTION)."""
        conn = self.conn
        if conn.session_setup.no_interruption:
            return
        if conn.turns.current is not None:
            await conn.turns.barge_in()
        elif conn.turns.awaiting_tools:
            await conn.turns.cancel("turn_detected")  # gives the calls up: toolCallCancellation follows
        elif conn.emulator.late_interrupt and source == "speech" and conn.turns.playing() is not None:
            conn.turns.last = None  # the client is presumably still playing the last reply: one lone interrupt
            await conn.send({"serverContent": {"interrupted": True}})
            conn.note("barge_in", source=source, late=True)


def _rate(mime: str) -> int:
    for param in mime.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "rate":
            text = value.strip()
            if not text.isdigit() or not 8000 <= int(text) <= 48000:
                raise WireError(1007, f"Unsupported audio sample rate in {mime!r}. {INVALID_ARGUMENT}")
            return int(text)
    return VAD_RATE
