"""PcmData, the streaming Resampler and WAV I/O."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from realtime_core import InvalidAudioError, PcmData, Resampler, read_wav, write_wav


def sine(ms: float, rate: int, freq: float = 440.0) -> PcmData:
    return PcmData.tone(ms, rate, frequency=freq, amplitude=0.5)


def dominant_frequency(pcm: PcmData) -> float:
    x = pcm.to_mono().to_float32()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum) * pcm.sample_rate / x.size)


class TestConstruction:
    def test_from_bytes_is_zero_copy_and_round_trips(self) -> None:
        raw = np.arange(-100, 100, dtype=np.int16).tobytes()
        pcm = PcmData.from_bytes(raw, 16000)
        assert pcm.frames == 200 and pcm.channels == 1
        assert pcm.to_bytes() == raw
        assert pcm.duration_ms == pytest.approx(12.5)

    @pytest.mark.parametrize(
        ("data", "rate", "channels", "message"),
        [
            (b"\x00\x01\x02", 16000, 1, "even number of bytes"),
            (b"\x00" * 6, 16000, 2, "divide evenly"),
            (b"\x00" * 4, 0, 1, "positive"),
            (b"\x00" * 4, -8000, 1, "positive"),
            (b"\x00" * 4, 16000.0, 1, "int"),
            (b"\x00" * 4, 16000, 0, "channels"),
            (b"\x00" * 4, 16000, 9, "channels"),
        ],
    )
    def test_from_bytes_rejects_bad_input(self, data: bytes, rate: object, channels: int, message: str) -> None:
        with pytest.raises(InvalidAudioError, match=message):
            PcmData.from_bytes(data, rate, channels)  # type: ignore[arg-type]

    def test_invalid_audio_error_is_a_value_error(self) -> None:
        with pytest.raises(ValueError):
            PcmData.from_bytes(b"\x00", 16000)

    def test_constructor_rejects_wrong_dtype_and_shape(self) -> None:
        with pytest.raises(InvalidAudioError, match="int16.*from_float32"):
            PcmData(np.zeros(10, np.float32), 16000)
        with pytest.raises(InvalidAudioError, match="dtype int16"):
            PcmData(np.zeros(10, np.int32), 16000)
        with pytest.raises(InvalidAudioError, match="shaped"):
            PcmData(np.zeros((10, 3), np.int16), 16000, channels=2)
        with pytest.raises(InvalidAudioError, match="dimensions"):
            PcmData(np.zeros((2, 2, 2), np.int16), 16000)
        with pytest.raises(InvalidAudioError, match="numpy"):
            PcmData([1, 2, 3], 16000)  # type: ignore[arg-type]

    def test_two_dimensional_input_is_interleaved(self) -> None:
        frames = np.array([[1, -1], [2, -2], [3, -3]], dtype=np.int16)
        pcm = PcmData(frames, 8000, channels=2)
        assert pcm.samples.tolist() == [1, -1, 2, -2, 3, -3]
        assert pcm.frames_view().tolist() == frames.tolist()

    def test_from_float32_clips_and_rejects_nan(self) -> None:
        pcm = PcmData.from_float32(np.array([0.0, 0.5, 2.0, -3.0], np.float32), 16000)
        assert pcm.samples.tolist() == [0, 16384, 32767, -32767]
        for bad in (np.nan, np.inf, -np.inf):
            with pytest.raises(InvalidAudioError, match="NaN or infinite"):
                PcmData.from_float32(np.array([0.0, bad], np.float32), 16000)
        with pytest.raises(InvalidAudioError, match="float"):
            PcmData.from_float32(np.zeros(4, np.int16), 16000)

    def test_float_view_round_trip(self) -> None:
        pcm = sine(50, 16000)
        again = PcmData.from_float32(pcm.to_float32(), 16000)
        assert np.max(np.abs(again.samples.astype(int) - pcm.samples.astype(int))) <= 1


class TestConversions:
    def test_av_frame_round_trip_mono_and_stereo(self) -> None:
        for channels in (1, 2):
            pcm = sine(20, 48000).with_channels(channels)
            back = PcmData.from_av_frame(pcm.to_av_frame())
            assert back == pcm

    def test_from_planar_float_av_frame(self) -> None:
        import av

        planar = np.stack([np.full(480, 0.5, np.float32), np.full(480, -0.5, np.float32)])
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
        frame.sample_rate = 48000
        pcm = PcmData.from_av_frame(frame)
        assert pcm.channels == 2 and pcm.frames == 480
        assert pcm.frames_view()[0].tolist() == [16384, -16384]

    def test_mono_stereo(self) -> None:
        stereo = PcmData(np.array([[100, 300], [-100, -300]], np.int16), 8000, 2)
        assert stereo.to_mono().samples.tolist() == [200, -200]
        assert PcmData(np.array([5, 6], np.int16), 8000).to_stereo().samples.tolist() == [5, 5, 6, 6]
        with pytest.raises(InvalidAudioError):
            stereo.with_channels(3)

    def test_resample_keeps_duration_and_pitch(self) -> None:
        pcm = sine(1000, 48000, freq=440)
        out = pcm.resample(16000)
        assert out.sample_rate == 16000
        assert abs(out.frames - 16000) <= 2
        assert dominant_frequency(out) == pytest.approx(440, abs=5)

    def test_resample_stereo_to_mono(self) -> None:
        out = sine(200, 44100).to_stereo().resample(24000, 1)
        assert out.channels == 1 and abs(out.frames - 4800) <= 2

    def test_streaming_resampler_matches_one_shot(self) -> None:
        """Chunked resampling equals whole-clip resampling: no clicks or gaps at chunk borders."""
        pcm = sine(1000, 48000, freq=300)
        whole = pcm.resample(24000)
        stream = Resampler(24000)
        parts = [stream.process(chunk) for chunk in pcm.chunks(20)]
        parts.append(stream.flush())
        chunked = PcmData.concat([p for p in parts if p.frames])
        assert chunked.frames == whole.frames
        diff = np.abs(chunked.samples.astype(int) - whole.samples.astype(int))
        assert diff.max() <= 2
        # no discontinuity bigger than the signal's own largest step
        steps = np.abs(np.diff(chunked.samples.astype(int)))
        assert steps.max() <= np.abs(np.diff(whole.samples.astype(int))).max() + 2

    def test_resampler_passthrough_is_no_copy(self) -> None:
        pcm = sine(20, 16000)
        assert Resampler(16000).process(pcm) is pcm

    def test_resampler_handles_format_change(self) -> None:
        stream = Resampler(16000)
        a = stream.process(sine(100, 48000))
        b = stream.process(sine(100, 24000))
        assert a.sample_rate == b.sample_rate == 16000
        assert b.frames > 0


class TestSlicing:
    def test_chunks_and_padding(self) -> None:
        pcm = sine(55, 16000)
        chunks = list(pcm.chunks(20))
        assert [c.frames for c in chunks] == [320, 320, 240]
        padded = list(pcm.chunks(20, pad_last=True))
        assert padded[-1].frames == 320 and padded[-1].samples[-1] == 0
        assert PcmData.concat(chunks) == pcm

    def test_concat_refuses_mixed_formats(self) -> None:
        with pytest.raises(InvalidAudioError, match="resample"):
            PcmData.concat([sine(10, 16000), sine(10, 24000)])
        with pytest.raises(InvalidAudioError, match="empty"):
            PcmData.concat([])

    def test_slice_and_levels(self) -> None:
        pcm = PcmData.concat([PcmData.silence(100, 16000), sine(100, 16000)])
        assert pcm.slice_ms(0, 100).rms() == 0.0
        assert pcm.slice_ms(100).rms() == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
        assert pcm.peak() == pytest.approx(0.5, rel=0.01)

    def test_repr_does_not_dump_samples(self) -> None:
        assert repr(sine(20, 16000)) == "PcmData(20.0 ms, 16000 Hz, 1 ch)"


class TestWav:
    def test_write_and_read(self, tmp_path: Path) -> None:
        pcm = sine(100, 22050).to_stereo()
        path = write_wav(tmp_path / "a.wav", pcm)
        assert read_wav(path) == pcm
        assert PcmData.from_wav_bytes(pcm.to_wav_bytes()) == pcm

    @pytest.mark.parametrize("width", [1, 3, 4])
    def test_reads_other_widths(self, width: int) -> None:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(width)
            w.setframerate(8000)
            if width == 1:
                w.writeframes(bytes([128, 255, 0]))
            elif width == 3:
                w.writeframes(b"\x00\x00\x40" + b"\x00\x00\xc0")
            else:
                w.writeframes(np.array([1 << 30, -(1 << 30)], "<i4").tobytes())
        pcm = PcmData.from_wav_bytes(buf.getvalue())
        assert pcm.sample_rate == 8000
        if width == 1:
            assert pcm.samples.tolist() == [0, 32512, -32768]
        else:
            assert pcm.samples.tolist() == [16384, -16384]

    def test_not_a_wav(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.wav"
        bad.write_bytes(b"RIFF....nonsense")
        with pytest.raises(InvalidAudioError, match="bad.wav"):
            read_wav(bad)


def test_float_and_extensible_wav_files_are_read(tmp_path: Path) -> None:
    import struct

    def wav(tag: int, bits: int, data: bytes, extensible: bool = False) -> bytes:
        fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, 1, 16000, 16000 * bits // 8, bits // 8, bits)
        if extensible:
            fmt += struct.pack("<HHI", 22, bits, 4) + struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
        return b"RIFF" + struct.pack("<I", len(body)) + body

    ramp = (np.linspace(-0.5, 0.5, 1600)).astype("<f4")
    for name, blob in {
        "f32.wav": wav(3, 32, ramp.tobytes()),
        "f64.wav": wav(3, 64, ramp.astype("<f8").tobytes()),
        "ext.wav": wav(3, 32, ramp.tobytes(), extensible=True),
    }.items():
        (tmp_path / name).write_bytes(blob)
        pcm = read_wav(tmp_path / name)
        assert pcm.sample_rate == 16000 and pcm.frames == 1600
        assert pcm.peak() == pytest.approx(0.5, abs=1e-3)
    (tmp_path / "alaw.wav").write_bytes(wav(6, 8, b"\x00" * 100))
    with pytest.raises(InvalidAudioError, match="compressed"):
        read_wav(tmp_path / "alaw.wav")
