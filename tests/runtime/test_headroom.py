"""Output headroom: float outputs keep values above full scale; integer outputs bring the overs under it with a
peak limiter that leaves every sample away from them as it came, and say so."""
import logging

import numpy as np
from pedalboard.io import AudioFile

from sagasr_stream.api import restore_file
from sagasr_stream.headroom import CEILING, LOOKAHEAD, PeakLimiter, dip_window

from .material import drums_like


def limit(x: np.ndarray, block: int | None = None) -> tuple[np.ndarray, PeakLimiter]:
    limiter = PeakLimiter()
    size = block or x.shape[1]
    parts = [limiter(x[:, i : i + size]) for i in range(0, x.shape[1], size)]
    return np.concatenate(parts + [limiter.flush()], axis=1), limiter


def near_overs(x: np.ndarray) -> np.ndarray:
    over = np.abs(x).max(axis=0) > CEILING
    return np.convolve(over, np.ones(2 * LOOKAHEAD + 1), "same") > 0


def test_only_samples_near_an_over_change_and_none_stays_over():
    x = (0.3 * np.random.default_rng(0).standard_normal((2, 20000))).astype(np.float32)
    x[:, :800] *= np.float32(0.1)  # a quiet stretch ...
    x[:, 100:200] = np.float32(0.99)  # ... with a mastered peak just under full scale, far from any over,
    x[:, 300] = np.float32(1.0)  # and one at full scale exactly: both kept
    y, limiter = limit(x)
    near = near_overs(x)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.array_equal(y[:, ~near], x[:, ~near]) and not near[100:310].any()
    assert np.abs(y).max() <= CEILING and limiter.limited == int((np.abs(x).max(axis=0) > CEILING).sum())
    assert limiter.peak == float(np.abs(x).max())


def test_an_over_is_brought_to_full_scale_by_a_smooth_dip():
    x = np.full((1, 1001), 0.5, np.float32)
    x[0, 500] = 2.0  # +6 dBFS
    y, _ = limit(x)
    gains = y[0] / x[0]
    assert y[0, 500] == CEILING
    np.testing.assert_allclose(gains[500 - LOOKAHEAD : 501 + LOOKAHEAD], 1 - (1 - CEILING / 2.0) * dip_window(), atol=1e-6)
    assert np.all(gains[: 500 - LOOKAHEAD] == 1) and np.all(gains[501 + LOOKAHEAD :] == 1)


def test_limiter_is_block_size_invariant():
    x = (0.5 * np.random.default_rng(1).standard_normal((2, 5000))).astype(np.float32)
    whole, _ = limit(x)
    for block in (1, 63, 64, 65, 333):
        assert np.array_equal(limit(x, block)[0], whole)


def test_an_integer_formats_lowest_code_is_no_over():
    """Full scale below zero is one step further: -32768 / 32767 at 16 bits. A sample there is kept; one below
    it is brought exactly onto it."""
    from sagasr_stream.quantization import pedalboard_lowest

    lowest = np.float32(-pedalboard_lowest(16))
    x = np.random.default_rng(2).uniform(-0.9, 0.9, (2, 3000)).astype(np.float32)
    x[0, 500] = lowest
    x[1, 2000] = np.float32(-1.5)
    limiter = PeakLimiter(negative=pedalboard_lowest(16))
    y = np.concatenate([limiter(x), limiter.flush()], axis=1)
    assert np.array_equal(y[:, :1900], x[:, :1900]) and np.array_equal(y[:, 2100:], x[:, 2100:])
    assert y[1, 2000] == lowest and y.min() == lowest
    assert limiter.limited == 1 and y.max() <= CEILING


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


def test_flac_output_is_limited_and_logged(tiny_model, tmp_path, caplog):
    x = _loud_file(tmp_path / "loud.wav")
    with caplog.at_level(logging.WARNING, logger="sagasr_stream"):
        restore_file(tmp_path / "loud.wav", tmp_path / "out.flac", tiny_model)
    with AudioFile(str(tmp_path / "out.flac")) as f:
        y = f.read(f.frames)[0]
    assert y.shape == x.shape and np.abs(y).max() <= 1 + 2.0**-22  # -1.0 reads back as -8388608 / 8388607
    away = ~near_overs(x[None])
    np.testing.assert_allclose(y[away], x[away], atol=2e-7)  # 24-bit quantisation only
    assert "samples over full scale" in caplog.text and "out.flac" in caplog.text
