"""The training degradation: -3 dB points of every filter family, roll-off vs an independent reference."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from sagasr_stream import degradation, dsp
from sagasr_training.degrade import DegradeConfig, training_pair

SR = 44100


def measured_cutoff(out: np.ndarray, inp: np.ndarray) -> float:
    """First frequency (Hz) where the output/input power ratio (Welch) falls below -3 dB."""
    f, p_in = signal.welch(inp, SR, nperseg=4096)
    _, p_out = signal.welch(out, SR, nperseg=4096)
    gain_db = 10 * np.log10(p_out / p_in)
    start = np.searchsorted(f, 500.0)
    below = np.nonzero(gain_db[start:] < -3.0)[0]
    assert below.size, "no -3 dB point found"
    return float(f[start + below[0]])


def designed_minus_3db(spec: degradation.LowPassSpec) -> float:
    """-3 dB point of the zero-phase (|H|^2) response of the designed filter, from its own frequency response."""
    f, h = signal.sosfreqz(degradation.design_lowpass(spec, SR), worN=1 << 16, fs=SR)
    power_db = 20 * np.log10(np.abs(h) ** 2 + 1e-30)
    return float(f[np.argmax(power_db < -3.0)])


# zero-phase -3 dB point / asked cutoff, orders 4-8, cutoffs 3-14 kHz (scipy designs, squared by filtfilt)
DESIGN_BOUNDS = {"butter": (0.85, 1.0), "cheby1": (1.0, 1.15), "ellip": (1.0, 1.15), "bessel": (0.35, 0.7)}


@pytest.mark.parametrize("family", degradation.FILTER_FAMILIES)
@pytest.mark.parametrize("resample", [False, True])
def test_minus_3db_point_near_cutoff(family: str, resample: bool) -> None:
    """Measured on white noise through band_limit. Note: scipy's Wn is the passband edge for Chebyshev I and
    elliptic (-0.1 dB there), so their -3 dB point lies above the cutoff; Bessel (phase-normalised) below."""
    x = np.random.default_rng(0).standard_normal(SR * 2)
    for cutoff in (3000.0, 8000.0, 14000.0):
        for order in (4, 8):
            spec = degradation.LowPassSpec(family, order, cutoff)
            y = degradation.band_limit(x, SR, spec, resample=resample)
            fc, design = measured_cutoff(y, x), designed_minus_3db(spec)
            lo, hi = DESIGN_BOUNDS[family]
            assert lo * cutoff <= design <= hi * cutoff, (family, order, cutoff, design)
            if resample:  # the 2x-cutoff resampler's anti-alias filter also cuts at the cutoff
                assert 0.85 * min(design, cutoff) <= fc <= 1.05 * min(design, cutoff), (spec, fc, design)
            else:
                assert abs(fc - design) <= 0.05 * design, (spec, fc, design)


def reference_rolloff(x: np.ndarray, n_fft: int = 2048, hop: int = 512, pct: float = 0.985) -> float:
    """Straightforward loop: centred zero-padded periodic-Hann STFT, |X| summed over frames, 98.5 % point."""
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    xp = np.pad(x.astype(np.float64), n_fft // 2)
    total = np.zeros(n_fft // 2 + 1)
    for start in range(0, len(xp) - n_fft + 1, hop):
        total += np.abs(np.fft.rfft(xp[start:start + n_fft] * win))
    cum = np.cumsum(total)
    return int(np.argmax(cum >= pct * cum[-1])) / (n_fft // 2 + 1)


def test_rolloff_matches_reference() -> None:
    rng = np.random.default_rng(1)
    white = rng.standard_normal(65536)
    for cutoff in (2500.0, 7000.0, 15000.0):
        x = degradation.band_limit(white, SR, degradation.LowPassSpec("ellip", 8, cutoff))
        ours, ref = float(dsp.rolloff_ratio(x)), reference_rolloff(x)
        assert abs(ours - ref) <= 1.5 / 1025, (cutoff, ours, ref)
        assert abs(ours * SR / 2 - cutoff) < 0.15 * cutoff  # the roll-off tracks the band edge
    tone = np.sin(2 * np.pi * 1000 * np.arange(65536) / SR)
    assert abs(float(dsp.rolloff_ratio(tone)) - reference_rolloff(tone)) <= 1.5 / 1025


def test_degrade_levels_and_rolloffs() -> None:
    rng = np.random.default_rng(2)
    hr = 0.05 * rng.standard_normal(65536).astype(np.float32)
    cfg = DegradeConfig()
    for _ in range(4):
        d = training_pair(hr, rng, cfg)
        assert d.hr.dtype == np.float32 and d.lr.shape == hr.shape
        assert np.isclose(np.abs(d.lr).max(), 0.5, rtol=1e-4)  # the runtime's working level
        assert np.allclose(d.hr, hr * d.gain, atol=1e-6)
        assert d.rolloff_in < d.rolloff_out
        assert d.rolloff_in * SR / 2 < d.spec.cutoff_hz * 1.1
        assert 2000 <= d.spec.cutoff_hz <= 16000 and 2 <= d.spec.order <= 10


def test_degrade_config_rejects_bad_ranges() -> None:
    with pytest.raises(ValueError, match="cutoff"):
        DegradeConfig(cutoff_min_hz=9000, cutoff_max_hz=3000).validate()
    with pytest.raises(ValueError, match="families"):
        DegradeConfig(families=("cheby2",)).validate()


def test_training_and_evaluation_share_one_recipe():
    """A training draw with its cutoff range pinned to c is the evaluation's "filters" degradation at c, sample
    for sample (the same draws from the same generator, the same filter and resample)."""
    from sagasr_training.degrade import degrade_clip

    x = np.random.default_rng(1).standard_normal(8192).astype(np.float32)
    for seed, cutoff in ((0, 4000.0), (1, 8000.0), (2, 12000.0)):
        lr, spec = degrade_clip(x, np.random.default_rng(seed), DegradeConfig(cutoff_min_hz=cutoff, cutoff_max_hz=cutoff))
        assert spec.cutoff_hz == cutoff
        assert np.array_equal(lr, degradation.degrade(x, "filters", cutoff, np.random.default_rng(seed)))
