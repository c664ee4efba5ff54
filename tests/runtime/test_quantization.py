"""Quiet integer-sample input: a cut under the 16-bit rounding noise is found, and nothing else changes."""
import numpy as np
import pytest
from pedalboard.io import AudioFile
from scipy.io import wavfile

from sagasr_stream import degradation, dsp
from sagasr_stream.bandlimit import BandLimitTracker
from sagasr_stream.chunking import WindowPlan
from sagasr_stream.quantization import grid_step, rounding_floor, rounding_power

from .material import SR, piano_like, validation_clips


def to_16_bit(x: np.ndarray, dither_seed: int | None = None) -> np.ndarray:
    """A 16-bit file of ``x`` as soundfile reads it (k / 32768); with ``dither_seed``, TPDF dither of +-1 step first."""
    scaled = np.asarray(x, np.float64) * 32768
    if dither_seed is not None:
        rng = np.random.default_rng(dither_seed)
        scaled = scaled + rng.uniform(-0.5, 0.5, scaled.shape) + rng.uniform(-0.5, 0.5, scaled.shape)
    return (np.clip(np.round(scaled), -32768, 32767) / 32768).astype(np.float32)


def window_edge_hz(x: np.ndarray) -> float:
    """The runtime's band edge of one window of samples ``x`` (Hz), with the rounding floor of its grid."""
    power = dsp.interior_power(np.asarray(x, np.float64)[None])[0]
    return dsp.band_edge_from_power(power, rounding_floor(x)) * SR / dsp.N_FFT


def quiet_cut(x: np.ndarray, peak_dbfs: float, cutoff: float = 8000.0) -> np.ndarray:
    x = 10 ** (peak_dbfs / 20) * x / np.abs(x).max()
    return degradation.band_limit(x.astype(np.float64), SR, degradation.LowPassSpec("cheby1", 8, cutoff))


def test_grid_step_names_the_coarsest_integer_format():
    rng = np.random.default_rng(0)
    k = np.round(rng.standard_normal(4096) * 1000)
    assert grid_step(k / 32768) == 2.0**-15 and grid_step(np.round(k / 300) / 128) == 2.0**-7
    assert grid_step(k / 2**23) == 0.0 and grid_step(rng.standard_normal(64)) == 0.0  # 24-bit, float: off the grids
    assert grid_step(np.zeros(10)) == np.inf  # silence lies on every grid
    assert np.array_equal(grid_step(np.stack([k / 32768, np.zeros(4096)])), [2.0**-15, np.inf])
    assert rounding_power(0.0) == rounding_power(np.inf) == 0.0


def test_rounding_power_is_what_the_spectrum_of_rounding_noise_shows():
    noise = np.random.default_rng(1).uniform(-0.5, 0.5, 1 << 16) / 32768
    assert np.mean(dsp.interior_power(noise[None])[0][10:-10]) / rounding_power(2.0**-15) == pytest.approx(1, abs=0.02)


@pytest.mark.parametrize("name", ["piano", "000022_00", "000022_05"])
def test_a_quiet_16_bit_cut_that_reads_as_full_band_is_found(name):
    source = piano_like(2.0) if name == "piano" else validation_clips()[name]
    x = to_16_bit(quiet_cut(source, -35.0))[: 1 << 16]
    power = dsp.interior_power(x[None].astype(np.float64))[0]
    assert dsp.band_edge_from_power(power) == power.size - 1  # the cut lies under the rounding: read as full band
    edge_hz = dsp.band_edge_from_power(power, rounding_floor(x)) * SR / dsp.N_FFT
    assert 0.9 <= edge_hz / 8000.0 <= 1.1


@pytest.mark.parametrize("name", ["piano", "000022_00", "000022_05"])
def test_a_quiet_dithered_16_bit_cut_is_found_where_the_band_meets_the_dither(name, monkeypatch):
    source = piano_like(2.0) if name == "piano" else validation_clips()[name]
    cut = quiet_cut(source, -30.0)[: 1 << 16]
    x = to_16_bit(cut, dither_seed=3)
    with monkeypatch.context() as before:
        before.setattr(dsp, "EDGE_DITHER_DROP_DB", np.inf)  # no third look: the cut lies in the dither
        assert window_edge_hz(x) == SR / 2
    with monkeypatch.context() as knee:  # the float cut's knee: its steep start, 9 dB under the band's trend, lies
        knee.setattr(dsp, "EDGE_START_DB", np.inf)  # in the dither here, which is only 12-15 dB under the band
        float_knee_hz = window_edge_hz(cut)
    assert 0.9 <= window_edge_hz(x) / float_knee_hz <= 1.05  # where the float cut's knee is, not below it


@pytest.mark.parametrize("peak_dbfs", [-1.0, -20.0])
def test_dithered_full_band_material_stays_full_band(peak_dbfs):
    rng = np.random.default_rng(4)
    noise = np.cumsum(rng.standard_normal(1 << 16)) * 0.002  # pink-ish, falling 6 dB per octave to Nyquist
    noise = 10 ** (peak_dbfs / 20) * (noise - noise.mean()) / np.abs(noise - noise.mean()).max()
    assert window_edge_hz(to_16_bit(noise, dither_seed=5)) == SR / 2


def test_a_spectrum_fading_under_the_rounding_floor_is_not_a_cut(monkeypatch):
    x = np.random.default_rng(1).standard_normal(1 << 16)
    for _ in range(2):  # falling 12 dB per octave (a bass-heavy mix): under the 16-bit rounding from about 1 kHz
        x = np.cumsum(x)
        x = x - x.mean()
    x = to_16_bit(10 ** (-10 / 20) * x / np.abs(x).max())
    assert window_edge_hz(x) == SR / 2
    monkeypatch.setattr(dsp, "EDGE_ROUNDING_RAW_DROP_DB", -np.inf)  # the rounding taken out alone makes a cliff:
    assert window_edge_hz(x) < 2000.0  # a "cut" at 0.9 kHz, and everything above it restored


def test_found_cuts_and_float_input_are_unchanged():
    clips = validation_clips()
    for name in ("000025_04", "000081_01", "000136_01"):
        for x in (quiet_cut(clips[name], -1.0), to_16_bit(quiet_cut(clips[name], -1.0)), quiet_cut(clips[name], -35.0)):
            power = dsp.interior_power(np.asarray(x, np.float64)[None, : 1 << 16])[0]
            floor = rounding_floor(np.asarray(x)[: 1 << 16])
            assert dsp.band_edge_from_power(power, floor) == dsp.band_edge_from_power(power)


def test_the_signal_limit_uses_the_grid_whatever_the_block_sizes():
    x = to_16_bit(quiet_cut(piano_like(3.0), -35.0))[None]
    plan = WindowPlan(16384, 8192)
    windows = plan.n_windows(x.shape[1])
    results = []
    for block in (x.shape[1], 1000, 16384):
        tracker = BandLimitTracker(plan)
        for start in range(0, x.shape[1], block):
            tracker.push(x[:, start : start + block])
        tracker.end()
        results.append([tracker.limits(k)[0] for k in range(windows)])
    assert results[0] == results[1] == results[2]
    assert all(limit is not None and 0.9 <= limit.edge_bin * SR / dsp.N_FFT / 8000.0 <= 1.1 for limit in results[0][1:])
    floated = BandLimitTracker(plan)  # the same samples off the grid (a hair of float noise): no limit found
    floated.push(x + np.float32(1e-9) * np.random.default_rng(2).standard_normal(x.shape).astype(np.float32))
    floated.end()
    assert all(floated.limits(k)[0] is None for k in range(windows))


@pytest.mark.parametrize("peak_dbfs, dither_seed", [(-35.0, None), (-30.0, 3)])
def test_restore_fills_a_quiet_16_bit_file_it_used_to_pass(tiny_model, peak_dbfs, dither_seed, tmp_path):
    from sagasr_stream import restore, restore_file

    x = to_16_bit(quiet_cut(piano_like(2.0), peak_dbfs), dither_seed)
    top = lambda s: np.abs(np.fft.rfft(s.astype(np.float64)))[int(10000 * s.size / SR) :] ** 2  # noqa: E731
    assert top(restore(x, SR, tiny_model)).sum() > 10 * top(x).sum()  # restored, not passed: an array ...
    wavfile.write(tmp_path / "quiet.wav", SR, np.round(x * 32768).astype(np.int16))
    restore_file(tmp_path / "quiet.wav", tmp_path / "out.wav", tiny_model)  # ... and the same as a 16-bit file
    with AudioFile(str(tmp_path / "out.wav")) as f:
        assert top(f.read(f.frames)[0]).sum() > 10 * top(x).sum()


def test_a_16_bit_file_read_by_pedalboard_lies_on_its_grid(tmp_path):
    k = np.round(np.random.default_rng(6).standard_normal((2, 4096)) * 300).astype(np.int16)
    wavfile.write(tmp_path / "k.wav", SR, k.T)
    with AudioFile(str(tmp_path / "k.wav")) as f:
        x = f.read(f.frames)  # k * float32(1 / 32767), not k / 32768
    assert np.array_equal(grid_step(x), [1 / 32767, 1 / 32767]) and grid_step(k / 32768)[0] == 2.0**-15
    assert grid_step(x[0] * np.float32(1.5)) == 0.0 and grid_step(x[0].astype(np.float64) + 1e-9) == 0.0


def test_resampled_rounding_noise_keeps_its_power_per_hz():
    """The floor a resampled 16-bit source brings is rounding_power x model rate / source rate, in band."""
    from sagasr_stream.quantization import resampled_floor
    from sagasr_stream.streaming import ResampleStage, run_whole

    noise = np.random.default_rng(7).uniform(-0.5, 0.5, (1, 1 << 17)).astype(np.float32) / 32768
    for source_rate, top_hz in ((48000, 19000), (22050, 10000)):
        at_model_rate = run_whole(ResampleStage(source_rate, SR, 1), noise)[0, 4096:-4096]
        power = dsp.interior_power(at_model_rate[None].astype(np.float64))[0]
        in_band = power[10 : int(top_hz / SR * dsp.N_FFT)]
        assert np.mean(in_band) / resampled_floor(2.0**-15, source_rate, SR) == pytest.approx(1, abs=0.05)
    assert resampled_floor(2.0**-15, SR, SR) == 0.0  # at the model's rate the samples keep their own grid
    assert resampled_floor(0.0, 48000, SR) == resampled_floor(np.inf, 48000, SR) == 0.0


@pytest.mark.parametrize("bit_depth, step", [(16, 1 / 32767), (8, 1 / 127), (24, 0.0), (32, 0.0)])
def test_the_grid_of_a_file_comes_from_its_sample_format(bit_depth, step, tmp_path):
    from sagasr_stream.quantization import file_grid_step

    with AudioFile(str(tmp_path / "x.wav"), "w", 48000, 1, bit_depth=bit_depth) as f:
        f.write(np.zeros((1, 100), np.float32))
    with AudioFile(str(tmp_path / "x.wav")) as f:
        assert file_grid_step(f) == step


def quiet_dithered_48k_file(path, bit_depth: int):
    """A dithered 16-bit quiet piano cut at 8 kHz, at 48 kHz, written with ``bit_depth`` (32: the same samples as
    float, so nothing says they came from 16 bits)."""
    from scipy.signal import resample_poly

    cut = quiet_cut(resample_poly(piano_like(3.0), 160, 147), -30.0)
    x = to_16_bit(cut, dither_seed=5)
    with AudioFile(str(path), "w", 48000, 1, bit_depth=bit_depth) as f:
        f.write(x[None])
    return x


def test_a_quiet_16_bit_file_at_48_khz_is_read_under_its_rounding_floor(tiny_model, tmp_path):
    """Resampled to 44.1 kHz the samples leave the grid; the file's format, or for a float file the grid its samples
    lie on, still says where its floor lies."""
    from sagasr_stream.input_report import inspect_input
    from sagasr_stream.restorer import Restorer

    restorer = Restorer(tiny_model)
    quiet_dithered_48k_file(tmp_path / "int.wav", 16)
    quiet_dithered_48k_file(tmp_path / "float.wav", 32)
    edges = inspect_input(tmp_path / "int.wav", restorer).edges_hz[:, 0]
    assert np.all((edges > 0.85 * 8000) & (edges < 1.15 * 8000)), edges
    assert np.array_equal(inspect_input(tmp_path / "float.wav", restorer).edges_hz[:, 0], edges)  # the same samples


def test_a_float_file_of_16_bit_samples_at_48_khz_is_restored_as_the_same_array_is(tiny_model, tmp_path):
    """restore() finds the floor from the grid the samples lie on; restore_file looked only at the file's format, so
    the same samples in a 32-bit float WAV passed through unrestored (the default model, -35 dBFS peaks cut at 6 kHz:
    restore changed the samples by up to 3.5e-4, restore_file by 0)."""
    from sagasr_stream import restore, restore_file

    quiet_dithered_48k_file(tmp_path / "float.wav", 32)
    with AudioFile(str(tmp_path / "float.wav")) as f:
        as_read = f.read(f.frames)
    restore_file(tmp_path / "float.wav", tmp_path / "out.wav", tiny_model)
    with AudioFile(str(tmp_path / "out.wav")) as f:
        assert np.array_equal(f.read(f.frames), restore(as_read, 48000, tiny_model))


def test_restore_fills_a_quiet_16_bit_array_at_48_khz(tiny_model, tmp_path):
    from sagasr_stream import restore

    x = quiet_dithered_48k_file(tmp_path / "int.wav", 16)
    with AudioFile(str(tmp_path / "int.wav")) as f:
        as_read = f.read(f.frames)[0]  # pedalboard's grid
    top = lambda s, rate: np.abs(np.fft.rfft(s.astype(np.float64)))[int(10000 * s.size / rate) :] ** 2  # noqa: E731
    assert top(restore(as_read, 48000, tiny_model), 48000).sum() > 10 * top(x, 48000).sum()


def test_a_downmix_of_two_roundings_holds_half_their_floor(tiny_model):
    """The "mono" stereo mode detects on the channels' mean: two independent roundings, half the power."""
    from sagasr_stream.restorer import Restorer
    from sagasr_stream.settings import RestoreSettings

    mono, independent = (Restorer(tiny_model, RestoreSettings(stereo=mode)) for mode in ("mono", "independent"))
    assert mono.window_floor(4.0, 2) == 2.0 and independent.window_floor(4.0, 2) == 4.0
    # the signal-so-far limit of the stream measures the same downmix, with the same floor
    assert mono.stream(2, source_floor=4.0)._limits.source_floor == 2.0
    assert independent.stream(2, source_floor=4.0)._limits.source_floor == 4.0
