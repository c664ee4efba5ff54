"""Spectral band replication (SBR) in the STFT domain, and its pattern in the restored band (``sbr_blend``).

:func:`replicate_band` copies the top octave below a band edge upwards, patch after patch, each copied bin scaled
by the source's own spectral slope, so the new band decays the way the source does; the evaluation's SBR baseline
(:func:`sagasr_stream.evaluation.baseline.sbr_extend`) is built on it.

:func:`blend_replication` gives a restored window's band a share of that replica's pattern: per STFT bin the log
magnitude moves ``share`` of the way to the replica's, after the replica's level has been brought to within
``level_limit_db`` of the model's in each third of an octave above the edge (the median over the window of the log
ratio clipped to +-``level_limit_db``), the model's phase kept. So the band keeps the model's spectral envelope per
third of an octave, up to a share of a bounded level correction, and takes a share of what the input itself says
within it: its onsets and rhythm, frame by frame, and the harmonic pattern of the octave below. (SBR's own level,
a slope extrapolated from below, is often many dB off on dark or bright material, so it is bounded; but on material
unlike the model's training data the model's level errs more, and the replica's, within the bound, pulls it back.)
With ``level_limit_db`` 0 only the pattern is taken (v3.4). Each window is treated alone (the result does not
depend on block or batch size), the input's own band is never touched, and no bin moves by more than ``share`` x
2 x :data:`RATIO_LIMIT_DB`.
"""
from __future__ import annotations

import numpy as np

from .dsp import N_FFT, band_edge_from_power, interior_power
from .quantization import rounding_floor
from .validation import is_real_number

SLOPE_RANGE_DB_PER_OCTAVE = (-24.0, -6.0)  # natural spectra rarely fall slower than -6 dB/octave up there
GUARD = 0.97  # the last 3 % below the edge lie in the filter's transition band: not used as source
RATIO_LIMIT_DB = 40.0  # replica / model magnitude ratios are clipped to +-this before their median is removed
TINY = 1e-30


def is_share(value: object) -> bool:
    """Whether ``value`` can be a blend share: a finite number in [0, 1] (not a bool)."""
    return is_real_number(value) and bool(0 <= value <= 1)


def spectral_slope_db_per_octave(power: np.ndarray, freqs_hz: np.ndarray, low_hz: float, high_hz: float) -> float:
    """Least-squares slope of 10 log10(power) against log2(frequency) over [low_hz, high_hz), dB/octave.

    ``power``: (bins,) time-averaged power; ``freqs_hz``: (bins,). Returns 0 when fewer than 2 bins.
    """
    band = (freqs_hz >= low_hz) & (freqs_hz < high_hz) & (freqs_hz > 0)
    if band.sum() < 2:
        return 0.0
    x = np.log2(freqs_hz[band])
    y = 10 * np.log10(power[band] + 1e-20)
    return float(np.polyfit(x, y, 1)[0])


def slope_below_edge(power: np.ndarray, edge_bin: int, sample_rate: int) -> float:
    """The slope (dB/octave) of the time-averaged power ``power`` (bins,) of an n_fft
    :data:`~sagasr_stream.dsp.N_FFT` STFT over the two octaves below ``edge_bin`` without its last 3 %
    (:data:`GUARD`): what :func:`replicate_band` extrapolates."""
    src_hi = max(2, int(GUARD * edge_bin))
    freqs = np.arange(power.shape[0]) * sample_rate / N_FFT
    return spectral_slope_db_per_octave(power, freqs, freqs[src_hi] / 4, freqs[src_hi])


def window_slope(audio: np.ndarray, sample_rate: int, edge_bin: int | None = None,
                 spec: np.ndarray | None = None, fallback_edge: int | None = None) -> float:
    """How dark a window is: the slope (dB/octave) of ``audio``'s (samples,) interior mean power over the two
    octaves below its band edge ``edge_bin`` (:func:`slope_below_edge`); the edge detected as the runtime
    detects it when ``None``, or ``fallback_edge`` where that search finds none (a dark window can sink below any
    drop); 0.0 where there is no edge (silence, full band). ``spec``: ``audio``'s float64 STFT if known. The
    DiT's ``slope_in`` condition, in training and at run time alike."""
    power = interior_power(np.asarray(audio, dtype=np.float64), spec=spec)
    if edge_bin is None:
        edge_bin = band_edge_from_power(power, rounding_floor(audio))
        if not 0 < edge_bin < power.shape[-1] - 1 and fallback_edge is not None:
            edge_bin = fallback_edge
    if not 0 < edge_bin < power.shape[-1] - 1:
        return 0.0
    return slope_below_edge(power, int(edge_bin), sample_rate)


def replicate_band(spec: np.ndarray, first_bin: int, sample_rate: int) -> np.ndarray | None:
    """The band from ``first_bin`` up, replicated from the octave below it: (bins - first_bin, frames) complex.

    ``spec``: (bins, frames) STFT (n_fft :data:`~sagasr_stream.dsp.N_FFT`) of a signal band-limited at
    ``first_bin``. Target bin k copies source bin s of [src_lo, src_hi) (the octave below the edge without its
    last 3 %, :data:`GUARD`) scaled by (k / s) ** (slope / (20 log10 2)), with the slope fitted on the
    time-averaged power of the two octaves below and clipped to :data:`SLOPE_RANGE_DB_PER_OCTAVE`. ``None``
    when there is no band above.
    """
    n_bins = spec.shape[0]
    src_hi = max(2, int(GUARD * first_bin))
    src_lo = max(1, src_hi // 2)
    if first_bin >= n_bins or src_hi - src_lo < 1:
        return None
    slope = slope_below_edge((np.abs(spec) ** 2).mean(axis=1), first_bin, sample_rate)
    exponent = float(np.clip(slope, *SLOPE_RANGE_DB_PER_OCTAVE)) / (20 * np.log10(2.0))
    targets = np.arange(first_bin, n_bins)
    sources = src_lo + (targets - first_bin) % (src_hi - src_lo)
    gain = (targets / sources.astype(np.float64)) ** exponent  # relative to the source level at src_hi
    return spec[sources] * gain[:, None]


def third_octave_bands(first_bin: int, n_bins: int) -> list[tuple[int, int]]:
    """[lo, hi) bin ranges from ``first_bin`` to ``n_bins``, each a third of an octave (at least two bins)."""
    edges = [first_bin]
    while edges[-1] < n_bins - 1:
        edges.append(min(n_bins, int(np.ceil(edges[-1] * 2 ** (1 / 3))) + 1))
    edges[-1] = n_bins
    return list(zip(edges[:-1], edges[1:]))


def blend_replication(spec_in: np.ndarray, spec_out: np.ndarray, edge_bin: int, share: float, sample_rate: int,
                      level_limit_db: float = 0.0) -> None:
    """Blend the replica of the input window's STFT ``spec_in`` (bins, frames) into the restored window's STFT
    ``spec_out`` (same shape) from ``edge_bin`` up, in place: with r the log ratio |replica| / |out| (clipped to
    +-:data:`RATIO_LIMIT_DB`) and m its median over each third of an octave and the window's frames,
    ``out *= exp(share * (r - m + clip(m, +-level_limit_db)))``; phase kept. ``level_limit_db`` 0: the replica's
    pattern only, at the model's level. Share 0, or no octave below the edge: unchanged."""
    if share <= 0 or edge_bin < 2:
        return
    replica = replicate_band(spec_in, edge_bin, sample_rate)
    if replica is None:
        return
    band = spec_out[edge_bin:]
    limit, level_limit = (db / 20.0 * np.log(10.0) for db in (RATIO_LIMIT_DB, level_limit_db))
    log_ratio = np.clip(np.log(np.abs(replica) + TINY) - np.log(np.abs(band) + TINY), -limit, limit)
    for lo, hi in third_octave_bands(edge_bin, spec_out.shape[0]):
        part = log_ratio[lo - edge_bin : hi - edge_bin]
        level = np.median(part)
        part -= level - np.clip(level, -level_limit, level_limit)
    band *= np.exp(share * log_ratio)
