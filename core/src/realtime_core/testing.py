"""An in-process fake provider for app developers' unit tests.

:class:`FakeRealtime` behaves like a provider session without any network: it runs the emulator's
energy VAD on the audio you send and plays a :class:`~realtime_core.emulator.Scenario` (echo by default),
emitting the same events a real provider would, including barge-in, tools and reconnection. Use it to
test *your app's* event handling quickly. It is not a substitute for the provider emulators, which test
plugins over real sockets and real protocols.

    session = FakeRealtime(scenario=Scenario(turns=[Turn(reply=Reply(text="Hi!"))]))
    async with session:
        await session.simple_response("Hello")
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from .audio import PcmData
from .capabilities import Capabilities
from .emulator.engine import PlannedReply, PlannedTurn, ScenarioPlayer
from .emulator.scenario import Reply, Scenario
from .emulator.vad import EnergyVad
from .errors import ConnectionFailedError
from .reconnect import ReconnectContext
from .session import InterruptInfo, Realtime
from .tools import ToolCall, ToolResult
from .video import VideoFrameJpeg

__all__ = ["FakeProviderLog", "FakeRealtime"]

_ids = itertools.count(1)


@dataclass
class FakeProviderLog:
    """What the fake provider received, for assertions."""

    audio_ms: float = 0.0
    texts: list[str] = field(default_factory=list[str])
    said: list[str] = field(default_factory=list[str])
    tool_results: list[list[ToolResult]] = field(default_factory=list[list[ToolResult]])
    frames: list[VideoFrameJpeg] = field(default_factory=list[VideoFrameJpeg])
    interrupts: list[InterruptInfo] = field(default_factory=list[InterruptInfo])
    connections: int = 0


class FakeRealtime(Realtime):
    """A scripted provider session that runs entirely in-process.

    :param scenario: what the fake model does (default: echo).
    :param capabilities: override the declared capabilities (default: everything on).
    :param input_sample_rate: rate the fake "provider" takes.
    :param output_sample_rate: rate of reply audio.
    :param fail_connect: make ``connect()`` fail with :class:`ConnectionFailedError`.
    """

    provider_name = "fake"

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        capabilities: Capabilities | None = None,
        input_sample_rate: int = 16000,
        output_sample_rate: int = 24000,
        fail_connect: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario or Scenario()
        self._caps_override = capabilities
        self._in_rate = input_sample_rate
        self._out_rate = output_sample_rate
        self._fail_connect = fail_connect
        self.log = FakeProviderLog()
        self._player = ScenarioPlayer(self.scenario, output_sample_rate)
        self._vad: EnergyVad | None = None
        self._playing: asyncio.Task[None] | None = None
        self._pending_after_tools: PlannedReply | None = None

    def _build_capabilities(self) -> Capabilities:
        if self._caps_override is not None:
            return self._caps_override
        return Capabilities(
            transports=("in-process",),
            transport="in-process",
            input_sample_rate=self._in_rate,
            output_sample_rate=self._out_rate,
            text_output=False,
            text_input=True,
            say=True,
            video_input=True,
            video_max_fps=2.0,
            video_max_width=640,
            video_max_height=480,
            tools=True,
            parallel_tool_calls=True,
            tool_call_cancellation=True,
            interruption=True,
            truncation=True,
            user_transcript="final",
            agent_transcript="delta",
            server_vad=True,
            manual_turns=True,
            user_speech_events=True,
            usage=True,
            session_resumption=True,
            reconnection=True,
        )

    # ------------------------------------------------------------------ provider surface
    async def connect(self) -> None:
        if self._fail_connect:
            raise ConnectionFailedError("fake provider refused the connection", provider=self.provider_name)
        self._open()
        self._emit_connected_event({"scenario": self.scenario.name}, self.capabilities)

    def _open(self) -> None:
        vad = self.scenario.vad
        self._vad = EnergyVad(
            self.capabilities.input_sample_rate,
            threshold=vad.threshold,
            silence_ms=vad.silence_ms,
            prefix_ms=vad.prefix_ms,
            min_speech_ms=vad.min_speech_ms,
        )
        self.log.connections += 1

    async def simple_audio_response(self, pcm: PcmData, participant: Any = None) -> None:
        self.log.audio_ms += pcm.duration_ms
        assert self._vad is not None
        for event in self._vad.process(pcm):
            if event.kind == "start":
                self._emit_user_speech_started(audio_start_ms=event.at_ms)
                if self.responding:
                    self._handle_barge_in()
            else:
                self._emit_user_speech_stopped(audio_end_ms=event.at_ms)
                turn = self._player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
                if turn is not None:
                    self._play(turn)

    async def simple_response(self, text: str) -> None:
        self.log.texts.append(text)
        turn = self._player.next_turn("text", text=text)
        if turn is not None:
            self._play(turn)

    async def say(self, text: str) -> None:
        self.log.said.append(text)
        reply = self._player.render(Reply(text=text))
        self._start_reply(reply)

    async def end_user_turn(self) -> None:
        assert self._vad is not None
        event = self._vad.force_stop()
        if event is not None:
            self._emit_user_speech_stopped(audio_end_ms=event.at_ms)
            turn = self._player.next_turn("speech", speech=event.speech, speech_ms=event.speech_ms)
            if turn is not None:
                self._play(turn)

    async def close(self) -> None:
        await self._stop_playing()

    async def _on_interrupt(self, info: InterruptInfo) -> None:
        self.log.interrupts.append(info)
        await self._stop_playing()

    async def _send_tool_results(self, results: list[ToolResult]) -> None:
        self.log.tool_results.append(results)
        reply, self._pending_after_tools = self._pending_after_tools, None
        if reply is not None:
            self._start_reply(reply)

    async def _send_video_frame(self, frame: VideoFrameJpeg) -> None:
        self.log.frames.append(frame)

    async def _reconnect(self, ctx: ReconnectContext) -> bool:
        self._open()
        return True

    # ------------------------------------------------------------------ test helpers
    def simulate_disconnect(self, *, recoverable: bool = True) -> None:
        """Pretend the transport dropped (core then reconnects if it can)."""
        self._connection_lost(
            ConnectionFailedError("simulated drop", provider=self.provider_name, recoverable=recoverable)
        )

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until the current reply finished streaming."""
        task = self._playing
        if task is not None:
            async with asyncio.timeout(timeout):
                await asyncio.shield(task)

    # ------------------------------------------------------------------ playback
    def _play(self, turn: PlannedTurn) -> None:
        if turn.trigger == "speech":  # typed text needs no transcript
            self._emit_user_speech_transcription(turn.user_transcript, mode="final")
        self._pending_after_tools = turn.after_tools
        self._start_reply(turn.reply)

    def _start_reply(self, reply: PlannedReply) -> None:
        if self._playing is not None and not self._playing.done():
            self._playing.cancel()
        self._playing = self._spawn(self._stream(reply, f"resp_{next(_ids):06d}"), name="fake-reply")

    async def _stop_playing(self) -> None:
        task, self._playing = self._playing, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _stream(self, reply: PlannedReply, rid: str) -> None:
        self._begin_response(rid)
        if reply.first_chunk_delay_ms:
            await asyncio.sleep(reply.first_chunk_delay_ms / 1000)
        for piece in reply.text_chunks():
            self._emit_agent_speech_transcription(piece, mode="delta", response_id=rid)
            await asyncio.sleep(0)
        for chunk in reply.audio_chunks():
            self._emit_audio_output_event(chunk, rid)
            await asyncio.sleep(reply.chunk_interval_ms / 1000 if reply.chunk_interval_ms else 0)
        if reply.text:
            self._emit_agent_speech_transcription(reply.text, mode="final", response_id=rid)
        self._emit_audio_output_done_event(rid)
        self._emit_usage_event(rid, input_tokens=10, output_tokens=20, total_tokens=30)
        if reply.tool_calls:
            self._start_tool_calls(
                [ToolCall(c.call_id, c.name, c.arguments, response_id=rid) for c in reply.tool_calls]
            )
