"""Soak: N sessions taking turns for M minutes through a FaultProxy that keeps breaking the network.

    .venv/bin/python benchmarks/soak.py [--provider reference] [--sessions 5] [--minutes 1] [--fault-every 10]

Each session talks to the provider's emulator through one :class:`~realtime_core.testing.FaultProxy`: speech,
then silence, then it waits for the reply's audio-done event, over and over. Every ``--fault-every`` seconds
the proxy cuts, resets, or black-holes every live connection; a black hole is lifted after ``--black-hole``
seconds (longer than the 10 s dead-path detection the SDK aims at, so a session that detects it reconnects;
what was sent into it is gone either way). At the end it prints turns, reconnects, the lost/replayed audio
the reconnected events reported against what the emulator really received, and the drift of RSS, open file
descriptors and asyncio tasks (the emulator and the proxy run in this process too, so their leaks would
show). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import time
from dataclasses import dataclass
from typing import Any

import realtime_core
from realtime_core import (
    PcmData,
    Realtime,
    RealtimeAudioOutputDoneEvent,
    RealtimeDisconnectedEvent,
    RealtimeError,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
)
from realtime_core.testing import FaultProxy

POLICY = ReconnectPolicy(max_attempts=8, initial_delay=0.1, max_delay=1.0)
TURN_TIMEOUT = 20.0
# speech, then enough silence for the emulator's voice detection to end the turn
TURN_AUDIO = PcmData.concat([PcmData.tone(600, 16000, frequency=220.0), PcmData.silence(900, 16000)])


@dataclass
class Totals:
    sent_ms: float = 0.0
    turns: int = 0
    turns_timed_out: int = 0
    reconnects: int = 0
    sessions_failed: int = 0
    lost_audio_ms: float = 0.0
    replayed_audio_ms: float = 0.0


def usage() -> tuple[float, int, int]:
    """RSS in MB, open fds, asyncio tasks (after a full collection, so garbage does not count)."""
    gc.collect()
    with open("/proc/self/statm") as statm:
        rss_pages = int(statm.read().split()[1])
    return rss_pages * os.sysconf("SC_PAGE_SIZE") / 1e6, len(os.listdir("/proc/self/fd")), len(asyncio.all_tasks())


class Talker:
    """One session slot: keeps a session open and takes turns; replaces the session if it fails for good."""

    def __init__(self, make: Any, totals: Totals) -> None:
        self.make = make
        self.totals = totals
        self.session: Realtime | None = None
        self.consumer: asyncio.Task[None] | None = None
        self.done = 0
        self.changed = asyncio.Event()
        self.failed = False

    async def open(self) -> None:
        session = self.make()
        self.failed = False
        events = session.events()
        await session.connect()
        self.session = session
        self.consumer = asyncio.create_task(self.consume(events))

    async def consume(self, events: Any) -> None:
        async for event in events:
            if isinstance(event, RealtimeAudioOutputDoneEvent):
                self.done += 1
            elif isinstance(event, RealtimeReconnectedEvent):
                self.totals.reconnects += 1
                self.totals.lost_audio_ms += event.lost_audio_ms
                self.totals.replayed_audio_ms += event.replayed_audio_ms
            elif isinstance(event, RealtimeDisconnectedEvent) and not event.will_reconnect:
                self.failed = True
            self.changed.set()

    async def turn(self) -> None:
        if self.session is None or self.failed:
            if self.session is not None:
                self.totals.sessions_failed += 1
                await self.close()
            await self.open()
        assert self.session is not None
        before = self.done
        for chunk in TURN_AUDIO.chunks(20):  # mic-sized chunks, faster than real time
            await self.session.simple_audio_response(chunk)
            self.totals.sent_ms += chunk.duration_ms
            await asyncio.sleep(0)
        try:
            async with asyncio.timeout(TURN_TIMEOUT):
                while self.done == before and not self.failed:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            self.totals.turns_timed_out += 1
            return
        if self.done > before:
            self.totals.turns += 1

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
        if self.consumer is not None:
            await self.consumer  # ends with the session's events
            self.consumer = None


async def keep_talking(talker: Talker, until: float) -> None:
    while time.monotonic() < until:
        try:
            await talker.turn()
        except RealtimeError:  # a turn sent into a dying session: the next turn starts over
            talker.failed = True


async def inject_faults(proxy: FaultProxy, every: float, black_hole_s: float, until: float, counts: dict[str, int]) -> None:
    for fault in itertools.cycle(["cut", "reset", "black_hole"]):
        await asyncio.sleep(every)
        if time.monotonic() >= until:
            return
        counts[fault] += 1
        if fault == "cut":
            proxy.cut()
        elif fault == "reset":
            proxy.reset()
        else:
            proxy.black_hole()
            await asyncio.sleep(black_hole_s)
            proxy.restore()


def pointed_at(proxy: FaultProxy, options: dict[str, Any]) -> dict[str, Any]:
    """The emulator's session options with every URL sent through the proxy."""
    return {k: proxy.url_for(v) if isinstance(v, str) and "://" in v else v for k, v in options.items()}


async def main(args: argparse.Namespace) -> None:
    if args.provider == "reference":
        from realtime_conformance.reference import plugin

        realtime_core.register_plugin(plugin, name="reference-provider")
    spec = realtime_core.get_provider(args.provider)
    if spec.emulator is None:
        raise SystemExit(f"{args.provider} has no emulator")
    totals, faults = Totals(), dict.fromkeys(["cut", "reset", "black_hole"], 0)
    start_usage = usage()
    # the emulator logs what it receives (bounded); a small bound keeps that log from looking like drift
    async with spec.emulator(log_limit=1000) as emulator, FaultProxy(emulator.host, emulator.port) as proxy:
        options = pointed_at(proxy, emulator.session_options())
        talkers = [Talker(lambda: spec.create(**options, reconnect=POLICY), totals) for _ in range(args.sessions)]
        await asyncio.gather(*(t.turn() for t in talkers))  # warm-up: everyone connected and answered once
        warm = usage()
        until = time.monotonic() + args.minutes * 60
        await asyncio.gather(
            inject_faults(proxy, args.fault_every, args.black_hole, until, faults),
            *(keep_talking(t, until) for t in talkers),
        )
        proxy.restore()
        await asyncio.gather(*(t.turn() for t in talkers))  # the same state as after the warm-up
        end = usage()
        for talker in talkers:
            await talker.close()
        accepted, up, down, received_ms = proxy.accepted, proxy.upstream, proxy.downstream, emulator.audio_received_ms
    closed = usage()

    print(f"soak: {args.provider}, {args.sessions} sessions, {args.minutes:g} min, a fault every {args.fault_every:g} s")
    print(f"faults injected      cut {faults['cut']}, reset {faults['reset']}, black hole {faults['black_hole']} ({args.black_hole:g} s)")
    print(f"turns completed      {totals.turns}  (timed out: {totals.turns_timed_out})")
    print(f"reconnects           {totals.reconnects}  (sessions that failed for good: {totals.sessions_failed})")
    print(f"lost_audio_ms        {totals.lost_audio_ms:.0f}  (reported by reconnected events)")
    print(f"replayed_audio_ms    {totals.replayed_audio_ms:.0f}")
    print(f"audio sent           {totals.sent_ms:.0f} ms; the emulator received {received_ms:.0f} ms; "
          f"unaccounted {totals.sent_ms - received_ms - totals.lost_audio_ms:+.0f} ms (sent - received - lost)")
    print(f"proxy                {accepted} connections; upstream {up.forwarded / 1e6:.1f} MB forwarded, "
          f"{up.dropped / 1e6:.2f} MB dropped; downstream {down.forwarded / 1e6:.1f} MB, {down.dropped / 1e6:.2f} MB dropped")
    print(f"drift, sessions open (after warm-up -> end):  RSS {end[0] - warm[0]:+.1f} MB, "
          f"fds {end[1] - warm[1]:+d}, tasks {end[2] - warm[2]:+d}")
    print(f"drift, all closed (before start -> after):    RSS {closed[0] - start_usage[0]:+.1f} MB, "
          f"fds {closed[1] - start_usage[1]:+d}, tasks {closed[2] - start_usage[2]:+d}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", default="reference", help="any installed provider with an emulator")
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--fault-every", type=float, default=10.0, help="seconds between faults")
    parser.add_argument(
        "--black-hole", type=float, default=12.0, help="seconds a black hole lasts (dead-path detection target: 10 s)"
    )
    asyncio.run(main(parser.parse_args()))
