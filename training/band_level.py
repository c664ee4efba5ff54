"""Fit the restored band's level to the octave below it (``sagasr-train band-level``): the
:class:`~sagasr_stream.band_level.BandLevelFit` that a bundle with a noise-excited decoder ships.

For each corpus clip and cutoff c: x = the peakiness of the clip's octave below c, y = the gain (dB) that
puts a noise band of the right power at the clip's own log-spectrum level above c, that is the peakiness above
c minus white noise's peakiness over the same bands. Least squares y = slope x + intercept.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from sagasr_stream.band_level import BandLevelFit, peakiness_db
from sagasr_stream.dsp import float64_stft

from .audio_files import checked_clips, corpus_audio

SAMPLE_RATE = 44100
CUTOFFS_HZ = (4000.0, 6000.0, 8000.0, 10000.0, 12000.0, 14000.0)
TOP_HZ = 20000.0          # the bands above a cutoff reach up to this
NOISE_SECONDS = 30.0
DEFAULT_FLOOR_DB = -8.0


def _power(audio: np.ndarray) -> np.ndarray:
    return np.abs(float64_stft(np.asarray(audio, dtype=np.float64))) ** 2


def noise_peakiness_db(cutoff_hz: float, seed: int = 0) -> float:
    """White Gaussian noise's peakiness over the bands from ``cutoff_hz`` to :data:`TOP_HZ` (about -2.4 dB)."""
    noise = np.random.default_rng(seed).standard_normal(int(NOISE_SECONDS * SAMPLE_RATE))
    value = peakiness_db(_power(noise), cutoff_hz, TOP_HZ, SAMPLE_RATE)
    assert value is not None
    return value


def clip_points(audio: np.ndarray, cutoffs_hz: Sequence[float], noise_db: Sequence[float]) -> list[tuple[float, float]]:
    """(peakiness below c, wanted gain above c) in dB for each cutoff c of one mono 44.1 kHz clip; cutoffs
    where either side is silent or unmeasurable are left out."""
    power = _power(audio)
    points = []
    for cutoff, noise in zip(cutoffs_hz, noise_db):
        below = peakiness_db(power, cutoff / 2, cutoff, SAMPLE_RATE)
        above = peakiness_db(power, cutoff, TOP_HZ, SAMPLE_RATE)
        if below is not None and above is not None:
            points.append((below, above - noise))
    return points


def fit_band_level(points: Sequence[tuple[float, float]], floor_db: float = DEFAULT_FLOOR_DB) -> BandLevelFit:
    """Least-squares line through ``points`` (peakiness below, wanted gain) in dB."""
    if len(points) < 2:
        raise ValueError(f"band-level fit: need at least 2 measurable (clip, cutoff) points, got {len(points)}")
    x, y = np.asarray(points, dtype=np.float64).T
    slope, intercept = np.polyfit(x, y, 1)
    return BandLevelFit(round(float(slope), 4), round(float(intercept), 4), float(floor_db))


def measure_corpus(root: str | os.PathLike[str], file_list: str | os.PathLike[str] | None = None,
                   cutoffs_hz: Sequence[float] = CUTOFFS_HZ, floor_db: float = DEFAULT_FLOOR_DB) -> dict:
    """Fit on the corpus under ``root`` (all audio files, or those ``file_list`` names); returns a JSON-able
    report: the fit (the bundle's ``defaults.band_level``), its point count, correlation and residual."""
    from sagasr_stream.audio_io import open_input

    files = corpus_audio(root, file_list)
    if not files:
        raise ValueError(f"band-level fit: no audio files under {root}")
    checked_clips(files, root)  # one error naming each damaged file, before the fit reads any
    noise = [noise_peakiness_db(c) for c in cutoffs_hz]
    points: list[tuple[float, float]] = []
    for path in files:
        with open_input(path) as (f, _channels, rate):  # as the runtime reads it (an MP3 gapless)
            if rate != SAMPLE_RATE:
                raise ValueError(f"{path}: {rate} Hz; the band-level fit reads 44.1 kHz clips")
            audio = f.read(f.frames).mean(axis=0)
        points.extend(clip_points(audio, cutoffs_hz, noise))
    fit = fit_band_level(points, floor_db)
    x, y = np.asarray(points).T
    residual = y - (fit.slope * x + fit.intercept_db)
    return {"band_level": asdict(fit),
            "points": len(points), "files": len(files), "cutoffs_hz": list(cutoffs_hz),
            "correlation": round(float(np.corrcoef(x, y)[0, 1]), 4), "residual_std_db": round(float(residual.std()), 4),
            "wanted_gain_mean_db": round(float(y.mean()), 4), "noise_peakiness_db": [round(v, 4) for v in noise]}


def write_report(report: dict, out: str | os.PathLike[str]) -> Path:
    from sagasr_stream.files import atomic_write_text

    out = Path(out)
    atomic_write_text(out, json.dumps(report, indent=1) + "\n")
    return out
