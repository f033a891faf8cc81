"""Which streaming resampler core should use: PyAV's (libswresample) or soxr (libsoxr).

Measures, for the conversions apps need (48 kHz stereo/mono mic -> 16 or 24 kHz mono, 24 kHz -> 16 kHz),
the quality of each resampler run chunk by chunk (20 ms chunks, filter state kept across chunks), on a
logarithmic sweep (how much energy lands where it should not: aliasing and imaging, in dB below the
signal) and on real speech (the bundled clip; error against an offline very-high-quality conversion),
and the CPU per 20 ms chunk. Also prints the wheel sizes if the wheels are given.

    .venv/bin/python benchmarks/resampler.py [--wheels DIR]

Needs both ``av`` and ``soxr`` installed (``pip install av soxr``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

CHUNK_MS = 20


def tone(rate: int, freq: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * 0.5 * 32767).astype(np.int16)


def tone_grid(in_rate: int) -> list[float]:
    """A stepped sweep: log-spaced frequencies from 100 Hz to just below the input's Nyquist."""
    return list(np.geomspace(100, in_rate / 2 * 0.97, 36))


def residual_db(out: np.ndarray, rate: int, freq: float) -> float:
    """Everything but the tone (distortion, noise, aliases), in dB relative to the tone."""
    x = out[len(out) // 4 : 3 * len(out) // 4].astype(np.float64)
    t = np.arange(len(x)) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    fit, *_ = np.linalg.lstsq(basis, x, rcond=None)
    rest = x - basis @ fit
    return 10 * np.log10(max(np.sum(rest**2), 1e-9) / max(np.sum((basis @ fit) ** 2), 1e-9))


def av_stream(in_rate: int, out_rate: int, channels: int) -> Callable[[np.ndarray | None], np.ndarray]:
    import av

    layout = "mono" if channels == 1 else "stereo"
    res = av.AudioResampler(format="s16", layout="mono", rate=out_rate)

    def step(chunk: np.ndarray | None) -> np.ndarray:
        if chunk is None:
            frames = res.resample(None)
        else:
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout=layout)
            frame.sample_rate = in_rate
            frames = res.resample(frame)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]) if frames else np.zeros(0, np.int16)

    return step


def soxr_stream(in_rate: int, out_rate: int, channels: int, quality: str = "HQ") -> Callable[[np.ndarray | None], np.ndarray]:
    import soxr

    res = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality=quality)

    def step(chunk: np.ndarray | None) -> np.ndarray:
        if chunk is None:
            return res.resample_chunk(np.zeros(0, np.int16), last=True)
        mono = chunk if channels == 1 else ((chunk[0::2].astype(np.int32) + chunk[1::2]) >> 1).astype(np.int16)
        return res.resample_chunk(mono)

    return step


def run(step: Callable[[np.ndarray | None], np.ndarray], signal: np.ndarray, in_rate: int, channels: int) -> tuple[np.ndarray, float]:
    out, per_chunk_us, _ = run_with_delay(step, signal, in_rate, channels)
    return out, per_chunk_us


def run_with_delay(
    step: Callable[[np.ndarray | None], np.ndarray], signal: np.ndarray, in_rate: int, channels: int, out_rate: int = 0
) -> tuple[np.ndarray, float, float]:
    """Output, CPU per chunk, and the delay: how much of the input is not out yet before the final flush (ms)."""
    n = in_rate * CHUNK_MS // 1000 * channels
    outs = []
    started = time.perf_counter()
    chunks = 0
    for i in range(0, len(signal), n):
        outs.append(step(signal[i : i + n]))
        chunks += 1
    per_chunk_us = (time.perf_counter() - started) / chunks * 1e6
    streamed = sum(len(o) for o in outs)
    outs.append(step(None))
    seconds = len(signal) / channels / in_rate
    expected = seconds * out_rate if out_rate else sum(len(o) for o in outs)
    delay_ms = (expected - streamed) / expected * seconds * 1000
    return np.concatenate(outs), per_chunk_us, delay_ms


def speech_error_db(out: np.ndarray, reference: np.ndarray) -> float:
    n = min(len(out), len(reference))
    best = float("inf")
    for lag in range(-40, 41):  # the filters' delays differ: align first
        a = out[max(0, lag) : n + min(0, lag)].astype(np.float64)
        b = reference[max(0, -lag) : n - max(0, lag)].astype(np.float64)
        m = min(len(a), len(b))
        err = np.sum((a[:m] - b[:m]) ** 2) / max(np.sum(b[:m] ** 2), 1.0)
        best = min(best, err)
    return 10 * np.log10(best)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheels", type=Path, help="folder with the av and soxr wheels (for their sizes)")
    args = ap.parse_args()
    import soxr

    from realtime_core.demo import bundled_speech

    speech16 = bundled_speech()
    speech48 = soxr.resample(speech16.samples, 16000, 48000, quality="VHQ").astype(np.int16)
    cases = [(48000, 16000, 2), (48000, 16000, 1), (48000, 24000, 1), (24000, 16000, 1), (16000, 24000, 1), (24000, 48000, 1)]
    print("passband: worst distortion+noise of a tone below 0.9 x the output Nyquist (dB below the tone)")
    print("stopband: worst leftover of a tone above the output Nyquist (dB below the input tone: aliasing)")
    print("speech:   error on the bundled speech against an offline very-high-quality conversion")
    print("delay:    audio held inside the filter while streaming (added mic latency)")
    print(f"{'conversion':20} {'resampler':9} {'passband':>9} {'stopband':>9} {'speech':>8} {'us/chunk':>9} {'delay ms':>9}")
    for in_rate, out_rate, channels in cases:
        name = f"{in_rate // 1000}k{' stereo' if channels == 2 else ''} -> {out_rate // 1000}k"
        speech = speech48 if in_rate == 48000 else soxr.resample(speech16.samples, 16000, in_rate, quality="VHQ").astype(np.int16)
        ref = soxr.resample(speech, in_rate, out_rate, quality="VHQ").astype(np.int16)
        if channels == 2:
            speech = np.repeat(speech, 2)
        makers: dict[str, Callable[..., Callable[[np.ndarray | None], np.ndarray]]] = {
            "pyav": av_stream,
            "soxr-HQ": soxr_stream,
            "soxr-MQ": lambda i, o, c: soxr_stream(i, o, c, "MQ"),
            "soxr-LQ": lambda i, o, c: soxr_stream(i, o, c, "LQ"),
        }
        for label, make in makers.items():
            passband, stopband = -200.0, -200.0
            for freq in tone_grid(in_rate):
                sig = tone(in_rate, freq)
                sig = np.repeat(sig, 2) if channels == 2 else sig
                out, _ = run(make(in_rate, out_rate, channels), sig, in_rate, channels)
                if freq < out_rate / 2 * 0.9:
                    passband = max(passband, residual_db(out, out_rate, freq))
                elif freq > out_rate / 2 * 1.05:
                    body = out[len(out) // 4 : 3 * len(out) // 4].astype(np.float64)
                    level = 10 * np.log10(max(np.mean(body**2), 1e-9) / (0.5 * (0.5 * 32767) ** 2))
                    stopband = max(stopband, level)
            sp, us, delay = run_with_delay(make(in_rate, out_rate, channels), speech, in_rate, channels, out_rate)
            print(f"{name:20} {label:9} {passband:9.1f} {stopband:9.1f} {speech_error_db(sp, ref):8.1f} {us:9.1f} {delay:9.1f}")
    if args.wheels:
        for wheel in sorted(args.wheels.glob("*.whl")):
            print(f"wheel {wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
