"""Output headroom: float outputs keep values above full scale; FLAC soft-limits them and says so."""
import logging

import numpy as np
from pedalboard.io import AudioFile

from sagasr_stream.api import restore_file
from sagasr_stream.headroom import KNEE, SoftLimiter, soft_limit

from .material import drums_like


def test_soft_limit_keeps_samples_below_the_knee_and_bounds_the_rest():
    x = np.linspace(-3, 3, 10001, dtype=np.float32)
    y = soft_limit(x)
    below = np.abs(x) <= KNEE
    assert np.array_equal(y[below], x[below])
    assert np.abs(y).max() < 1.0
    assert np.all(np.diff(y) >= 0)  # monotonic: no fold-over
    step = np.abs(np.diff(y)).max()
    assert step <= np.abs(np.diff(x)).max() * 1.0001  # no jump at the knee


def test_limiter_is_block_size_invariant():
    x = (2.5 * np.random.default_rng(0).standard_normal((2, 5000))).astype(np.float32)
    whole = SoftLimiter()(x)
    limiter = SoftLimiter()
    parts = np.concatenate([limiter(x[:, i : i + 333]) for i in range(0, 5000, 333)], axis=1)
    assert np.array_equal(whole, parts)
    assert limiter.limited == int((np.abs(x) > KNEE).sum())


def _loud_file(path):
    x = 3.0 * drums_like(0.5)  # full band: passes through unchanged, peak 1.5
    with AudioFile(str(path), "w", 44100, 1, bit_depth=32) as f:  # 32-bit float WAV
        f.write(x[None, :])
    return x


def test_wav_output_keeps_values_above_full_scale(tiny_model, tmp_path):
    x = _loud_file(tmp_path / "loud.wav")
    restore_file(tmp_path / "loud.wav", tmp_path / "out.wav", tiny_model)
    with AudioFile(str(tmp_path / "out.wav")) as f:
        y = f.read(f.frames)[0]
    assert np.abs(y).max() > 1.4
    np.testing.assert_array_equal(y, x)


def test_flac_output_is_soft_limited_and_logged(tiny_model, tmp_path, caplog):
    x = _loud_file(tmp_path / "loud.wav")
    with caplog.at_level(logging.WARNING, logger="sagasr_stream"):
        restore_file(tmp_path / "loud.wav", tmp_path / "out.flac", tiny_model)
    with AudioFile(str(tmp_path / "out.flac")) as f:
        y = f.read(f.frames)[0]
    assert np.abs(y).max() <= 1.0
    quiet = np.abs(x) <= 0.8
    np.testing.assert_allclose(y[quiet], x[quiet], atol=2e-7)  # 24-bit quantisation only
    assert "soft-limited" in caplog.text and "out.flac" in caplog.text
