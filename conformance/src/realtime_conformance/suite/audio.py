"""Audio: input mirrored and received exactly, output format and duration, response ids, done events,
speech events, usage, bad audio, a loop that never blocks (contract section 3)."""

from __future__ import annotations

import time

import numpy as np

from realtime_core import (
    ConfigurationError,
    InvalidAudioError,
    PcmData,
    RealtimeAgentSpeechStartedEvent,
    RealtimeAgentSpeechStoppedEvent,
    RealtimeAudioInputEvent,
    RealtimeAudioOutputDoneEvent,
    RealtimeAudioOutputEvent,
    RealtimeMetricsEvent,
    RealtimeUsageEvent,
    RealtimeUserSpeechStartedEvent,
    RealtimeUserSpeechStoppedEvent,
)

from ..clauses import clause, expect, not_exercised
from ..fixtures import HarnessFactory
from ..harness import FRAME_MS, RESAMPLER_DELAY_MS, SPEECH_RATE, Harness
from ..loopmeter import LoopBlockMeter
from .base import SuiteBase, delivered_ms, reply_turn, scenario

MAX_BLOCK_S = 0.1
MAX_BLOCKED_SHARE = 0.1
"""Of the window, the time callbacks may spend blocked: a correct plugin spends none (GIL handovers aside),
one that blocks 5 ms per 20 ms chunk spends a quarter."""


class AudioTests(SuiteBase):
    @clause("input_mirrored", promise="3.1")
    async def test_input_mirrored(self, harness: HarnessFactory) -> None:
        """Every chunk passed to simple_audio_response comes back as a RealtimeAudioInputEvent, in order."""
        h = await harness()
        mark = h.mark()
        sent_before = len(h.sent)
        await h.speak(300, silence_ms=100)
        sent = h.sent[sent_before:]
        await h.wait_for(RealtimeAudioInputEvent, after=mark, count=len(sent))
        inputs = h.of(RealtimeAudioInputEvent, after=mark)
        expect(len(inputs) == len(sent), f"{len(sent)} audio input events", f"{len(inputs)}")
        same = all(ev.audio_data == chunk for ev, chunk in zip(inputs, sent, strict=True))
        expect(same, "each event to carry the chunk the app sent, in order", "different audio or order")

    @clause("input_received_exactly", promise="3.2", observes=("audio_in", "client_closed"), offline_only=True)
    async def test_input_received_exactly(self, harness: HarnessFactory) -> None:
        """The provider receives all the audio the app sent, at the declared input rate, within one frame:
        nothing dropped, gated or invented."""
        h = await harness()
        sent_ms = 1000.0
        await h.send_audio(PcmData.silence(sent_ms, SPEECH_RATE))
        # while streaming, core's resampler (48 kHz in) holds up to RESAMPLER_DELAY_MS in its filter; close()
        # sends that tail, so the exact count is checked after it
        wanted = sent_ms - FRAME_MS - RESAMPLER_DELAY_MS
        try:
            await h.until(lambda: h.audio_in(1)[0] >= wanted, f"{wanted:g} ms of audio to reach the provider")
        except TimeoutError:
            got, rate = h.audio_in(1)
            expect(False, f"{sent_ms:g} ms of audio at {h.caps.input_sample_rate} Hz", f"{got:.1f} ms at {rate} Hz")
        # closing is the barrier: the provider has every frame sent before the closing message or the socket's end
        await h.close()
        emulator = h.emulator_or_skip()
        ended = ("fact:client_closed", "fact:session_finished")
        await h.bounded(
            emulator.wait_for(lambda m: m.kind in ended and m.connection == 1, timeout=h.timeout + 1),
            "the provider to see the session end",
        )
        if not emulator.can_observe("audio_in"):  # e.g. a live media track also carries the mic's idle silence
            not_exercised(f"the {emulator.provider} emulator cannot count this session's input audio exactly")
        got, rate = h.audio_in(1)
        expect(rate == h.caps.input_sample_rate, f"audio at the declared {h.caps.input_sample_rate} Hz",
               f"the provider took it at {rate} Hz")  # fmt: skip
        expect(abs(got - sent_ms) <= FRAME_MS, f"{sent_ms:g} ms of audio (within {FRAME_MS:g} ms)",
               f"{got:.1f} ms at {rate} Hz")  # fmt: skip

    @clause("output_format", promise="3.3", requires=("audio_output",))
    async def test_output_format(self, harness: HarnessFactory) -> None:
        """Every output chunk is non-empty mono int16 at the declared output_sample_rate."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        await self.wait_reply(h)
        chunks = h.of(RealtimeAudioOutputEvent)
        expect(chunks, "audio output", "none")
        rate = h.caps.output_sample_rate
        for ev in chunks:
            pcm = ev.audio_data
            expect(pcm.sample_rate == rate, f"chunks at the declared {rate} Hz", f"a chunk at {pcm.sample_rate} Hz")
            expect(pcm.channels == 1, "mono chunks", f"{pcm.channels} channels")
            expect(pcm.samples.dtype == np.int16, "int16 samples", str(pcm.samples.dtype))
            expect(pcm.frames > 0, "non-empty chunks", "an empty chunk")

    @clause("output_duration_exact", promise="3.3", requires=("audio_output",), observes=("response_sent",), offline_only=True)
    async def test_output_duration_exact(self, harness: HarnessFactory) -> None:
        """The audio delivered for a reply lasts exactly as long as what the provider sent for it (within one
        frame), each chunk taken at its labelled rate: the real rate is the declared one."""
        h = await harness(scenario(reply_turn(audio_ms=800, chunk_ms=40)))
        await self.take_turn(h)
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        sent = await self._sent_audio(h)
        got = delivered_ms(h, done.response_id)
        expect(abs(got - sent) <= FRAME_MS, f"{sent:.1f} ms of reply audio, as the provider sent it (within {FRAME_MS:g} ms)",
               f"{got:.1f} ms delivered at the labelled rates")  # fmt: skip

    @clause("one_response_id", promise="3.4", requires=("audio_output",))
    async def test_one_response_id(self, harness: HarnessFactory) -> None:
        """All chunks of one reply share one non-empty response_id, the one its done event names."""
        h = await harness(scenario(reply_turn(audio_ms=800, chunk_ms=40)))
        await self.take_turn(h)
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        ids = {ev.response_id for ev in h.of(RealtimeAudioOutputEvent)}
        expect(ids == {done.response_id}, f"every chunk under {done.response_id!r}", f"chunk ids {sorted(ids)}")
        expect(done.response_id, "a non-empty response_id", repr(done.response_id))

    @clause("one_done_after_last_chunk", promise="3.4", requires=("audio_output",))
    async def test_one_done_after_last_chunk(self, harness: HarnessFactory) -> None:
        """Exactly one audio-done per response, after its last chunk; two replies in a row stay apart."""
        h = await harness(scenario(reply_turn(), reply_turn("A second reply.")))
        await self.take_turn(h)
        await self.wait_reply(h)
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)
        await h.close()
        by_response: dict[str, list[int]] = {}
        for i, ev in enumerate(h.events):
            if isinstance(ev, RealtimeAudioOutputEvent):
                by_response.setdefault(ev.response_id, []).append(i)
        expect(len(by_response) >= 2, "two replies with their own response ids", f"ids {list(by_response)}")
        for rid, indexes in by_response.items():
            dones = [i for i, ev in enumerate(h.events) if isinstance(ev, RealtimeAudioOutputDoneEvent) and ev.response_id == rid]
            expect(len(dones) == 1, f"one done event for {rid}", f"{len(dones)}")
            expect(dones[0] > indexes[-1], f"{rid}'s done after its last chunk", "the done event came before a chunk")

    @clause("done_after_all_audio", promise="3.4", requires=("audio_output",), observes=("response_sent",), offline_only=True)
    async def test_done_after_all_audio(self, harness: HarnessFactory) -> None:
        """A reply's done event comes only once every chunk the provider sent for it was delivered: no audio
        held back past the done event."""
        h = await harness(scenario(reply_turn(audio_ms=800, chunk_ms=40)))
        await self.take_turn(h)
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        sent = await self._sent_audio(h)
        got = delivered_ms(h, done.response_id, before=h.index_of(done))
        expect(got >= sent - FRAME_MS, f"all {sent:.1f} ms of the reply delivered before its done event",
               f"{got:.1f} ms before it")  # fmt: skip

    async def _sent_audio(self, h: Harness) -> float:
        """Milliseconds of audio the provider sent for the (one) completed reply."""
        fact = await h.wait_fact("response_sent", lambda d: d.get("status") == "completed" and (d.get("audio_ms") or 0) > 0)
        return float(fact.data["audio_ms"])

    @clause("agent_speech_events", promise="3.5", requires=("audio_output",))
    async def test_agent_speech_events(self, harness: HarnessFactory) -> None:
        """Agent speech started comes before the first chunk and stopped before done, once each."""
        h = await harness(scenario(reply_turn()))
        await self.take_turn(h)
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        rid = done.response_id
        started = h.of(RealtimeAgentSpeechStartedEvent, lambda e: e.response_id == rid)
        stopped = h.of(RealtimeAgentSpeechStoppedEvent, lambda e: e.response_id == rid)
        expect(len(started) == 1 and len(stopped) == 1, "one agent speech started and one stopped",
               f"{len(started)} started, {len(stopped)} stopped")  # fmt: skip
        first_chunk = h.of(RealtimeAudioOutputEvent, lambda e: e.response_id == rid)[0]
        expect(h.index_of(started[0]) < h.index_of(first_chunk), "speech started before the first chunk", "after it")
        expect(h.index_of(stopped[0]) < h.index_of(done), "speech stopped before the done event", "after it")
        expect(stopped[0].interrupted is False, "interrupted=False", "interrupted=True")

    @clause("time_to_first_audio", promise="3.5", requires=("audio_output", "user_speech_events"))
    async def test_time_to_first_audio(self, harness: HarnessFactory) -> None:
        """After a spoken turn, a metrics event reports a non-negative time to first audio."""
        h = await harness(scenario(reply_turn()))
        await h.speak()
        done = await self.wait_reply(h)
        assert isinstance(done, RealtimeAudioOutputDoneEvent)
        metrics = await h.wait_for(RealtimeMetricsEvent, lambda e: e.response_id == done.response_id)
        ttfa = metrics.time_to_first_audio_ms
        expect(ttfa is not None and ttfa >= 0, "time_to_first_audio_ms >= 0", repr(ttfa))
        expect(metrics.audio_output_ms > 0, "audio_output_ms > 0", metrics.audio_output_ms)

    @clause("user_speech_events", promise="3.6", requires=("user_speech_events",))
    async def test_user_speech_events(self, harness: HarnessFactory) -> None:
        """A spoken turn produces user speech started then stopped."""
        h = await harness(scenario(reply_turn()))
        await h.speak()
        stopped = await h.wait_for(RealtimeUserSpeechStoppedEvent)
        started = h.of(RealtimeUserSpeechStartedEvent)
        expect(started and h.index_of(started[0]) < h.index_of(stopped), "speech started before speech stopped",
               "no speech started before it")  # fmt: skip

    @clause("bad_audio_rejected", promise="3.7")
    async def test_bad_audio_rejected(self, harness: HarnessFactory) -> None:
        """Audio that is not int16 PcmData (raw bytes, a float array, samples swapped for floats) raises
        InvalidAudioError, a positional participant raises ConfigurationError, and the session keeps working."""
        h = await harness(scenario(reply_turn()))
        swapped = PcmData.silence(20, 16000)
        object.__setattr__(swapped, "samples", np.zeros(320, np.float32))
        cases: list[tuple[str, object, tuple[object, ...], type[Exception]]] = [
            ("raw bytes", b"\x00\x01" * 160, (), InvalidAudioError),
            ("a float32 array", np.zeros(320, np.float32), (), InvalidAudioError),
            ("PcmData whose samples were swapped for floats", swapped, (), InvalidAudioError),
            ("a positional participant", PcmData.silence(20, 16000), ("participant",), ConfigurationError),
        ]
        for what, audio, extra, error in cases:
            try:
                await h.session.simple_audio_response(audio, *extra)  # type: ignore[arg-type]
            except error:
                continue
            except Exception as exc:
                expect(False, f"{error.__name__} for {what}", f"{type(exc).__name__}: {exc}")
            expect(False, f"{error.__name__} for {what}", "it was accepted")
        expect(h.session.connected, "the session still connected", h.session.state)
        await self.take_turn(h)
        await self.wait_reply(h)

    @clause("usage", promise="3.8", requires=("usage",))
    async def test_usage(self, harness: HarnessFactory) -> None:
        """Usage is reported per reply, not as running totals: two identical replies report the same output
        tokens, each naming its reply when it names one."""
        h = await harness(scenario(reply_turn(), reply_turn()))
        usages: list[RealtimeUsageEvent] = []
        for _ in range(2):
            mark = h.mark()
            await self.take_turn(h)
            await self.wait_reply(h, after=mark)
            usages.append(await h.wait_for(RealtimeUsageEvent, after=mark))
        counts = [(u.input_tokens, u.output_tokens, u.total_tokens) for u in usages]
        expect(all(any(c is not None and c >= 0 for c in row) for row in counts), "token counts in every usage event",
               f"counts {counts}")  # fmt: skip
        first, second = usages[0].output_tokens, usages[1].output_tokens
        if first and second is not None and not h.live:
            expect(second < 1.5 * first, f"about {first} output tokens for the second identical reply (per reply)",
                   f"{second}: a running total?")  # fmt: skip
        dones = h.of(RealtimeAudioOutputDoneEvent) if h.caps.audio_output else []
        named = {u.response_id for u in usages if u.response_id is not None}
        if dones and named:
            ids = {d.response_id for d in dones}
            expect(named <= ids, f"usage naming the replies {sorted(ids)}", f"usage naming {sorted(named)}")

    @clause("loop_not_blocked", promise="3.9", requires=("audio_output", "server_vad"), offline_only=True)
    async def test_loop_not_blocked(self, harness: HarnessFactory) -> None:
        """While audio flows both ways the event loop is never blocked: no callback blocks it (sleeps, waits
        on I/O or a lock) for 100 ms more than once, and blocking callbacks take under a tenth of the time (a
        plugin that sleeps synchronously on the audio path fails; a busy machine does not)."""
        if not LoopBlockMeter.available():
            not_exercised("measuring blocked callbacks needs Linux thread rusage and a stock asyncio loop")
        reply = reply_turn(audio_ms=1500, chunk_ms=40, chunk_interval_ms=40)
        h = await harness(scenario(reply_turn(audio_ms=200), reply))
        await h.speak()  # a first exchange: one-time costs (lazy imports, first buffers) are not the audio path
        await self.wait_reply(h)
        mark = h.mark()
        started = time.monotonic()
        with LoopBlockMeter() as meter:
            await h.send_audio(PcmData.tone(600, SPEECH_RATE, frequency=220.0, amplitude=0.3), paced=True)
            await h.send_audio(PcmData.silence(1400, SPEECH_RATE), paced=True)
            await self.wait_reply(h, after=mark)
        window = time.monotonic() - started
        long_blocks = sorted(b for b in meter.blocked if b >= MAX_BLOCK_S)
        total = sum(meter.blocked)
        expect(len(long_blocks) < 2, f"no callback blocking the loop for {MAX_BLOCK_S * 1000:g} ms (one isolated stall allowed)",
               f"{len(long_blocks)} did, up to {long_blocks[-1] * 1000 if long_blocks else 0:.0f} ms")  # fmt: skip
        expect(total < MAX_BLOCKED_SHARE * window, f"blocking callbacks under {MAX_BLOCKED_SHARE:.0%} of {window:.1f} s",
               f"{len(meter.blocked)} of {meter.callbacks} callbacks blocked the loop {total:.2f} s in all "
               f"({total / window:.0%}): a blocking call on the audio path")  # fmt: skip
