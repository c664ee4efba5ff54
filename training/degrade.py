"""Training pairs: the ranges of the training low-pass and the pair a full-band window becomes.

The recipe itself is :mod:`sagasr_stream.degradation` (shared with the evaluation): this module draws from
it with the configured ranges, may tilt the target above the cutoff, and levels HR/LR with ``dsp.peak_gain``
exactly like the runtime does per window.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sagasr_stream import degradation, dsp
from sagasr_stream.options import option

BRIGHTNESS_LIMIT_DB = 18.0  # the brightness tilt's default largest change (dB), either way


@dataclass(frozen=True)
class DegradeConfig:
    """Ranges of the training low-pass (SPEC: cutoff 2-16 kHz, order 2-10, four families, resample)."""

    cutoff_min_hz: float = option(2000.0, unit="Hz", help="lowest low-pass cutoff drawn")
    cutoff_max_hz: float = option(16000.0, unit="Hz", help="highest low-pass cutoff drawn")
    order_min: int = option(2, help="lowest filter order drawn (2..10)")
    order_max: int = option(10, help="highest filter order drawn (2..10)")
    families: tuple[str, ...] = option(degradation.FILTER_FAMILIES, choices=degradation.FILTER_FAMILIES, help="filter families drawn")
    resample: bool = option(True, help="after the filter, resample to twice the cutoff and back")
    input_peak: float = option(0.5, command_line=False, help="HR and LR are scaled so that the LR peak is this "
                               "(set from the model config)")
    plain_resample_fraction: float = option(0.0, help="share of draws band-limited by a plain resample (no filter)")
    target_tilt_fraction: float = option(0.0, help="share of targets whose band above the cutoff is tilted ...")
    target_tilt_db_per_octave: tuple[float, float] = option(
        (-6.0, 30.0), unit="dB/octave", help="... by a slope drawn from this range (min max)")
    brightness_fraction: float = option(0.0, help="share of windows whose whole recording (input and target "
                                        "alike) is made brighter or darker above brightness_pivot_hz ...")
    brightness_db_per_octave: tuple[float, float] = option(
        (-3.0, 3.0), unit="dB/octave", help="... by a rise drawn from this range (min max; negative: darker)")
    brightness_pivot_hz: float = option(1000.0, unit="Hz", help="the brightness tilt's pivot: no change below it")
    brightness_limit_db: float = option(
        BRIGHTNESS_LIMIT_DB, unit="dB",
        help="the brightness tilt's largest change, either way (a dark recording's top band lies 40-70 dB down)")

    def validate(self, sample_rate: int = 44100) -> "DegradeConfig":
        if not 0 < self.cutoff_min_hz <= self.cutoff_max_hz < sample_rate / 2:
            raise ValueError(f"degrade: need 0 < cutoff_min_hz <= cutoff_max_hz < {sample_rate / 2:g}")
        if not 2 <= self.order_min <= self.order_max <= 10:
            raise ValueError("degrade: need 2 <= order_min <= order_max <= 10")
        bad = [f for f in self.families if f not in degradation.FILTER_FAMILIES]
        if bad or not self.families:
            raise ValueError(f"degrade: unknown families {bad}; expected some of {degradation.FILTER_FAMILIES}")
        if not self.input_peak > 0:
            raise ValueError("degrade: input_peak must be > 0")
        for key in ("plain_resample_fraction", "target_tilt_fraction", "brightness_fraction"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"degrade: {key} must be in [0, 1]")
        for key in ("target_tilt_db_per_octave", "brightness_db_per_octave"):
            low, high = getattr(self, key)
            if not low <= high:
                raise ValueError(f"degrade: {key} must be (min, max) with min <= max")
        if not 0 < self.brightness_pivot_hz < sample_rate / 2:
            raise ValueError(f"degrade: need 0 < brightness_pivot_hz < {sample_rate / 2:g}")
        if not self.brightness_limit_db >= 0:
            raise ValueError(f"degrade: brightness_limit_db must be >= 0, got {self.brightness_limit_db}")
        return self


@dataclass
class TrainingPair:
    """One training pair at the model's working level. hr, lr: (L,) float32; rolloffs: ratios in [0, 1]."""

    hr: np.ndarray
    lr: np.ndarray
    rolloff_in: float
    rolloff_out: float
    spec: degradation.LowPassSpec
    gain: float
    target_tilted: bool = False  # the target's band above the cutoff was tilted (not the recording's own roll-off)


def degrade_clip(audio: np.ndarray, rng: np.random.Generator, cfg: DegradeConfig,
                 sample_rate: int = 44100) -> tuple[np.ndarray, degradation.LowPassSpec]:
    """One random band limit of ``audio`` (samples,) -> (LR (samples,) float32, the draw), with ``cfg``'s
    ranges (:func:`sagasr_stream.degradation.random_band_limit`)."""
    return degradation.random_band_limit(audio, rng, sample_rate, (cfg.cutoff_min_hz, cfg.cutoff_max_hz),
                                         (cfg.order_min, cfg.order_max), cfg.families, cfg.resample,
                                         cfg.plain_resample_fraction)


def tilt_slopes(rng: np.random.Generator, count: int, cfg: DegradeConfig) -> np.ndarray | None:
    """Target tilts for ``count`` items: slopes in dB per octave (0 = untouched), or None when
    ``target_tilt_fraction`` is 0 (then nothing is drawn). With probability ``target_tilt_fraction`` an item's
    band above its cutoff falls (or rises, for negative slopes) by a slope from ``target_tilt_db_per_octave``:
    this varies the target roll-off, so the roll-off guidance has something to learn."""
    if cfg.target_tilt_fraction <= 0:
        return None
    tilted = rng.random(count) < cfg.target_tilt_fraction
    return np.where(tilted, rng.uniform(*cfg.target_tilt_db_per_octave, size=count), 0.0)


MAX_TILT_BOOST_DB = 12.0


def brightness_slopes(rng: np.random.Generator, count: int, cfg: DegradeConfig) -> np.ndarray | None:
    """Recording brightness for ``count`` items: rises in dB per octave above ``brightness_pivot_hz`` (0 =
    untouched), or None when ``brightness_fraction`` is 0 (then nothing is drawn). Input and target get the
    same tilt, so the band above a cutoff stays as bright, relative to the band below it, as the recording
    was: what a microphone, a room or an equaliser does to a whole recording, which the model must read from
    the input rather than assume from its training material's average."""
    if cfg.brightness_fraction <= 0:
        return None
    tilted = rng.random(count) < cfg.brightness_fraction
    return np.where(tilted, rng.uniform(*cfg.brightness_db_per_octave, size=count), 0.0)


def brightness_gain_db(freqs_hz: Any, pivot_hz: float, rise_db: Any, xp: Any = np,
                       limit_db: float = BRIGHTNESS_LIMIT_DB) -> Any:
    """Gain in dB of the brightness tilt: 0 up to ``pivot_hz``, ``rise`` per octave above it, within
    +-``limit_db``. Broadcasting arrays of numpy or torch (``xp``: the module)."""
    octaves = xp.log2(xp.clip(freqs_hz, pivot_hz, None) / pivot_hz)
    return (rise_db * octaves).clip(-limit_db, limit_db)


def apply_gain_db(audio: Any, gain_db: Any, xp: Any = np) -> Any:
    """``audio`` (..., samples) through a zero-phase gain ``gain_db`` per rfft bin (broadcasting), numpy or torch
    (``xp``: the module)."""
    return xp.fft.irfft(xp.fft.rfft(audio) * 10.0 ** (gain_db / 20.0), n=audio.shape[-1])


def pair_gains_db(freqs_hz: Any, cutoff_hz: Any, slopes: Any, rises: Any, pivot_hz: float,
                  xp: Any = np, limit_db: float = BRIGHTNESS_LIMIT_DB) -> tuple[Any, Any]:
    """(input gain dB, target gain dB) per rfft bin ``freqs_hz``, each ``None`` where it changes nothing: the
    target's tilt above the cutoff (``slopes``, :func:`tilt_gain_db`) and the recording's brightness on both
    (``rises``, :func:`brightness_gain_db` within +-``limit_db``), summed for the target so that each signal is
    filtered once. ``slopes`` / ``rises``: None (not drawn) or arrays broadcasting against ``freqs_hz``, numpy or
    torch."""
    lr_db = None if rises is None or not rises.any() else brightness_gain_db(freqs_hz, pivot_hz, rises, xp, limit_db)
    hr_db = None if slopes is None or not slopes.any() else tilt_gain_db(freqs_hz, cutoff_hz, slopes, xp)
    if lr_db is not None:
        hr_db = lr_db if hr_db is None else hr_db + lr_db
    return lr_db, hr_db


def tilt_gain_db(freqs_hz: Any, cutoff_hz: Any, slope_db: Any, xp: Any = np) -> Any:
    """Gain in dB of the target tilt: 0 up to the cutoff, ``-slope`` per octave above it, at most
    +``MAX_TILT_BOOST_DB``. Broadcasting arrays of numpy or torch (``xp``: the module)."""
    octaves = xp.log2(xp.maximum(freqs_hz, cutoff_hz) / cutoff_hz)
    return (-slope_db * octaves).clip(max=MAX_TILT_BOOST_DB)


def training_pair(hr: np.ndarray, rng: np.random.Generator, cfg: DegradeConfig, sample_rate: int = 44100) -> TrainingPair:
    """HR window (L,) -> random band-limited LR window; both scaled by ``peak_gain(lr, input_peak)``.
    The target may be tilted above the cutoff (:func:`tilt_slopes`, :func:`tilt_gain_db`), and input and
    target alike made brighter or darker (:func:`brightness_slopes`, :func:`brightness_gain_db`).

    Input roll-off from the LR window, target roll-off from the HR window (after scaling: roll-off is
    scale-invariant)."""
    hr = np.asarray(hr, dtype=np.float32)
    lr, spec = degrade_clip(hr, rng, cfg, sample_rate)
    slopes, rises = tilt_slopes(rng, 1, cfg), brightness_slopes(rng, 1, cfg)
    freqs = np.fft.rfftfreq(hr.shape[-1], 1.0 / sample_rate)
    lr_db, hr_db = pair_gains_db(freqs, spec.cutoff_hz, slopes, rises, cfg.brightness_pivot_hz,
                                 limit_db=cfg.brightness_limit_db)
    if lr_db is not None:
        lr = apply_gain_db(lr, lr_db).astype(np.float32)
    if hr_db is not None:
        hr = apply_gain_db(hr, hr_db).astype(np.float32)
    gain = float(dsp.peak_gain(lr, cfg.input_peak))
    hr, lr = hr * gain, lr * gain
    return TrainingPair(hr=hr.astype(np.float32), lr=lr.astype(np.float32), rolloff_in=float(dsp.rolloff_ratio(lr)),
                        rolloff_out=float(dsp.rolloff_ratio(hr)), spec=spec, gain=gain,
                        target_tilted=slopes is not None and bool(slopes.any()))
