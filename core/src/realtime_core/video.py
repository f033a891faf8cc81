# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false, reportUnknownVariableType=false, reportUnknownParameterType=false
"""Video input helpers: sample a track at a fixed rate and turn frames into size-limited JPEG.

:class:`VideoSampler` reads an aiortc ``MediaStreamTrack`` (anything with ``async recv()`` returning
``av.VideoFrame``) continuously and keeps only the latest frame, so a slow provider never builds a
backlog. Every ``1/fps`` seconds the newest unseen frame is resized to fit the provider's limits
(keeping the aspect ratio), JPEG-encoded in a worker thread (never on the event loop) and handed to the
provider. After :meth:`VideoSampler.stop` returns, or once the track ends, no frame is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigurationError

if TYPE_CHECKING:
    import av

__all__ = ["VideoFrameJpeg", "VideoPump", "VideoSampler", "VideoTrack", "encode_jpeg", "fit_within"]

log = logging.getLogger("realtime_core.video")


class VideoTrack(Protocol):
    """What :meth:`Realtime.watch_video_track` needs: aiortc's ``MediaStreamTrack`` fits."""

    kind: str

    async def recv(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class VideoFrameJpeg:
    """One encoded frame ready to send."""

    data: bytes
    width: int
    height: int
    timestamp: float
    mime_type: str = "image/jpeg"


def fit_within(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest even size within ``max_width x max_height`` with the same aspect ratio (never upscales).

    A limit of 0 means "no limit" on that side.
    """
    scale = 1.0
    if max_width and width > max_width:
        scale = min(scale, max_width / width)
    if max_height and height > max_height:
        scale = min(scale, max_height / height)
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


def encode_jpeg(frame: av.VideoFrame, *, max_width: int = 0, max_height: int = 0, quality: int = 80) -> VideoFrameJpeg:
    """Resize ``frame`` to fit the limits and encode it as JPEG (blocking: call it in a thread)."""
    import av as _av

    if not 1 <= quality <= 100:
        raise ConfigurationError(f"JPEG quality must be 1-100, got {quality}")
    width, height = fit_within(frame.width, frame.height, max_width, max_height)
    scaled = frame.reformat(width=width, height=height, format="yuvj420p")
    codec: Any = _av.CodecContext.create("mjpeg", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    qscale = str(round(2 + (100 - quality) * 29 / 99))  # ffmpeg's qscale: 2 (best) .. 31 (worst)
    codec.options = {"qmin": qscale, "qmax": qscale}
    packets = list(codec.encode(scaled)) + list(codec.encode(None))
    data = b"".join(bytes(p) for p in packets)
    return VideoFrameJpeg(data=data, width=width, height=height, timestamp=time.time())


class VideoSampler:
    """Samples ``track`` at ``fps`` and passes JPEG frames to ``on_frame``.

    :param track: an aiortc video track (``await track.recv()`` returns ``av.VideoFrame``).
    :param fps: frames per second to send (> 0).
    :param on_frame: async callback receiving each :class:`VideoFrameJpeg`.
    :param max_width: frames are scaled down to fit (0: no limit).
    :param max_height: likewise.
    :param quality: JPEG quality 1-100.
    :param on_end: optional callback when the track ends by itself.
    """

    def __init__(
        self,
        track: VideoTrack,
        *,
        fps: float,
        on_frame: Callable[[VideoFrameJpeg], Awaitable[None]],
        max_width: int = 0,
        max_height: int = 0,
        quality: int = 80,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        if fps <= 0:
            raise ConfigurationError(f"video fps must be positive, got {fps}")
        self.track = track
        self.fps = fps
        self.max_width = max_width
        self.max_height = max_height
        self.quality = quality
        self.frames_sent = 0
        self._on_frame = on_frame
        self._on_end = on_end
        self._latest: Any = None
        self._latest_seq = 0
        self._sent_seq = 0
        self._new_frame = asyncio.Event()
        self._stopping = asyncio.Event()
        self._stopped = False
        self._reader: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._sender is not None and not self._sender.done()

    def start(self) -> None:
        if self._reader is not None:
            return
        self._reader = asyncio.create_task(self._read(), name="realtime-video-reader")
        self._sender = asyncio.create_task(self._send(), name="realtime-video-sender")

    async def stop(self) -> None:
        """Stop sampling; once this returns no further frame is sent. Idempotent."""
        self._stopped = True
        self._stopping.set()
        for task in (self._reader, self._sender):
            if task is not None and not task.done() and task is not asyncio.current_task():
                if task is self._reader:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _read(self) -> None:
        try:
            while not self._stopped:
                frame = await self.track.recv()
                self._latest = frame
                self._latest_seq += 1
                self._new_frame.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # aiortc raises MediaStreamError when the track ends
            log.debug("video track ended: %r", exc)
        finally:
            if not self._stopped:
                self._stopped = True
                self._stopping.set()
                if self._on_end is not None:
                    self._on_end()

    async def _send(self) -> None:
        interval = 1.0 / self.fps
        next_at = time.monotonic()
        while not self._stopped:
            # wait for the next slot, waking early only to stop
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopped:
                    return
            if self._latest_seq == self._sent_seq:
                # nothing new yet: wait for a frame (or stop) without spinning
                self._new_frame.clear()
                waiter = asyncio.ensure_future(self._new_frame.wait())
                stopper = asyncio.ensure_future(self._stopping.wait())
                try:
                    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    stopper.cancel()
                continue
            frame, seq = self._latest, self._latest_seq
            try:
                jpeg = await asyncio.to_thread(
                    encode_jpeg, frame, max_width=self.max_width, max_height=self.max_height, quality=self.quality
                )
            except Exception:
                log.exception("could not encode a video frame; skipping it")
                self._sent_seq = seq
                continue
            if self._stopped:
                return
            self._sent_seq = seq
            next_at = time.monotonic() + interval  # strict spacing: never faster than fps
            await self._on_frame(jpeg)
            self.frames_sent += 1


class VideoPump:
    """A session's video input: at most one watched track, its frames through the method hook to the
    provider, nothing sent while reconnecting (frames are snapshots; skipping one loses nothing).

    :param send: the provider's ``_send_video_frame``.
    :param may_send: whether the session is connected right now.
    :param replace: the ``realtime_video_frame`` method hook (returns a replacement frame or None).
    :param on_error: reports a failed send (the session lives on).
    """

    def __init__(
        self,
        *,
        send: Callable[[VideoFrameJpeg], Awaitable[None]],
        may_send: Callable[[], bool],
        replace: Callable[[VideoFrameJpeg], object],
        on_error: Callable[[Exception], None],
    ) -> None:
        self._send = send
        self._may_send = may_send
        self._replace = replace
        self._on_error = on_error
        self.sampler: VideoSampler | None = None

    def watch(self, track: VideoTrack, *, fps: float, max_width: int, max_height: int) -> None:
        self.sampler = VideoSampler(track, fps=fps, on_frame=self._deliver, max_width=max_width, max_height=max_height)
        self.sampler.start()

    async def stop(self) -> None:
        """Stop sending video; no frame is sent after this returns."""
        sampler, self.sampler = self.sampler, None
        if sampler is not None:
            await sampler.stop()

    async def _deliver(self, frame: VideoFrameJpeg) -> None:
        if not self._may_send():
            return
        replaced = self._replace(frame)
        if isinstance(replaced, VideoFrameJpeg):
            frame = replaced
        try:
            await self._send(frame)
        except Exception as exc:  # reported, never fatal: the next frame may go through
            self._on_error(exc)
