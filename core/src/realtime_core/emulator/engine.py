"""Turns a :class:`Scenario` into concrete replies, independent of any wire protocol.

One :class:`ScenarioPlayer` lives as long as its emulator (across reconnections, so a conversation and
its faults continue where they were); each provider emulator asks it what to do next and translates the
answer into its own events.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ..audio import PcmData
from .latency import LatencyProfile, resolve_latency
from .scenario import Fault, Reply, Scenario, ToolCallSpec, Turn

__all__ = ["PlannedReply", "PlannedToolCall", "PlannedTurn", "ScenarioPlayer", "describe_speech"]

_MS_PER_CHAR = 55.0
_ids = itertools.count(1)


def describe_speech(speech_ms: float) -> tuple[str, str]:
    """The echo behaviour's (user transcript, agent transcript) for an utterance of ``speech_ms``."""
    seconds = speech_ms / 1000
    return f"[{seconds:.1f} seconds of speech]", f"You spoke for {seconds:.1f} seconds."


@dataclass(frozen=True)
class PlannedToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class PlannedReply:
    """A reply ready to stream: ``text`` (may be empty), ``audio`` at the output rate (or None).

    The delays already include the player's :class:`LatencyProfile`: ``first_event_delay_ms`` before the
    reply's first event, ``first_chunk_delay_ms`` before its first chunk, ``chunk_interval_ms`` from one
    chunk to the next (0: as fast as possible).
    """

    text: str
    audio: PcmData | None
    chunk_ms: float
    chunk_interval_ms: float
    first_chunk_delay_ms: float
    tool_calls: list[PlannedToolCall] = field(default_factory=list[PlannedToolCall])
    first_event_delay_ms: float = 0.0

    def audio_chunks(self) -> Iterator[PcmData]:
        if self.audio is None or not self.audio:
            return iter(())
        return self.audio.chunks(self.chunk_ms)

    def text_chunks(self, size: int = 12) -> list[str]:
        """The text cut into word-ish deltas that concatenate back to it."""
        if not self.text:
            return []
        words = self.text.split(" ")
        out: list[str] = []
        for i, word in enumerate(words):
            out.append(word if i == 0 else " " + word)
        merged: list[str] = []
        buf = ""
        for piece in out:
            buf += piece
            if len(buf) >= size:
                merged.append(buf)
                buf = ""
        if buf:
            merged.append(buf)
        return merged


@dataclass
class PlannedTurn:
    index: int
    user_transcript: str
    reply: PlannedReply
    after_tools: PlannedReply | None
    trigger: Literal["speech", "text"]


class ScenarioPlayer:
    """Plays a Scenario: picks turns, renders replies, hands out faults.

    :param scenario: the script (defaults to the echo behaviour).
    :param output_rate: sample rate of reply audio.
    :param latency: delays added to every rendered reply (default: the scenario's ``latency``, else none).
    """

    def __init__(self, scenario: Scenario | None, output_rate: int, *, latency: LatencyProfile | None = None) -> None:
        self.scenario = scenario or Scenario()
        self.output_rate = output_rate
        self.latency = latency if latency is not None else resolve_latency(self.scenario.latency)
        self.turn_index = 0
        self.turns_played = 0
        self._last_turn: Turn | None = None
        self._fired: set[int] = set()
        self.started_at = time.monotonic()

    # ------------------------------------------------------------------ turns
    def next_turn(
        self, trigger: Literal["speech", "text"], *, speech: PcmData | None = None, speech_ms: float = 0.0, text: str | None = None
    ) -> PlannedTurn | None:
        """The turn to play for this input, or None if the scenario has nothing to say."""
        turns = self.scenario.turns
        turn: Turn | None = None
        if self.turn_index < len(turns):
            candidate = turns[self.turn_index]
            if self._matches(candidate, trigger, speech_ms, text):
                turn = candidate
                self.turn_index += 1
            else:
                return None
        elif self.scenario.when_exhausted == "repeat_last" and self._last_turn is not None:
            turn = self._last_turn
        elif self.scenario.when_exhausted == "silent":
            return None
        index = self.turns_played
        self.turns_played += 1
        if turn is None:  # echo
            if trigger == "speech":
                heard, said = describe_speech(speech_ms)
                reply = Reply(text=said, audio="echo")
            else:
                heard = text or ""
                reply = Reply(text=f"You said: {heard}")
            turn = Turn(on=trigger, user_transcript=heard, reply=reply)
        else:
            self._last_turn = turn
        if turn.user_transcript is not None:
            heard = turn.user_transcript
        elif trigger == "speech":
            heard = describe_speech(speech_ms)[0]
        else:
            heard = text or ""
        return PlannedTurn(
            index=index,
            user_transcript=heard,
            reply=self.render(turn.reply, speech=speech),
            after_tools=self.render(turn.after_tools, speech=speech) if turn.after_tools else None,
            trigger=trigger,
        )

    def _matches(self, turn: Turn, trigger: str, speech_ms: float, text: str | None) -> bool:
        if turn.on not in (trigger, "any"):
            return False
        if trigger == "speech" and speech_ms < turn.min_speech_ms:
            return False
        needle = turn.text_contains
        return not (trigger == "text" and needle and needle.lower() not in (text or "").lower())

    def render(self, reply: Reply, *, speech: PcmData | None = None) -> PlannedReply:
        text = reply.text or ""
        audio: PcmData | None
        if reply.audio == "none":
            audio = None
        elif reply.audio == "echo" and speech is not None and speech:
            audio = speech.resample(self.output_rate, 1)
            if reply.audio_ms is not None:
                audio = audio.slice_ms(0, reply.audio_ms)
        else:
            ms = reply.audio_ms
            if ms is None:
                ms = 0.0 if reply.tool_calls and not text else max(400.0, len(text) * _MS_PER_CHAR)
            if reply.audio == "silence":
                audio = PcmData.silence(ms, self.output_rate)
            else:
                audio = PcmData.tone(ms, self.output_rate, frequency=330.0, amplitude=0.25)
            if not audio:
                audio = None
        calls = [self._call(spec) for spec in reply.tool_calls]
        latency = self.latency
        interval = reply.chunk_interval_ms
        if not interval and latency.speed:
            interval = reply.chunk_ms / latency.speed
        return PlannedReply(
            text=text,
            audio=audio,
            chunk_ms=reply.chunk_ms,
            chunk_interval_ms=interval,
            first_chunk_delay_ms=reply.first_chunk_delay_ms + latency.first_audio_ms,
            tool_calls=calls,
            first_event_delay_ms=latency.first_event_ms,
        )

    def _call(self, spec: ToolCallSpec) -> PlannedToolCall:
        return PlannedToolCall(spec.call_id or f"call_{next(_ids):016d}", spec.name, dict(spec.arguments))

    # ------------------------------------------------------------------ faults
    def _take(self, fault_index: int, fault: Fault) -> bool:
        if fault.once and fault_index in self._fired:
            return False
        self._fired.add(fault_index)
        return True

    def faults_for_message(self, count: int) -> list[Fault]:
        """Faults due when the ``count``-th client message of a connection arrives."""
        return [
            f for i, f in enumerate(self.scenario.faults) if f.after_messages == count and self._take(i, f)
        ]

    def faults_for_turn(self, turn_index: int, phase: str) -> list[Fault]:
        return [
            f
            for i, f in enumerate(self.scenario.faults)
            if f.at_turn == turn_index and f.phase == phase and self._take(i, f)
        ]

    def has_turn_faults(self, turn_index: int, phase: str) -> bool:
        """Whether :meth:`faults_for_turn` would return something (without taking it): lets an emulator
        wait for a point in time (e.g. the end of playout) only when a fault is scripted there."""
        return any(
            f.at_turn == turn_index and f.phase == phase and not (f.once and i in self._fired)
            for i, f in enumerate(self.scenario.faults)
        )

    def timed_faults(self) -> list[tuple[int, Fault]]:
        """Faults with ``after_ms`` (the emulator schedules them per connection)."""
        return [(i, f) for i, f in enumerate(self.scenario.faults) if f.after_ms is not None]

    def take_timed(self, index: int) -> bool:
        return self._take(index, self.scenario.faults[index])
