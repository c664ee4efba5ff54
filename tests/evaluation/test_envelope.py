"""Envelope correlation: the rhythm of the band above the cutoff, output against reference."""
from __future__ import annotations

import numpy as np
import pytest

from sagasr_stream.degradation import LowPassSpec, band_limit
from sagasr_stream.evaluation import envelope_correlation, noise_fill, sbr_extend

SR = 44100


def rhythmic(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Noise bursts at 4 Hz with a fast attack and an exponential decay: a hi-hat pattern."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    gate = np.exp(-((t * 4.0) % 1.0) * 12.0)
    return (0.3 * gate * rng.standard_normal(t.size)).astype(np.float32)


def test_reference_correlates_perfectly_with_itself():
    x = rhythmic()
    assert envelope_correlation(x, x, SR, 8000.0) == pytest.approx(1.0)


def test_stationary_noise_scores_near_zero_against_a_rhythm():
    x = rhythmic()
    haze = (0.05 * np.random.default_rng(5).standard_normal(x.size)).astype(np.float32)
    assert abs(envelope_correlation(haze, x, SR, 8000.0)) < 0.15


def test_gain_does_not_change_it():
    x = rhythmic()
    y = rhythmic(seed=1) + 0.02 * np.random.default_rng(2).standard_normal(x.size).astype(np.float32)
    base = envelope_correlation(y, x, SR, 6000.0)
    assert 0.3 < base < 1.0
    assert envelope_correlation(0.01 * y, x, SR, 6000.0) == pytest.approx(base, abs=1e-9)
    assert envelope_correlation(y, 7.0 * x, SR, 6000.0) == pytest.approx(base, abs=1e-9)


def test_an_empty_band_scores_zero_and_band_replication_keeps_the_rhythm():
    x = rhythmic()
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(x.size, 1 / SR) > 6000.0] = 0
    empty = np.fft.irfft(spectrum, n=x.size).astype(np.float32)
    assert envelope_correlation(empty, x, SR, 8000.0) == 0.0  # nothing (above -60 dB) over the cutoff
    lr = band_limit(x, SR, LowPassSpec("cheby1", 8, 8000.0))
    assert envelope_correlation(sbr_extend(lr, SR, 8000.0), x, SR, 8000.0) > 0.8
    assert envelope_correlation(noise_fill(lr, SR, 8000.0), x, SR, 8000.0) > 0.8  # follows the frame level


def test_envelope_correlation_rejects_bad_input():
    x = rhythmic(0.5)
    with pytest.raises(ValueError, match="shape"):
        envelope_correlation(x[:-1], x, SR, 8000.0)
    with pytest.raises(ValueError, match="cutoff"):
        envelope_correlation(x, x, SR, 0.0)
