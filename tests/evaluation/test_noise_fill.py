"""The level-matched noise fill baseline: level of the octave below, -12 dB per octave, seeded."""
from __future__ import annotations

import numpy as np
import pytest

from sagasr_stream.degradation import LowPassSpec, band_limit
from sagasr_stream.dsp import stft
from sagasr_stream.evaluation import noise_fill
from sagasr_stream.evaluation.baseline import RANDOM_PHASE_LOSS_DB

SR = 44100


def white_band_limited(cutoff: float, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return band_limit(0.1 * rng.standard_normal(int(seconds * SR)), SR, LowPassSpec("cheby1", 8, cutoff))


def mean_power_db(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    power = (np.abs(stft(np.asarray(x, dtype=np.float64))) ** 2).mean(axis=1)
    return np.arange(power.size) * SR / 2048, 10 * np.log10(power + 1e-30)


@pytest.mark.parametrize("cutoff", [4000.0, 8000.0])
def test_noise_fill_matches_the_octave_below_and_falls_12_db_per_octave(cutoff):
    x = white_band_limited(cutoff)
    freqs, db = mean_power_db(noise_fill(x, SR, cutoff, seed=1))
    _, db_in = mean_power_db(x)
    octave_below = (freqs >= cutoff / 2) & (freqs < 0.97 * cutoff)
    level_below = 10 * np.log10(np.mean(10 ** (db_in[octave_below] / 10)))
    above = freqs >= cutoff * 1.02
    slope, intercept = np.polyfit(np.log2(freqs[above]), db[above], 1)
    assert slope == pytest.approx(-12.0, abs=0.5)
    # the fitted line meets the octave below's level at 0.75 x cutoff (where the fill is anchored), less the
    # 6 dB that overlap-adding random-phase frames loses (N_FFT / HOP = 4: a quarter of the power)
    assert RANDOM_PHASE_LOSS_DB == pytest.approx(6.02, abs=0.01)
    anchored = np.polyval([slope, intercept], np.log2(0.75 * cutoff))
    assert anchored == pytest.approx(level_below - RANDOM_PHASE_LOSS_DB, abs=1.0)
    # the band below the cutoff is the input's
    assert np.abs(db[octave_below] - db_in[octave_below]).max() < 0.1


def test_noise_fill_follows_the_level_of_each_frame():
    x = white_band_limited(6000.0)
    x[: x.size // 2] *= 0.1  # first half 20 dB quieter
    y = noise_fill(x, SR, 6000.0, seed=0)
    hi = np.abs(stft(y.astype(np.float64)))[300:] ** 2  # bins above ~6.5 kHz
    frames = hi.shape[1]
    quiet, loud = hi[:, 5 : frames // 2 - 5].mean(), hi[:, frames // 2 + 5 : -5].mean()
    assert 10 * np.log10(loud / quiet) == pytest.approx(20.0, abs=1.5)


def test_noise_fill_is_deterministic_per_seed():
    x = white_band_limited(8000.0, seconds=0.5)
    a, b, c = noise_fill(x, SR, 8000.0, seed=3), noise_fill(x, SR, 8000.0, seed=3), noise_fill(x, SR, 8000.0, seed=4)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_noise_fill_rejects_bad_input():
    x = white_band_limited(8000.0, seconds=0.2)
    with pytest.raises(ValueError, match="cutoff"):
        noise_fill(x, SR, 30000.0)
    with pytest.raises(ValueError, match="1-D"):
        noise_fill(np.stack([x, x]), SR, 8000.0)
    bad = x.copy()
    bad[0] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        noise_fill(bad, SR, 8000.0)
