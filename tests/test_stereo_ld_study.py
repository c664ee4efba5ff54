"""benchmarks/stereo_ld_study.py's measurements on synthetic stereo with known level differences per band."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
RATE = 44100
CUTOFF = 8000.0


@pytest.fixture(scope="module")
def study():
    sys.path.insert(0, str(ROOT / "benchmarks"))  # the study imports stereo_bench from its own folder
    try:
        spec = importlib.util.spec_from_file_location("stereo_ld_study", ROOT / "benchmarks" / "stereo_ld_study.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


def panned_by_band(seconds: float = 2.0) -> np.ndarray:
    """(2, samples): white noise, right = left attenuated 0 dB below 4 kHz, 6 dB in 4-8 kHz, 3 dB above 8 kHz."""
    left = np.random.default_rng(0).standard_normal(int(seconds * RATE))
    freqs, _, spec = signal.stft(left, RATE, nperseg=1024)
    gain_db = np.where(freqs < CUTOFF / 2, 0.0, np.where(freqs < CUTOFF, -6.0, -3.0))
    _, right = signal.istft(spec * 10 ** (gain_db[:, None] / 20), RATE, nperseg=1024)
    return (0.1 * np.stack([left, right[: left.size]])).astype(np.float32)


@pytest.fixture(scope="module")
def frames(study):
    return study.clip_frames(panned_by_band(), CUTOFF)


def test_each_band_reads_its_own_level_difference(frames):
    assert abs(np.median(frames["ld_ref"]) - 3.0) < 0.3  # the band above the cutoff (reference)
    for key in ("octave", "half-octave", "third-octave", "octave, smoothed 5", "width 3000"):
        assert abs(np.median(frames[key]) - 6.0) < 0.3, key  # bands inside 4-7.6 kHz of the degraded input
    assert 0.5 < np.median(frames["below"]) < 3.0  # the whole input band: mostly 0 dB, some 6 dB
    assert np.median(frames["extrapolated"]) > 6.5  # LD rising with frequency below the edge keeps rising
    for key in ("first octave above (reference)", "rest above (reference)", "blocks A (reference)", "blocks B (reference)"):
        assert abs(np.median(frames[key]) - 3.0) < 0.3, key
    assert np.median(frames["coh octave"]) > 0.99  # one source: fully coherent


def test_errors_and_fits(study, frames):
    data = [frames]
    assert study.error(data, lambda d: d["octave"]) == pytest.approx(3.0, abs=0.3)
    assert study.fit_scale(data, "octave") == pytest.approx(0.5, abs=0.05)  # 3 dB above from 6 dB below
    weights = study.fit_combination(data, ("octave",))
    assert study.error(data, lambda d: study.combine(d, ("octave",), weights)) < 0.3


def test_split_is_fixed_by_name_and_balanced_per_kind(study):
    clips = [(f"{kind}:{i}", np.zeros(1)) for kind in ("synth", "mix", "kit") for i in range(5)]
    half = study.split(clips)
    assert half == study.split(clips[::-1])  # the order of the clips does not matter
    for kind in ("synth", "mix", "kit"):
        assert sum(half[f"{kind}:{i}"] == "design" for i in range(5)) == 3
    synth = study.split(clips[:5])  # a kind's split depends on its own names only
    assert synth == {name: half[name] for name in synth}
