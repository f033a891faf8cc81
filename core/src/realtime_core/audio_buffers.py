"""Input-audio buffers that provider plugins share.

* :class:`AudioBatcher` coalesces a microphone's small chunks into bigger sends. Every send has a fixed
  cost well above that of the audio in it (a JSON frame and base64 on a WebSocket, a signed event-stream
  frame on Bedrock), and the audio path runs about 50 times a second per session: sending 60 ms instead of
  20 ms cuts that cost by two thirds, at the price of at most ``min_ms`` of added latency.
* :class:`AudioReplayBuffer` keeps the input audio sent since the provider last confirmed what it has
  heard (a resumption handle, the end of a user turn), bounded by duration, so that a new connection can
  be given that audio again and no user speech is lost across a switch.

Both do no I/O: the plugin frames and sends, and decides what a failure means for it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterator

from .audio import PcmData
from .errors import ConfigurationError, ConnectionFailedError

__all__ = ["AudioBatcher", "AudioReplayBuffer", "pcm16_bytes"]


def pcm16_bytes(pcm: PcmData) -> memoryview:
    """``pcm``'s samples as little-endian PCM16 bytes: a view of the sample buffer (no copy) unless the
    samples are big-endian."""
    samples = pcm.samples
    if samples.dtype.byteorder == ">":  # the wire is little-endian
        samples = samples.astype("<i2")
    return memoryview(samples).cast("B")


class AudioBatcher:
    """Gathers mono PCM16 chunks into sends of at least ``min_ms``; see the module docstring.

    * :meth:`push` takes one chunk and returns the audio to send now, or None while a batch is gathering.
      A chunk of at least ``min_ms`` that finds no batch gathering is returned as it is (a view of its
      samples: no copy). Smaller chunks are copied into the batch (the caller may reuse its buffer), which
      is returned once it holds ``min_ms``.
    * Audio never waits longer than ``min_ms``: the chunk that starts a batch arms a timer which calls
      ``on_due``; the owner then sends what :meth:`take` returns (if it can send at all just then).
    * :meth:`send_pieces` sends audio in pieces of at most ``max_ms`` (a frame must not grow huge) and
      hands what a failed send left unsent to ``on_unsent``.

    ``min_ms=0`` sends every chunk as it comes.

    :param sample_rate: the rate of the audio pushed (Hz); used to turn milliseconds into bytes.
    :param min_ms: the smallest send, and the longest time audio is held back.
    :param max_ms: the largest piece :meth:`send_pieces` sends at once.
    :param on_due: called (from the event loop, synchronously) when a batch has waited ``min_ms``.
    """

    __slots__ = ("_on_due", "_pending", "_timer", "_window", "max_bytes", "min_bytes", "sample_rate")

    def __init__(
        self,
        sample_rate: int,
        *,
        min_ms: float,
        max_ms: float = 1000.0,
        on_due: Callable[[], object] | None = None,
    ) -> None:
        if sample_rate <= 0:
            raise ConfigurationError(f"sample_rate must be positive, got {sample_rate!r}")
        if min_ms < 0 or max_ms <= 0:
            raise ConfigurationError(f"need min_ms >= 0 and max_ms > 0, got {min_ms!r} and {max_ms!r}")
        self.sample_rate = sample_rate
        bytes_per_ms = sample_rate * 2 / 1000
        self.min_bytes = int(min_ms * bytes_per_ms) // 2 * 2
        """A batch is sent once it holds this many bytes (whole samples)."""
        self.max_bytes = max(2, self.min_bytes, int(max_ms * bytes_per_ms) // 2 * 2)
        """:meth:`send_pieces` sends at most this many bytes at once."""
        self._window = min_ms / 1000
        self._on_due = on_due
        self._pending = bytearray()
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<AudioBatcher min_bytes={self.min_bytes} pending_bytes={len(self._pending)}>"

    @property
    def pending_bytes(self) -> int:
        """Bytes gathered and not sent yet."""
        return len(self._pending)

    @property
    def pending_ms(self) -> float:
        """Milliseconds of audio gathered and not sent yet."""
        return len(self._pending) * 500.0 / self.sample_rate

    def push(self, pcm: PcmData) -> memoryview | None:
        """Take one chunk (at ``sample_rate``); return the audio to send now, or None to wait for more.

        Called from the event loop (the timer needs it).
        """
        # (the hot path, about 50 calls a second per session: pcm16_bytes and take are inlined)
        samples = pcm.samples
        if samples.dtype.byteorder == ">":  # the wire is little-endian
            samples = samples.astype("<i2")
        pending = self._pending
        if not pending:
            size = samples.nbytes
            if size >= self.min_bytes:  # big enough, nothing to go before it: as is, without a copy
                return memoryview(samples).cast("B") if size else None
            if not size:
                return None
        pending += samples.data  # the copy (no byte-cast view needed for it)
        if len(pending) >= self.min_bytes:
            timer = self._timer
            if timer is not None:
                timer.cancel()
                self._timer = None
            self._pending = bytearray()
            return memoryview(pending)
        if self._timer is None and self._on_due is not None:
            self._timer = asyncio.get_running_loop().call_later(self._window, self._due)
        return None

    def take(self) -> memoryview | None:
        """Remove and return the batch gathered so far (None if there is none); disarms the timer.

        The batch is swapped out before anything is sent, so what is pushed while it is being sent goes
        into the next one and the order of the audio is kept.
        """
        timer = self._timer
        if timer is not None:
            timer.cancel()
            self._timer = None
        pending = self._pending
        if not pending:
            return None
        self._pending = bytearray()
        return memoryview(pending)

    def clear(self) -> None:
        """Drop the batch gathered so far and disarm the timer."""
        self.take()

    def _due(self) -> None:
        self._timer = None
        if self._pending and self._on_due is not None:
            self._on_due()

    def to_pcm(self, data: memoryview | bytes) -> PcmData:
        """``data`` (from :meth:`push` or :meth:`take`) as a :class:`PcmData` of its own (a copy: a view
        may point into a buffer the caller reuses)."""
        return PcmData.from_bytes(bytes(data), self.sample_rate)

    async def send_pieces(
        self,
        data: memoryview,
        send: Callable[[memoryview], Awaitable[bool | None]],
        *,
        on_unsent: Callable[[PcmData], object] | None = None,
    ) -> bool:
        """Send ``data`` with ``send``, in pieces of at most ``max_bytes``, in order.

        ``send`` sends one piece. When the connection is gone it either returns False or raises
        :class:`~realtime_core.ConnectionFailedError`; then the piece and all after it go to ``on_unsent``
        (as one :class:`PcmData`, a copy; e.g. :meth:`Realtime._unsent_audio`, which replays it after the
        reconnection) and this returns False or re-raises. Other exceptions propagate as they are.

        :return: True if every piece was sent.
        """
        step = self.max_bytes
        size = data.nbytes
        start = 0
        while start < size:
            piece = data if size <= step else data[start : start + step]
            try:
                sent = await send(piece)
            except ConnectionFailedError:
                if on_unsent is not None:
                    on_unsent(self.to_pcm(data[start:]))
                raise
            if sent is False:
                if on_unsent is not None:
                    on_unsent(self.to_pcm(data[start:]))
                return False
            start += step
        return True


class AudioReplayBuffer:
    """The input audio sent since the provider last confirmed what it has heard; see the module docstring.

    Bounded by duration: the oldest chunks are dropped first, but the newest chunk is always kept whole.
    Chunks are held by reference (no copies; :class:`PcmData` from core is never modified in place).

    :param max_ms: how much audio to keep at most; 0 (or less) keeps none.
    """

    __slots__ = ("_chunks", "_ms", "max_ms")

    def __init__(self, max_ms: float) -> None:
        self.max_ms = max_ms
        self._chunks: deque[PcmData] = deque()
        self._ms = 0.0

    def __repr__(self) -> str:
        return f"<AudioReplayBuffer {self._ms:.0f} of {self.max_ms:.0f} ms>"

    @property
    def duration_ms(self) -> float:
        """Milliseconds of audio kept."""
        return self._ms

    def __len__(self) -> int:
        return len(self._chunks)

    def __iter__(self) -> Iterator[PcmData]:
        return iter(self._chunks)

    def add(self, pcm: PcmData) -> None:
        """Audio just sent (or about to be): kept until :meth:`clear` or until newer audio pushes it out."""
        if self.max_ms <= 0:
            return
        chunks = self._chunks
        chunks.append(pcm)
        # PcmData.duration_ms without its two property calls (the same arithmetic: the same floats)
        ms = self._ms + pcm.samples.size // pcm.channels * 1000.0 / pcm.sample_rate
        while ms > self.max_ms and len(chunks) > 1:
            old = chunks.popleft()
            ms -= old.samples.size // old.channels * 1000.0 / old.sample_rate
        self._ms = ms

    def clear(self) -> None:
        """The provider confirmed everything so far: nothing needs replaying."""
        self._chunks.clear()
        self._ms = 0.0

    def take(self) -> list[PcmData]:
        """Remove and return the audio kept, oldest first."""
        chunks = list(self._chunks)
        self.clear()
        return chunks

    def joined(self) -> PcmData | None:
        """The audio kept as one chunk (None when empty); the buffer keeps it."""
        if not self._chunks:
            return None
        return PcmData.concat(self._chunks)
