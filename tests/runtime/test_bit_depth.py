"""Output bit depth (``bit_depth`` / ``--bit-depth``): 16-bit outputs rounded with TPDF dither (white, a quarter
step squared, the same whatever the block sizes), 24-bit WAV, and the combinations refused before any work."""
import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream.api import restore_file
from sagasr_stream.audio_io import atomic_writer
from sagasr_stream.formats import output_bit_depth
from sagasr_stream.cli import main
from sagasr_stream.dither import FULL_SCALE, Dither16
from sagasr_stream.errors import AudioFileError, ParameterError
from tests.conftest import band_limited_noise


def read(path):
    with AudioFile(str(path)) as f:
        return f.file_dtype, f.read(f.frames)


def test_dither_does_not_depend_on_block_sizes_and_starts_over_on_reset():
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 5000)).astype(np.float32)
    dither = Dither16(2)
    whole = dither(x)
    dither.reset()
    pieces = np.concatenate([dither(x[:, a:b]) for a, b in ((0, 1), (1, 700), (700, 701), (701, 5000))], axis=1)
    assert whole.dtype == np.int16 and np.array_equal(whole, pieces)
    assert not np.array_equal(whole[0] - np.round(x[0] * FULL_SCALE), whole[1] - np.round(x[1] * FULL_SCALE))
    with pytest.raises(ParameterError, match=r"expected \(2, n\) samples"):
        dither(x[:1])


def test_16_bit_error_is_tpdf_noise_that_does_not_follow_the_signal():
    """A 441 Hz tone a few steps tall over one second: plain rounding's error repeats with the tone (all of its
    power on the tone's harmonics, heard as distortion); the dithered error is white."""
    quiet = (10 ** (-70 / 20) * np.sin(2 * np.pi * 441 * np.arange(44100) / 44100))[None]
    error = Dither16(1)(quiet)[0] / FULL_SCALE - quiet[0]
    assert abs(error.mean()) < 0.02 / FULL_SCALE
    assert np.var(error) * FULL_SCALE**2 == pytest.approx(0.25, rel=0.05)  # rounding 1/12 + TPDF 1/6 of a step^2

    def on_harmonics(e: np.ndarray) -> float:  # share of the error's power in the bins of 441 Hz x k (1 Hz bins)
        power = np.abs(np.fft.rfft(e)) ** 2
        return float(power[::441].sum() / power.sum())

    assert on_harmonics(error) < 0.02
    assert on_harmonics(np.round(quiet[0] * FULL_SCALE) / FULL_SCALE - quiet[0]) > 0.99


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".aiff"])
def test_restore_file_writes_a_dithered_16_bit_file_next_to_the_float_result(tiny_model, tmp_path, suffix):
    source = tmp_path / "in.wav"
    with AudioFile(str(source), "w", 44100, 2) as f:
        f.write(0.5 * band_limited_noise(30_000, channels=2))
    restore_file(source, tmp_path / "float.wav", tiny_model)
    restore_file(source, tmp_path / f"out{suffix}", tiny_model, bit_depth=16)
    restore_file(source, tmp_path / f"again{suffix}", tiny_model, bit_depth=16)
    dtype, sixteen = read(tmp_path / f"out{suffix}")
    _, floated = read(tmp_path / "float.wav")
    assert dtype == "int16" and sixteen.shape == floated.shape
    assert np.abs(sixteen - floated).max() <= 1.5 / FULL_SCALE + 1e-7  # rounding (1/2) + TPDF (1) steps at most
    assert np.array_equal(sixteen, read(tmp_path / f"again{suffix}")[1])  # the same file every time


def test_a_16_bit_file_left_alone_comes_out_bit_for_bit_at_16_bits(tiny_model, tmp_path):
    """A full-band 16-bit file passes through restoration unchanged; written at 16 bits it is not dithered again."""
    k = np.round(np.random.default_rng(3).standard_normal((2, 30_000)) * 3000).astype(np.int16)  # white: full band
    with AudioFile(str(tmp_path / "in.wav"), "w", 44100, 2, bit_depth=16) as f:
        f.write(k)
    restore_file(tmp_path / "in.wav", tmp_path / "out.wav", tiny_model, bit_depth=16)
    from scipy.io import wavfile

    assert np.array_equal(wavfile.read(tmp_path / "out.wav")[1].T, k)
    on_grid = (k[:, :50].astype(np.float32) * np.float32(1 / FULL_SCALE))
    assert np.array_equal(Dither16(2)(on_grid), k[:, :50])  # the writer's rule itself
    assert not np.array_equal(Dither16(2)(on_grid + np.float32(1e-7)), k[:, :50])  # off the grid: dithered


def test_the_most_negative_16_bit_code_is_no_over(tiny_model, tmp_path, caplog):
    """-32768, which pedalboard reads as -32768 / 32767, is kept (not limited, its neighbours not dithered, no
    warning of overs), as is +32767."""
    import logging

    from scipy.io import wavfile

    k = np.round(np.random.default_rng(4).standard_normal((2, 30_000)) * 3000).astype(np.int16)  # full band
    k[0, 1000:1010] = -32768
    k[1, 5000:5003] = 32767
    k[1, 20_000] = -32768
    with AudioFile(str(tmp_path / "in.wav"), "w", 44100, 2, bit_depth=16) as f:
        f.write(k)
    for suffix in (".wav", ".flac", ".aiff"):
        with caplog.at_level(logging.WARNING, logger="sagasr_stream"):
            restore_file(tmp_path / "in.wav", tmp_path / f"out{suffix}", tiny_model, bit_depth=16)
        with AudioFile(str(tmp_path / f"out{suffix}")) as f:
            assert np.array_equal(f.read(f.frames), k * np.float32(1 / FULL_SCALE))
    assert np.array_equal(wavfile.read(tmp_path / "out.wav")[1].T, k)
    assert "over full scale" not in caplog.text


@pytest.mark.parametrize("suffix, bit_depth", [(".flac", None), (".aiff", None), (".wav", 24)])
def test_a_24_bit_file_left_alone_comes_out_bit_for_bit_at_24_bits(tiny_model, tmp_path, suffix, bit_depth):
    """pedalboard writes a negative float sample x as x * 8388608 but reads code k as k / 8388607: the writer
    rounds to the code itself, so a 24-bit file read and written back keeps every code, the extremes included."""
    k = np.round(np.random.default_rng(5).standard_normal((2, 30_000)) * 3e5).astype(np.int32)  # white: full band
    k[0, :4] = [-(1 << 23), (1 << 23) - 1, -1, 1]
    with AudioFile(str(tmp_path / f"in{suffix}"), "w", 44100, 2, bit_depth=24) as f:
        f.write(np.left_shift(k, 8))
    with AudioFile(str(tmp_path / f"in{suffix}")) as f:
        x = f.read(f.frames)
    assert np.array_equal(np.round(x.astype(np.float64) * 8388607), k)  # what was written is what we meant
    restore_file(tmp_path / f"in{suffix}", tmp_path / f"out{suffix}", tiny_model, bit_depth=bit_depth)
    dtype, y = read(tmp_path / f"out{suffix}")
    assert dtype == "int24" and np.array_equal(y, x)


def test_a_24_bit_wav_is_integer_and_limited(tmp_path):
    block = np.full((1, 400), 0.5, np.float32)
    block[0, 300] = 1.5
    with atomic_writer(tmp_path / "out.wav", 44100, 1, bit_depth=24) as writer:
        writer.write(block)
    dtype, x = read(tmp_path / "out.wav")
    assert dtype == "int24" and np.abs(x).max() <= 1.0
    assert np.allclose(x[0, :200], 0.5, atol=2.0**-22) and x[0, 300] == pytest.approx(1.0, abs=2.0**-22)


def test_bad_bit_depths_are_refused_before_any_file_is_touched(tiny_model, tmp_path):
    source = tmp_path / "in.wav"
    with AudioFile(str(source), "w", 44100, 1) as f:
        f.write(band_limited_noise(10_000)[None])
    with pytest.raises(AudioFileError, match=r"out\.flac.*32-bit float needs a \.wav output"):
        restore_file(source, tmp_path / "out.flac", tiny_model, bit_depth=32)
    with pytest.raises(ParameterError, match=r"bit_depth must be one of \(16, 24, 32\), got 20"):
        restore_file(source, tmp_path / "out.wav", tiny_model, bit_depth=20)
    with pytest.raises(ParameterError, match="got True"):
        output_bit_depth(tmp_path / "out.wav", True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_cli_bit_depth(tiny_bundle, tmp_path, capsys):
    source = tmp_path / "in.wav"
    with AudioFile(str(source), "w", 44100, 1) as f:
        f.write(band_limited_noise(10_000)[None])
    common = ["--model", str(tiny_bundle), "-q"]
    assert main(["restore", str(source), "-o", str(tmp_path / "out.flac"), "--bit-depth", "16", *common]) == 0
    assert read(tmp_path / "out.flac")[0] == "int16"
    assert main(["restore", str(source), "-o", str(tmp_path / "bad.aiff"), "--bit-depth", "32", *common]) == 2
    assert "32-bit float needs a .wav output" in capsys.readouterr().err
    assert not (tmp_path / "bad.aiff").exists()
