"""Signal processing shared by the runtime, the exporter and the training code.

Everything here is numpy/scipy only. Arrays are float32 or float64 with time on the last axis.

- STFT/ISTFT (n_fft 2048, hop 512, periodic Hann, centred with zero padding), perfect reconstruction.
- Spectral roll-off as defined in SPEC section 1 (98.5 % of the time-summed magnitude).
- The training low-pass recipe (filter family, zero-phase, resample to 2x cutoff and back).
- The low-band merge applied after decoding (keep the input's band, or the official energy-ratio replacement).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import signal

N_FFT = 2048
HOP = 512
ROLLOFF_PERCENTILE = 0.985
FILTER_FAMILIES = ("cheby1", "butter", "bessel", "ellip")

LowBandMode = Literal["keep", "replace", "off"]


def _hann(n_fft: int) -> np.ndarray:
    return signal.get_window("hann", n_fft, fftbins=True)


def stft(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Complex STFT of ``x`` (..., samples) -> (..., n_fft // 2 + 1, frames), centred, zero padded."""
    x = np.asarray(x)
    pad = n_fft // 2
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)])
    n_frames = 1 + (padded.shape[-1] - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop, :][..., :n_frames, :]
    spec = np.fft.rfft(frames * _hann(n_fft), axis=-1)
    return np.swapaxes(spec, -1, -2)


def istft(spec: np.ndarray, length: int, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Inverse of :func:`stft`: (..., bins, frames) -> (..., length) float64, weighted overlap-add."""
    window = _hann(n_fft)
    frames = np.fft.irfft(np.swapaxes(spec, -1, -2), n=n_fft, axis=-1) * window
    n_frames = frames.shape[-2]
    total = n_fft + hop * (n_frames - 1)
    out = np.zeros(frames.shape[:-2] + (total,))
    norm = np.zeros(total)
    for i in range(n_frames):
        out[..., i * hop : i * hop + n_fft] += frames[..., i, :]
        norm[i * hop : i * hop + n_fft] += window**2
    pad = n_fft // 2
    out = out / np.where(norm > 1e-10, norm, 1.0)
    out = out[..., pad : pad + length]
    if out.shape[-1] < length:
        out = np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, length - out.shape[-1])])
    return out


def rolloff_bin(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP, percentile: float = ROLLOFF_PERCENTILE) -> np.ndarray:
    """Index of the first frequency bin where the cumulative, time-summed STFT magnitude reaches
    ``percentile`` of the total. ``x``: (..., samples) -> int array of shape (...). Silence gives 0.

    The official SAGA-SR code returns the bin just below this one; we follow SPEC section 1.
    """
    magnitude = np.abs(stft(np.asarray(x, dtype=np.float64), n_fft, hop)).sum(axis=-1)
    cumulative = np.cumsum(magnitude, axis=-1)
    total = cumulative[..., -1:]
    reached = cumulative >= percentile * total
    index = np.argmax(reached, axis=-1)
    return np.where(total[..., 0] > 0, index, 0)


def crossover_bin(x: np.ndarray, fraction: float = 0.9999, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Detected cutoff for the low-band crossover: the first bin where the cumulative, time-summed STFT
    *power* reaches ``fraction`` of the total. ``x``: (..., samples) -> int array (...); silence gives 0.

    Unlike the magnitude roll-off (the model's conditioning), a low noise floor spread over the empty band
    barely moves it, and only frames wholly inside the signal count: the zero-padded edge frames of a
    window cut from running audio splatter broadband energy that would pull the cutoff up.
    """
    spec = stft(np.asarray(x, dtype=np.float64), n_fft, hop)
    first, last = -(-(n_fft // 2) // hop), (x.shape[-1] - n_fft // 2) // hop
    if last >= first:
        spec = spec[..., first : last + 1]
    power = (np.abs(spec) ** 2).sum(axis=-1)
    cumulative = np.cumsum(power, axis=-1)
    total = cumulative[..., -1:]
    index = np.argmax(cumulative >= fraction * total, axis=-1)
    return np.where(total[..., 0] > 0, index, 0)


def rolloff_ratio(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Spectral roll-off as a ratio in [0, 1]: :func:`rolloff_bin` / (n_fft / 2 + 1). Shape (...), float32."""
    return (rolloff_bin(x, n_fft, hop) / (n_fft // 2 + 1)).astype(np.float32)


def ratio_to_hz(ratio: float | np.ndarray, sample_rate: int = 44100) -> float | np.ndarray:
    """Roll-off ratio -> Hz (ratio x Nyquist)."""
    return ratio * sample_rate / 2


def hz_to_ratio(hz: float, sample_rate: int = 44100) -> float:
    """Hz -> roll-off ratio; raises ValueError outside (0, Nyquist]."""
    nyquist = sample_rate / 2
    if not 0 < hz <= nyquist:
        raise ValueError(f"roll-off must be in (0, {nyquist:g}] Hz at {sample_rate} Hz, got {hz:g} Hz")
    return float(hz / nyquist)


@dataclass(frozen=True)
class LowPassSpec:
    """One draw of the training degradation: filter family, order and cutoff (Hz)."""

    family: str
    order: int
    cutoff_hz: float


def design_lowpass(spec: LowPassSpec, sample_rate: int) -> np.ndarray:
    """Second-order sections of the low-pass filter described by ``spec``."""
    if spec.family not in FILTER_FAMILIES:
        raise ValueError(f"unknown filter family {spec.family!r}; expected one of {FILTER_FAMILIES}")
    if not 2 <= spec.order <= 10:
        raise ValueError(f"filter order must be in 2..10, got {spec.order}")
    nyquist = sample_rate / 2
    if not 0 < spec.cutoff_hz < nyquist:
        raise ValueError(f"cutoff must be in (0, {nyquist:g}) Hz, got {spec.cutoff_hz:g}")
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


def merge_low_band(restored: np.ndarray, original: np.ndarray, mode: LowBandMode = "keep") -> np.ndarray:
    """Combine restored windows with their band-limited input below the input's detected cutoff.

    ``restored``, ``original``: (windows, samples). Per window:
    - ``"keep"``: STFT bins below the crossover come from the input unchanged (exact low band), the rest
      from the model;
    - ``"replace"``: the official SAGA-SR post-process: with c the roll-off bin, bins below c are the
      input's divided by the magnitude ratio input/output at bin c, clipped to [0.8, 1.2];
    - ``"off"``: the model output is returned as is.
    ``"keep"`` places the crossover at :func:`crossover_bin`; ``"replace"`` uses the official roll-off bin.
    Returns float32 (windows, samples).
    """
    if mode == "off":
        return restored.astype(np.float32, copy=False)
    if mode not in ("keep", "replace"):
        raise ValueError(f"low-band mode must be 'keep', 'replace' or 'off', got {mode!r}")
    return np.stack([_merge_window(r, o, mode) for r, o in zip(restored, original)])  # one at a time: less memory


def _merge_window(restored: np.ndarray, original: np.ndarray, mode: LowBandMode) -> np.ndarray:
    """:func:`merge_low_band` for one (samples,) window."""
    cutoff = int(crossover_bin(original) if mode == "keep" else rolloff_bin(original))
    if cutoff <= 0:
        return restored.astype(np.float32)
    spec_out = stft(restored.astype(np.float64))
    spec_in = stft(original.astype(np.float64))
    scale = 1.0
    if mode == "replace":
        energy_out = np.abs(spec_out[cutoff]).sum()
        ratio = np.abs(spec_in[cutoff]).sum() / energy_out if energy_out > 0 else 1.0
        scale = 1.0 / min(max(ratio, 0.8), 1.2)
    spec_out[:cutoff] = spec_in[:cutoff] * scale
    return istft(spec_out, restored.shape[-1]).astype(np.float32)


def high_band_energy(x: np.ndarray, sample_rate: int, cutoff_hz: float, frame: int = 2048, hop: int = 512) -> np.ndarray:
    """Energy above ``cutoff_hz`` per STFT frame: (..., samples) -> (..., frames) float64."""
    spec = stft(np.asarray(x, dtype=np.float64), frame, hop)
    first = int(np.ceil(cutoff_hz / (sample_rate / 2) * (frame // 2)))
    return (np.abs(spec[..., first:, :]) ** 2).sum(axis=-2)


def peak_gain(lr_window: np.ndarray, peak: float, floor: float = 1e-6) -> np.ndarray:
    """Per-window gain that brings the band-limited window's peak to ``peak`` (the model's working level).

    ``lr_window``: (..., samples) -> gain (...) float32; silent windows (peak < ``floor``) get gain 1.
    The model sees ``gain * audio`` (HR and LR alike in training) and its output is divided by the gain.
    """
    level = np.abs(lr_window).max(axis=-1)
    return np.where(level >= floor, peak / np.maximum(level, floor), 1.0).astype(np.float32)
