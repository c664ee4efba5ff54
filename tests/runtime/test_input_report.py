"""`sagasr info --input`: the band edges and pass-through windows are the ones restoration itself finds."""
import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream import Restorer, restore
from sagasr_stream.errors import AudioFileError
from sagasr_stream.input_report import inspect_input
from tests.conftest import band_limited_noise


def write(path, planar, rate=44100):
    with AudioFile(str(path), "w", rate, planar.shape[0], bit_depth=32) as f:
        f.write(planar)
    return path


@pytest.fixture(scope="module")
def restorer(tiny_model):
    return Restorer(tiny_model)


def test_windows_that_pass_are_the_ones_restore_leaves_unchanged(restorer, tmp_path):
    plan = restorer.plan
    full = 0.2 * np.random.default_rng(1).standard_normal(4 * plan.window).astype(np.float32)
    limited = band_limited_noise(4 * plan.window, cutoff_hz=6000.0, seed=2)
    x = np.concatenate([full, limited])[None]  # full band, then cut at 6 kHz
    report = inspect_input(write(tmp_path / "half.wav", x), restorer)
    assert report.edges_hz.shape == (plan.n_windows(x.shape[1]), 1)
    assert report.passing[:3].all() and not report.passing[-4:].any()
    assert np.all(report.edges_hz[-4:] < 8000)
    y = restore(x, 44100, restorer)
    first = int(np.argmin(report.passing))  # the first window restored: everything before its start is kept
    kept = slice(0, first * plan.hop)
    assert np.allclose(y[0, kept], x[0, kept], atol=1e-6)
    assert not np.allclose(y[0, -plan.window :], x[0, -plan.window :], atol=1e-3)


def test_an_abrupt_end_does_not_read_as_full_band(restorer, tmp_path):
    """The last window's padding is not signal: before, the report measured the join with it (broadband) and
    counted that window as passing while restoration restored it."""
    x = band_limited_noise(3 * restorer.plan.window + 1234, cutoff_hz=6000.0, seed=3)[None]
    report = inspect_input(write(tmp_path / "cut.wav", x), restorer)
    assert not report.passing.any() and np.all(report.edges_hz < 8000)


def test_low_rate_stereo_silence_and_band_limit(restorer, tmp_path):
    pair = np.stack([np.zeros(40000, np.float32), band_limited_noise(40000, cutoff_hz=20000.0, seed=4)])
    report = inspect_input(write(tmp_path / "low.wav", pair, 16000), restorer)
    assert report.channels == 2 and report.source_rate == 16000
    assert np.isnan(report.edges_hz[:, 0]).all()  # a silent channel has no edge
    assert np.all(report.edges_hz[:, 1] <= 8000.0)  # never above the source's Nyquist
    assert "source Nyquist 8.00 kHz" in "\n".join(report.lines())
    silent = inspect_input(write(tmp_path / "silent.wav", np.zeros((1, 30000), np.float32)), restorer)
    assert silent.passing.all() and "digital silence" in "\n".join(silent.lines())
    told = inspect_input(tmp_path / "low.wav", restorer, band_limit_hz=3000.0)
    assert np.all(told.edges_hz[:, 1] <= 3000.0)


def test_the_report_says_when_the_spectrum_falls_faster_than_ordinary_music(restorer, tmp_path):
    """Noise through a 6th-order low-pass at 2 kHz, cut at 8 kHz, falls about 39 dB per octave below the cut (-38.7
    when measured): a dark recording's slope, whose restored band comes out too bright; noise cut alone falls a few
    dB; a full-band file gets no advice (nothing is restored)."""
    from scipy.signal import butter, sosfilt

    plain = band_limited_noise(6 * restorer.plan.window, cutoff_hz=8000.0, seed=6)
    dark = sosfilt(butter(6, 2000, fs=44100, output="sos"), plain.astype(np.float64))
    dark = (0.5 * dark / np.abs(dark).max()).astype(np.float32)
    reports = {name: inspect_input(write(tmp_path / f"{name}.wav", x[None]), restorer)
               for name, x in (("plain", plain), ("dark", dark))}
    assert -10 < reports["plain"].slope_db_per_octave < 0
    assert -45 < reports["dark"].slope_db_per_octave < -30
    lines = {name: "\n".join(report.lines()) for name, report in reports.items()}
    assert "too bright" in lines["dark"] and "--band-gain" in lines["dark"]
    assert "slope:" in lines["plain"] and "too bright" not in lines["plain"]
    assert "too bright" not in "\n".join(reports["dark"].lines()[:1] + [reports["dark"].slope_line(22050.0, False)])


def test_the_report_says_whether_the_samples_lie_on_an_integer_grid(restorer, tmp_path):
    x = band_limited_noise(30000, cutoff_hz=6000.0, seed=5)[None]
    with AudioFile(str(tmp_path / "int.wav"), "w", 44100, 1, bit_depth=16) as f:
        f.write(x)
    with AudioFile(str(tmp_path / "low.wav"), "w", 16000, 1, bit_depth=16) as f:
        f.write(x)
    on_grid = inspect_input(tmp_path / "int.wav", restorer)
    assert on_grid.grid_step == 1 / 32767  # pedalboard's reading of 16-bit samples
    assert "16-bit: a cut in a quiet passage is also looked for under the rounding noise" in on_grid.samples_line()
    assert "16-bit, resampled to 44100 Hz first: a cut in a quiet passage is also looked for under the source's" in \
        inspect_input(tmp_path / "low.wav", restorer).samples_line()
    with AudioFile(str(tmp_path / "low.wav")) as f:
        as_read = f.read(f.frames)  # 16-bit samples ...
    with AudioFile(str(tmp_path / "low_float.wav"), "w", 16000, 1, bit_depth=32) as f:
        f.write(as_read)  # ... stored as float
    stored_as_float = inspect_input(tmp_path / "low_float.wav", restorer)  # the format says float, the samples 16-bit
    assert stored_as_float.grid_step == 1 / 32767  # read under its rounding floor, as restore() reads the same samples
    assert "16-bit, resampled to 44100 Hz first: a cut in a quiet passage is also looked for" in \
        stored_as_float.samples_line()
    floats = inspect_input(write(tmp_path / "float.wav", x), restorer)
    assert floats.grid_step == 0.0 and "not on an 8-16-bit integer grid" in "\n".join(floats.lines())


def test_a_missing_file_is_named(restorer, tmp_path):
    with pytest.raises(AudioFileError, match="nope.wav"):
        inspect_input(tmp_path / "nope.wav", restorer)
