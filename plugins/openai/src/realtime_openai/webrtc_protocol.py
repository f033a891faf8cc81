"""The WebRTC side of the protocol layer, without aiortc: options, attributing track audio to responses, and
the handler's WebRTC-only events.

Over WebRTC the reply audio does not come as ``response.output_audio.delta`` events carrying a
``response_id``: it plays on the remote media track, and the data channel brackets each reply's playback
with ``output_audio_buffer.started`` / ``.stopped`` (``.cleared`` when cut off). :class:`PlayoutTracker`
turns the two streams back into :class:`~realtime_core.RealtimeAudioOutputEvent` chunks with the right
``response_id`` and one done event per reply at the end of its *playback* (``response.done`` arrives while
the audio still plays). :class:`~realtime_openai.handler.WebRtcEventHandler` feeds it the data channel's
events.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime_core import ConfigurationError, PcmData, SessionCore

from .capabilities import WEBRTC_SAMPLE_RATE

__all__ = ["WEBRTC_SAMPLE_RATE", "PlayoutTracker", "WebRtcOptions", "shrink_jpeg"]

log = logging.getLogger("realtime_openai.webrtc")

_FRAME_MS = 20.0


@dataclass(frozen=True)
class WebRtcOptions:
    """Settings of the WebRTC transport (``OpenAIRealtime(transport="webrtc", webrtc=WebRtcOptions(...))``).

    :param ice_servers: STUN/TURN servers: URL strings (``"stun:stun.example.com:3478"``) or aiortc
        ``RTCIceServer`` objects (for TURN credentials). Empty by default: OpenAI's media servers are
        publicly reachable, and aiortc gathers every candidate before the offer goes out (no trickle ICE),
        so an unreachable STUN server would only delay the connection.
    :param media_timeout: seconds without a single audio packet from the server after which the connection
        counts as lost (a live peer sends audio, or silence, all the time); ``None`` turns the watchdog off
        and leaves detection to ICE consent checks (about 30 s).
    :param drain_timeout: seconds to wait for a reply's last audio after ``output_audio_buffer.stopped``.
    """

    ice_servers: Sequence[Any] = ()
    media_timeout: float | None = 10.0
    drain_timeout: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.ice_servers, str):
            raise ConfigurationError("ice_servers must be a list of URLs or RTCIceServer objects, not one string")
        for name in ("media_timeout", "drain_timeout"):
            value = getattr(self, name)
            if value is None and name == "media_timeout":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
                raise ConfigurationError(f"{name} must be a number of seconds in (0, 3600], got {value!r}")


class PlayoutTracker:
    """Attributes the remote track's audio frames to responses (see the module docstring).

    Frames and data-channel events travel separately, and the receiver's jitter buffer holds a few frames
    back, so the bracket is applied with some care:

    * after ``started``, leading silence (what was in flight before the reply) is skipped, at most
      ``lead_ms``; audible frames that arrived shortly *before* ``started`` (audio ahead of its event) are
      given to the reply (at most ``preroll_ms``);
    * after ``stopped``, frames still count for the reply until silence returns, ``drain_ms`` of audio
      passed, or ``drain_timeout`` seconds went by: then its done event;
    * after a cut (a local interrupt, a barge-in, ``cleared``) frames are dropped until silence returns;
    * a reply whose ``response.done`` came but whose ``stopped`` never does ends after ``tail_ms`` of
      silence; one that announced audio but never started playing ends ``start_timeout`` seconds after
      its ``response.done``. Nothing waits forever.

    A reply's audio starts a few milliseconds into a frame (the codec's delay); the silence before it in
    that first frame is not the reply's and is cut off, so the audio delivered lasts as long as the audio
    sent, within a frame.

    :param silent_peak: a frame whose peak sample is at most this (int16) counts as silence. Opus leaves
        a faint decaying tail after the audio stops (peaks around 30-40, about -60 dBFS): that is the
        codec, not the reply, so the default sits above it.
    """

    def __init__(
        self,
        core: SessionCore,
        *,
        rate: int = WEBRTC_SAMPLE_RATE,
        silent_peak: int = 100,
        lead_ms: float = 200.0,
        preroll_ms: float = 200.0,
        drain_ms: float = 500.0,
        drain_timeout: float = 1.0,
        tail_ms: float = 1000.0,
        start_timeout: float = 3.0,
    ) -> None:
        self._core = core
        self.rate = rate
        self._silent_peak = silent_peak
        self._lead_frames = math.ceil(lead_ms / _FRAME_MS)
        self._drain_frames = math.ceil(drain_ms / _FRAME_MS)
        self._tail_frames = math.ceil(tail_ms / _FRAME_MS)
        self._drain_timeout = drain_timeout
        self._start_timeout = start_timeout
        self._preroll: deque[PcmData] = deque(maxlen=max(1, math.ceil(preroll_ms / _FRAME_MS)))
        self._expected: OrderedDict[str, None] = OrderedDict()
        self._done_seen: set[str] = set()
        self._current: str | None = None
        self._phase = "lead"
        self._lead = 0
        self._drained = 0
        self._silent_run = 0
        self._discard = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.frames_dropped = 0

    # ------------------------------------------------------------------ state
    @property
    def current(self) -> str | None:
        """The response whose audio is playing (or draining), if any."""
        return self._current

    @property
    def active(self) -> bool:
        """A reply is playing, or announced audio that has not started playing yet."""
        return self._current is not None or bool(self._expected)

    def owns(self, response_id: str) -> bool:
        return response_id == self._current or response_id in self._expected

    def close(self) -> None:
        """The connection ended: replies still playing (or announced) will not play any further."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        current, draining = self._current, self._phase == "draining"
        owned = ([current] if current is not None else []) + list(self._expected)
        self._current = None
        self._expected.clear()
        self._preroll.clear()
        for rid in owned:
            # a reply the server had finished playing ("stopped") is complete; the others were cut short
            self._done(rid, interrupted=not (rid == current and draining))

    # ------------------------------------------------------------------ data channel events
    def expect(self, response_id: str) -> None:
        """The response added an audio content part: its audio will play on the track."""
        if response_id != self._current:
            self._expected[response_id] = None
            while len(self._expected) > 32:
                self._expected.popitem(last=False)

    def started(self, response_id: str) -> None:
        """``output_audio_buffer.started``: the server began playing this response."""
        current = self._current
        if current == response_id:
            return
        if current is not None:
            self._finish(current)
        self._expected.pop(response_id, None)
        self._cancel_timer(response_id)
        self._current = response_id
        self._phase = "lead"
        self._lead = self._drained = self._silent_run = 0
        self._discard = False
        self._core.begin_response(response_id)
        early, self._preroll = list(self._preroll), deque(maxlen=self._preroll.maxlen)
        if early:
            self._phase = "playing"
            early[0] = self._trim_lead(early[0])
            for pcm in early:
                self._core.emit_audio_output_event(pcm, response_id)

    def stopped(self, response_id: str) -> None:
        """``output_audio_buffer.stopped``: the server finished playing it; what is in flight still counts."""
        if response_id == self._current:
            if self._phase != "draining":
                self._phase = "draining"
                self._drained = 0
                self._arm(response_id, self._drain_timeout)
            return
        if response_id in self._expected:  # announced audio, never played any
            del self._expected[response_id]
            if response_id in self._done_seen:
                self._done(response_id)

    def cut(self, response_id: str | None = None) -> str | None:
        """Stop attributing audio now (interrupt, barge-in, ``cleared``); the frames still in flight are
        stale and dropped. Returns the response that was playing (or announced), if any."""
        victims: list[str] = []
        current = self._current
        if current is not None and response_id in (None, current):
            victims.append(current)
            self._current = None
            self._discard = True
            self._preroll.clear()
        if response_id is None:
            victims.extend(self._expected)
            self._expected.clear()
        elif response_id in self._expected:
            del self._expected[response_id]
            victims.append(response_id)
        for rid in victims:
            self._cancel_timer(rid)
            if rid in self._done_seen:  # its done was deferred to the end of a playback that will not come
                self._done(rid, interrupted=True)
        return victims[0] if victims else None

    def defer_done(self, response_id: str, response: dict[str, Any]) -> bool:
        """``response.done`` arrived: True if this tracker will emit the audio-done event (at the end of
        the playback), False if the handler should emit it now."""
        status = response.get("status")
        if status in ("cancelled", "failed"):
            if self.owns(response_id):
                self.cut(response_id)
            return False
        if response_id == self._current:
            self._done_seen.add(response_id)
            return True
        if response_id in self._expected:
            usage = response.get("usage") or {}
            audio_tokens = (usage.get("output_token_details") or {}).get("audio_tokens")
            if audio_tokens == 0:  # the audio part stayed empty: there is nothing to wait for
                del self._expected[response_id]
                return False
            self._done_seen.add(response_id)
            self._arm(response_id, self._start_timeout)
            return True
        return False

    # ------------------------------------------------------------------ the track
    def on_frame(self, pcm: PcmData) -> None:
        """One decoded frame of the remote track (mono, at :attr:`rate`)."""
        samples = pcm.samples
        silent = not samples.size or int(np.max(np.abs(samples.astype(np.int32)))) <= self._silent_peak
        rid = self._current
        if rid is None:
            if self._discard:
                if silent:
                    self._discard = False
                self.frames_dropped += 1
            elif silent:
                self._preroll.clear()
            else:
                self._preroll.append(pcm)
            return
        phase = self._phase
        if phase == "lead":
            if silent and self._lead < self._lead_frames:
                self._lead += 1
                return
            self._phase = phase = "playing"
            pcm = self._trim_lead(pcm)
        if phase == "draining":
            if silent or self._drained >= self._drain_frames:
                self._finish(rid)
                return
            self._drained += 1
        elif silent:
            self._silent_run += 1
            if rid in self._done_seen and self._silent_run >= self._tail_frames:
                self._finish(rid)  # generation ended long ago and only silence follows: no stopped is coming
                return
        else:
            self._silent_run = 0
        self._core.emit_audio_output_event(pcm, rid)

    # ------------------------------------------------------------------ internals
    def _trim_lead(self, pcm: PcmData) -> PcmData:
        """The first frame of a reply without the silence before the reply began in it."""
        samples = pcm.samples
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > self._silent_peak)
        if not loud.size or loud[0] == 0:
            return pcm
        start = int(loud[0]) // pcm.channels * pcm.channels  # whole sample frames
        return PcmData(samples[start:], pcm.sample_rate, pcm.channels)

    def _finish(self, response_id: str) -> None:
        if self._current == response_id:
            self._current = None
        self._cancel_timer(response_id)
        self._done(response_id)

    def _done(self, response_id: str, *, interrupted: bool = False) -> None:
        self._done_seen.discard(response_id)
        self._core.emit_audio_output_done_event(response_id, interrupted=interrupted)

    def _arm(self, response_id: str, delay: float) -> None:
        self._cancel_timer(response_id)
        self._timers[response_id] = asyncio.get_running_loop().call_later(delay, self._expire, response_id)

    def _cancel_timer(self, response_id: str) -> None:
        timer = self._timers.pop(response_id, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, response_id: str) -> None:
        self._timers.pop(response_id, None)
        if response_id == self._current:
            self._finish(response_id)
        elif response_id in self._expected:
            del self._expected[response_id]
            if response_id in self._done_seen:
                self._done(response_id)


def shrink_jpeg(data: bytes, max_bytes: int, *, max_width: int = 0, max_height: int = 0) -> bytes | None:
    """Re-encode a JPEG smaller (lower quality, then smaller sizes) until it fits ``max_bytes``; None if it
    cannot. Blocking: call it in a thread."""
    import av

    from realtime_core.video import encode_jpeg

    codec: Any = av.CodecContext.create("mjpeg", "r")
    frames = list(codec.decode(av.Packet(data)))
    if not frames:
        return None
    frame = frames[0]
    width = min(frame.width, max_width) if max_width else frame.width
    height = min(frame.height, max_height) if max_height else frame.height
    for scale, quality in ((1.0, 60), (1.0, 40), (0.75, 40), (0.5, 40), (0.35, 30)):
        out = encode_jpeg(frame, max_width=int(width * scale), max_height=int(height * scale), quality=quality)
        if len(out.data) <= max_bytes:
            return out.data
    return None
