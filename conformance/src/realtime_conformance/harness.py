"""The harness each clause drives: an emulator (offline) or the real service (live), one session, and a
recorder of every event the app receives."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

from realtime_core import PcmData, Realtime, RealtimeEvent
from realtime_core.demo import bundled_speech
from realtime_core.emulator import EmulatorServer
from realtime_core.testing import EventRecorder

__all__ = ["Harness"]

E = TypeVar("E", bound=RealtimeEvent)
SPEECH_RATE = 48000  # deliberately not a provider rate: core must resample
CHUNK_MS = 20


class Harness:
    """One session under test.

    :ivar emulator: the provider's emulator (None in live mode).
    :ivar session: the session (not connected until :meth:`connect`).
    """

    def __init__(
        self, session: Realtime, emulator: EmulatorServer | None, *, timeout: float, live: bool = False
    ) -> None:
        self.session = session
        self.emulator = emulator
        self.timeout = timeout
        self.live = live
        self.sent: list[PcmData] = []
        self._recorder = EventRecorder(session, timeout=timeout)

    @property
    def caps(self) -> Any:
        return self.session.capabilities

    @property
    def events(self) -> list[RealtimeEvent]:
        """Every event delivered to the app so far, in order."""
        return self._recorder.events

    @property
    def ended(self) -> asyncio.Event:
        """Set once the session's event stream has ended."""
        return self._recorder.ended

    # ------------------------------------------------------------------ lifecycle
    async def connect(self) -> None:
        await self.session.connect()

    async def close(self) -> None:
        await self.session.close()
        with contextlib.suppress(TimeoutError):
            await self._recorder.wait_ended(self.timeout)

    async def aclose(self) -> None:
        """Tear everything down (used by the fixture; safe to call twice)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.session.close(), self.timeout)
        await self._recorder.aclose()
        if self.emulator is not None:
            await self.emulator.stop()

    # ------------------------------------------------------------------ events
    def mark(self) -> int:
        """The index of the next event (use as ``after=`` to look only at later events)."""
        return self._recorder.mark()

    def of(self, cls: type[E], predicate: Callable[[E], bool] | None = None, *, after: int = 0) -> list[E]:
        return self._recorder.of(cls, predicate, after=after)

    def index_of(self, event: RealtimeEvent) -> int:
        return self._recorder.index_of(event)

    async def wait_for(
        self,
        cls: type[E],
        predicate: Callable[[E], bool] | None = None,
        *,
        after: int = 0,
        count: int = 1,
        timeout: float | None = None,
    ) -> E:
        """Wait until ``count`` events of ``cls`` (matching ``predicate``) arrived after index ``after``;
        return the last of them. Raises ``TimeoutError`` naming what was missing."""
        return await self._recorder.wait_for(cls, predicate, after=after, count=count, timeout=timeout or self.timeout)

    # ------------------------------------------------------------------ input
    async def speak(self, speech_ms: float = 900, *, silence_ms: float = 1200) -> None:
        """Send a spoken turn: a tone the emulator's VAD hears as speech (live: real recorded speech at
        real-time pace), then silence so voice detection ends the turn."""
        if self.live:
            speech = bundled_speech()
            await self.send_audio(speech, paced=True)
            await self.send_audio(PcmData.silence(1500, speech.sample_rate), paced=True)
            return
        await self.send_audio(PcmData.tone(speech_ms, SPEECH_RATE, frequency=220.0, amplitude=0.3))
        if silence_ms:
            await self.send_audio(PcmData.silence(silence_ms, SPEECH_RATE))

    async def send_audio(self, pcm: PcmData, *, paced: bool = False) -> None:
        started = time.monotonic()
        sent = 0.0
        for chunk in pcm.chunks(CHUNK_MS):
            self.sent.append(chunk)
            await self.session.simple_audio_response(chunk)
            sent += chunk.duration_ms
            if paced:
                delay = started + sent / 1000 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # let the receive loop run, as a real app's would

    async def barrier(self) -> None:
        """Round trip through the provider: everything sent before this call has been received.

        Sends a little silence and waits until the emulator counted it (offline only).
        """
        emulator = self.emulator
        if emulator is None:
            return
        before = emulator.audio_received_ms
        await self.send_audio(PcmData.silence(100, SPEECH_RATE))
        await emulator.wait_audio(before + 90, timeout=self.timeout)
