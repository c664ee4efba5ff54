"""Bandwidth measurements: does a 44.1 kHz clip have a real top band?

Levels are mean power spectral densities (Welch, Hann, 4096-point segments) in dB. A clip passes when its
16-20 kHz level is at most ``MAX_DROP_DB`` (60 dB) below its 1-4 kHz level. ``bandwidth_hz`` is the highest
frequency whose smoothed PSD is still within ``MAX_DROP_DB`` of the 1-4 kHz level.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal

REF_BAND_HZ = (1000.0, 4000.0)
TOP_BAND_HZ = (16000.0, 20000.0)
MAX_DROP_DB = 60.0
NPERSEG = 4096


@dataclass(frozen=True)
class Bandwidth:
    ref_db: float  # 1-4 kHz level, dB (PSD)
    top_db: float  # 16-20 kHz level, dB
    drop_db: float  # ref_db - top_db
    bandwidth_hz: float
    ok: bool

    def as_dict(self) -> dict:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(self).items()}


def psd(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(freqs Hz, PSD) of a mono signal (samples,) or the mean over channels of (channels, samples)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"expected (samples,) or (channels, samples) audio, got shape {np.shape(audio)}")
    n = min(NPERSEG, x.size)
    freqs, power = signal.welch(x, fs=sample_rate, window="hann", nperseg=n)
    return freqs, power


def band_db(freqs: np.ndarray, power: np.ndarray, band: tuple[float, float]) -> float:
    """Mean PSD in [band) in dB (-300 for silence or an empty band)."""
    sel = (freqs >= band[0]) & (freqs < band[1])
    level = float(power[sel].mean()) if sel.any() else 0.0
    return 10 * np.log10(level) if level > 0 else -300.0


def measure(audio: np.ndarray, sample_rate: int, max_drop_db: float = MAX_DROP_DB) -> Bandwidth:
    """Bandwidth of ``audio`` (samples,) or (channels, samples) at ``sample_rate`` (>= 40 kHz for a top band)."""
    freqs, power = psd(audio, sample_rate)
    ref = band_db(freqs, power, REF_BAND_HZ)
    top = band_db(freqs, power, TOP_BAND_HZ)
    smooth = np.convolve(power, np.ones(9) / 9, mode="same")
    above = np.nonzero(10 * np.log10(np.maximum(smooth, 1e-30)) >= ref - max_drop_db)[0]
    bw = float(freqs[above[-1]]) if above.size and ref > -300 else 0.0
    ok = ref > -300 and top > -300 and ref - top <= max_drop_db
    return Bandwidth(ref, top, ref - top, bw, bool(ok))
