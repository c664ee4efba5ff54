"""The level of a noise-excited restored band, matched to the log spectrum it replaces (``band_level "matched"``).

A model whose decoder fills the restored band with noise shaped by predicted band energies (the default
``mdct-env`` model) gets each band's power right on average, but not its log spectrum: within a band, noise's
STFT bin powers spread exponentially around the band's mean (their mean log power is 2.4-2.5 dB below the log
of their mean power), while music's harmonics and valleys spread further (the training corpus above 4 kHz:
-5.5 dB on average). So at the right power the noise band's log spectrum, what LSD and the ear's loudness of a
hiss compare, lies about 3 dB above the reference's, more for tonal material, none for noisy.

How peaky the missing band is follows how peaky the octave just below the band edge is (the training corpus:
correlation 0.85-0.93 at 4, 8 and 12 kHz), so per window the restored band is scaled by
``gain_db = clip(slope * peakiness_below + intercept_db, floor_db, 0)``, fitted on the training corpus
(``sagasr-train band-level``) and shipped in the bundle (``defaults.band_level``). Noisy material gets 0 dB.

Peakiness (dB): per 1/6-octave band of at least :data:`MIN_BAND_BINS` STFT bins (n_fft 2048, 44.1 kHz) and per
frame that is not silent, the mean of 10 log10 of the bins' power minus 10 log10 of their mean power, both taken
after removing the straight-line trend of the levels across the band (so a filter's transition band just below
the edge, a smooth slope, does not count as peaky); then the mean over bands and frames.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .dsp import N_FFT
from .errors import BundleError
from .validation import is_real_number

MIN_BAND_BINS = 4           # a band narrower than this (STFT bins) says little about peakiness: skipped
BAND_OCTAVES = 1.0 / 6.0    # width of the peakiness bands
SILENT_FRAME = 1e-6         # frames below this fraction of the loudest frame's power are left out
POWER_FLOOR = 1e-12         # added to each bin's power before the log
FIT_KEYS = ("slope", "intercept_db", "floor_db")


@dataclass(frozen=True)
class BandLevelFit:
    """``gain_db = clip(slope * peakiness_below_db + intercept_db, floor_db, 0)``: the restored band's gain (dB)
    from the peakiness of the octave below the band edge (dB, <= 0)."""

    slope: float
    intercept_db: float
    floor_db: float

    def gain_db(self, peakiness_below_db: float) -> float:
        return float(min(0.0, max(self.floor_db, self.slope * peakiness_below_db + self.intercept_db)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "band_level") -> "BandLevelFit":
        """Validated from JSON; raises :class:`BundleError` naming the field."""
        if not isinstance(data, Mapping) or set(data) != set(FIT_KEYS):
            raise BundleError(f"{where}: expected an object with exactly {', '.join(FIT_KEYS)}, got {data!r}")
        values = {}
        for key in FIT_KEYS:
            value = data[key]
            if not is_real_number(value):
                raise BundleError(f"{where}.{key} must be a finite number, got {value!r}")
            values[key] = float(value)
        if values["floor_db"] > 0.0:
            raise BundleError(f"{where}.floor_db must be <= 0 dB (the band is never raised), got {values['floor_db']}")
        return cls(**values)


def peakiness_db(power: np.ndarray, low_hz: float, high_hz: float, sample_rate: int = 44100) -> float | None:
    """Mean log power minus log mean power (dB, <= 0) of ``power`` (bins, frames), the squared magnitudes of an
    n_fft :data:`~sagasr_stream.dsp.N_FFT` STFT, over the 1/6-octave bands from ``low_hz`` up to ``high_hz``;
    ``None`` when no band of at least :data:`MIN_BAND_BINS` bins fits or every frame is silent."""
    if not low_hz > 0.0:  # no band under an edge at 0 Hz (and the octaves from 0 would never end)
        return None
    power = np.asarray(power, dtype=np.float64)
    frame_power = power.sum(axis=0)
    loudest = frame_power.max() if frame_power.size else 0.0
    if loudest <= 0.0:
        return None
    sounding = power[:, frame_power > SILENT_FRAME * loudest] + POWER_FLOOR
    bin_hz = sample_rate / N_FFT
    deltas = []
    low = low_hz
    while low * 2**BAND_OCTAVES <= high_hz * (1 + 1e-9):
        high = low * 2**BAND_OCTAVES
        first, stop = int(math.ceil(low / bin_hz)), int(math.ceil(high / bin_hz))
        if stop - first >= MIN_BAND_BINS:
            deltas.append(_detrended_peakiness_db(10 * np.log10(sounding[first:stop])))
        low = high
    return float(np.mean(deltas)) if deltas else None


def _detrended_peakiness_db(level_db: np.ndarray) -> np.ndarray:
    """(bins, frames) levels in dB -> (frames,) mean level minus the level of the mean power, after removing
    each frame's straight-line trend across the band: a smooth slope (a filter's transition band just below the
    edge, a steep spectral tilt) is not peakiness."""
    k = np.arange(level_db.shape[0], dtype=np.float64)
    k -= k.mean()
    slope = k @ level_db / (k @ k)
    residual = level_db - level_db.mean(axis=0) - np.outer(k, slope)
    return -10 * np.log10(np.mean(10 ** (residual / 10), axis=0))


def below_edge_peakiness_db(spec: np.ndarray, edge_bin: int, sample_rate: int = 44100) -> float | None:
    """:func:`peakiness_db` of the octave below ``edge_bin`` of one window's STFT ``spec`` (bins, frames)."""
    edge_hz = edge_bin * sample_rate / N_FFT
    return peakiness_db(np.abs(spec) ** 2, edge_hz / 2, edge_hz, sample_rate)


def band_gains(spec: np.ndarray, edge_bins: np.ndarray, fit: BandLevelFit | None, sample_rate: int = 44100) -> np.ndarray:
    """(windows,) float32 linear gains for the restored bands of windows with STFTs ``spec`` (windows, bins,
    frames) and band edges ``edge_bins`` (windows,); all 1 without a fit (``band_level "power"``) and for a
    window whose octave below the edge cannot be measured."""
    gains = np.ones(len(edge_bins), dtype=np.float32)
    if fit is None:
        return gains
    for i, edge in enumerate(edge_bins):
        peakiness = below_edge_peakiness_db(spec[i], int(edge), sample_rate)
        if peakiness is not None:
            gains[i] = np.float32(10.0 ** (fit.gain_db(peakiness) / 20.0))
    return gains
