"""The degradation recipe: how full-band audio is made band-limited, for training pairs and for evaluation.

One recipe (SPEC section 1): a low-pass of a random family (Chebyshev I, Butterworth, Bessel, elliptic) and
order (2-10) at a cutoff, applied zero-phase, then a resample to twice the cutoff (rounded to 100 Hz) and back;
or a plain resample alone. Training draws the cutoff from a range (``sagasr_training.degrade``); the
evaluation fixes it (:func:`degrade`). The restoration itself never calls this module.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from .errors import ParameterError

FILTER_FAMILIES = ("cheby1", "butter", "bessel", "ellip")
DEGRADATIONS = ("filters", "resample")  # the evaluation's two kinds: the filter recipe, a plain resample


@dataclass(frozen=True)
class LowPassSpec:
    """One draw of the training degradation: filter family, order and cutoff (Hz)."""

    family: str
    order: int
    cutoff_hz: float


def design_lowpass(spec: LowPassSpec, sample_rate: int) -> np.ndarray:
    """Second-order sections of the low-pass filter described by ``spec``."""
    if spec.family not in FILTER_FAMILIES:
        raise ParameterError(f"unknown filter family {spec.family!r}; expected one of {FILTER_FAMILIES}")
    if not 2 <= spec.order <= 10:
        raise ParameterError(f"filter order must be in 2..10, got {spec.order}")
    nyquist = sample_rate / 2
    if not 0 < spec.cutoff_hz < nyquist:
        raise ParameterError(f"cutoff must be in (0, {nyquist:g}) Hz, got {spec.cutoff_hz:g}")
    wn = spec.cutoff_hz / nyquist
    if spec.family == "cheby1":
        return signal.cheby1(spec.order, 0.1, wn, btype="low", output="sos")
    if spec.family == "butter":
        return signal.butter(spec.order, wn, btype="low", output="sos")
    if spec.family == "bessel":
        return signal.bessel(spec.order, wn, btype="low", output="sos", norm="phase")
    return signal.ellip(spec.order, 0.1, 60, wn, btype="low", output="sos")


def band_limit(audio: np.ndarray, sample_rate: int, spec: LowPassSpec, resample: bool = True) -> np.ndarray:
    """The SPEC section 1 degradation: zero-phase low-pass, then (optionally) resample to twice the cutoff
    (rounded to 100 Hz) and back. ``audio`` (..., samples) -> same shape, float32, same rate."""
    audio = np.asarray(audio, dtype=np.float64)
    out = signal.sosfiltfilt(design_lowpass(spec, sample_rate), audio, axis=-1)
    if resample:
        out = resample_through(out, sample_rate, 2 * spec.cutoff_hz)
    return out.astype(np.float32)


def resample_through(audio: np.ndarray, sample_rate: int, low_rate_hz: float) -> np.ndarray:
    """Resample ``audio`` (..., samples) to ``low_rate_hz`` (rounded to 100 Hz) and back to
    ``sample_rate``; the length is kept. This alone is the 'plain resample' degradation."""
    audio = np.asarray(audio, dtype=np.float64)
    low = int(round(low_rate_hz / 100.0)) * 100
    if low <= 0 or low >= sample_rate:
        return audio.copy()
    g = np.gcd(low, sample_rate)
    down = signal.resample_poly(audio, low // g, sample_rate // g, axis=-1)
    up = signal.resample_poly(down, sample_rate // g, low // g, axis=-1)
    n = audio.shape[-1]
    if up.shape[-1] >= n:
        return up[..., :n]
    return np.pad(up, [(0, 0)] * (up.ndim - 1) + [(0, n - up.shape[-1])])


def draw_lowpass(
    rng: np.random.Generator,
    cutoff_range_hz: tuple[float, float] = (2000.0, 16000.0),
    order_range: tuple[int, int] = (2, 10),
    families: tuple[str, ...] = FILTER_FAMILIES,
) -> LowPassSpec:
    """Draw the training degradation: family uniform, order uniform in ``order_range`` (inclusive),
    cutoff uniform in ``cutoff_range_hz``."""
    family = families[int(rng.integers(len(families)))]
    order = int(rng.integers(order_range[0], order_range[1] + 1))
    cutoff = float(rng.uniform(*cutoff_range_hz))
    return LowPassSpec(family, order, cutoff)


def random_band_limit(
    audio: np.ndarray,
    rng: np.random.Generator,
    sample_rate: int,
    cutoff_range_hz: tuple[float, float],
    order_range: tuple[int, int] = (2, 10),
    families: tuple[str, ...] = FILTER_FAMILIES,
    resample: bool = True,
    plain_resample_fraction: float = 0.0,
) -> tuple[np.ndarray, LowPassSpec]:
    """One random band limit of ``audio`` (..., samples) -> (same shape float32, the draw): a filter from
    :func:`draw_lowpass` through :func:`band_limit`, or for a share ``plain_resample_fraction`` of the draws a
    plain resample to twice the drawn cutoff (no filter; the share's coin is only tossed when it is > 0)."""
    spec = draw_lowpass(rng, cutoff_range_hz, order_range, families)
    if plain_resample_fraction > 0 and rng.random() < plain_resample_fraction:
        return resample_through(audio, sample_rate, 2 * spec.cutoff_hz).astype(np.float32), spec
    return band_limit(audio, sample_rate, spec, resample=resample), spec


def degrade(audio: np.ndarray, kind: str, cutoff_hz: float, rng: np.random.Generator,
            sample_rate: int = 44100) -> np.ndarray:
    """Band-limit a clip (samples,) at ``cutoff_hz`` -> (samples,) float32 (the evaluation's degradation).

    ``"filters"``: the training recipe with the cutoff fixed (random family and order, zero-phase, then
    resampled to 2 x cutoff and back); ``"resample"``: :func:`resample_through` to 2 x cutoff only.
    """
    if kind == "filters":
        return random_band_limit(audio, rng, sample_rate, (cutoff_hz, cutoff_hz))[0]
    if kind == "resample":
        return resample_through(audio, sample_rate, 2 * cutoff_hz).astype(np.float32)
    raise ParameterError(f"unknown degradation {kind!r}; expected one of {DEGRADATIONS}")
