"""Synthetic real-like test material (not white noise): dark piano-like tones and bright drum-like hits."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

SR = 44100


def piano_like(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """See :func:`_piano_like` (cached: synthesis takes seconds)."""
    return _piano_like(seconds, seed).copy()


@lru_cache(maxsize=8)
def _piano_like(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Decaying, slightly inharmonic chords with a steep spectral tilt (-12 dB per octave and more) plus a
    quiet hammer noise; content reaches Nyquist far down. (samples,) float32, peak 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = np.zeros_like(t)
    for i, onset in enumerate(np.arange(0.0, seconds, 0.5)):
        for f0 in rng.choice([110.0, 146.8, 196.0, 220.0, 261.6, 329.6], size=3, replace=False):
            env = np.where(t >= onset, np.exp(-(t - onset) * 2.5), 0.0)
            k = np.arange(1, 200)
            freqs = f0 * k * np.sqrt(1 + 4e-4 * k**2)  # piano-string inharmonicity
            keep = freqs < SR / 2
            amps = 1.0 / k[keep] ** 2.2
            phases = rng.uniform(0, 2 * np.pi, keep.sum())
            x += env * (amps[:, None] * np.sin(2 * np.pi * freqs[keep, None] * t + phases[:, None])).sum(axis=0)
    x += 1e-4 * rng.standard_normal(t.size)  # hammer/room noise, about -70 dB
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def drums_like(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Noise bursts with sharp attacks (hats, snares) over decaying low thumps (kicks): bright, transient.
    (samples,) float32, peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.zeros(n)
    for onset in np.arange(0.0, seconds, 0.125):
        start = int(onset * SR)
        length = n - start
        tt = t[:length]
        x[start:] += 0.3 * rng.standard_normal(length) * np.exp(-tt * 40.0)  # hat: bright noise burst
        if int(onset / 0.125) % 4 == 0:
            x[start:] += np.sin(2 * np.pi * 55.0 * tt * (1 + np.exp(-tt * 30))) * np.exp(-tt * 8.0)  # kick
        if int(onset / 0.125) % 4 == 2:
            x[start:] += 0.6 * rng.standard_normal(length) * np.exp(-tt * 15.0)  # snare
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def tambourine_like(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """One bright hit: jingles (noise, 5-12 kHz) 10 dB over a dull body (noise under 3 kHz), decaying; most of its
    energy lies above 4 kHz, as a tambourine's or a hi-hat's does. (samples,) float32, peak 0.5."""
    from scipy import signal

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    bandpass = signal.butter(2, [5000, 12000], btype="bandpass", fs=SR, output="sos")
    jingles = signal.sosfilt(bandpass, rng.standard_normal(n))
    body = signal.sosfilt(signal.butter(2, 3000, fs=SR, output="sos"), rng.standard_normal(n))
    x = (jingles + 0.3 * body) * np.exp(-np.arange(n) / SR * 6.0)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


@lru_cache(maxsize=1)
def validation_clips() -> dict[str, np.ndarray]:
    """The project's held-out 44.1 kHz full-band FLACs (tests/data/validation_clips), mono float32."""
    from pathlib import Path

    from pedalboard.io import AudioFile

    folder = Path(__file__).resolve().parents[1] / "data" / "validation_clips"
    clips = {}
    for path in sorted(folder.glob("*.flac")):
        with AudioFile(str(path)) as f:
            clips[path.stem] = f.read(f.frames)[0].astype(np.float32)
    return clips


def kept_band_error_db(output: np.ndarray, reference: np.ndarray, top_hz: float, low_hz: float = 50.0) -> float:
    """Mean |dB difference| of the time-averaged power spectra of ``output`` and ``reference`` over the bins
    in [low_hz, top_hz] (n_fft 2048 at 44.1 kHz). Both are first low-passed just above ``top_hz`` (elliptic,
    100 dB stop band), so the measuring window's leakage from a loud band above does not count as damage."""
    from scipy import signal

    from sagasr_stream.dsp import interior_power

    sos = signal.ellip(12, 0.01, 100, 1.02 * top_hz, fs=SR, output="sos")
    po = interior_power(signal.sosfiltfilt(sos, np.asarray(output, np.float64)))
    pr = interior_power(signal.sosfiltfilt(sos, np.asarray(reference, np.float64)))
    bins = np.arange(po.size) * SR / 2048
    sel = (bins >= low_hz) & (bins <= top_hz)
    floor = pr.max() * 1e-15
    return float(np.mean(np.abs(10 * np.log10((po[sel] + floor) / (pr[sel] + floor)))))
