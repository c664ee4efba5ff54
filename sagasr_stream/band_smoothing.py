"""The restored band at its log-spectral mean (``band_smoothing``): the excitation's random spread removed.

A noise-excited decoder (the default model's ``mdct-env`` latent) gives each bin of the restored band a random
magnitude around the envelope the DiT predicts: the power of a complex Gaussian bin is exponentially distributed,
a spread of about 5.6 dB in its log that owes nothing to the music and that the reference, with its own spread,
does not share. Per STFT frame, :func:`smooth_log_magnitude` replaces each restored bin's log magnitude by its
mean over ``width`` octaves centred on it (within the band above the edge): the geometric mean, so the band keeps
the log level, the envelope per frame and the slope that the model, the band level, the ceiling and the blend set;
only the spread between neighbouring bins goes. A magnitude set bin by bin belongs to no signal (overlapping frames
disagree), and with random phases the overlap-add brings the spread back; :func:`consistent_phases` runs fast
Griffin-Lim iterations (Perraudin, Balazs and Sondergaard 2013: alternating projections with momentum) on the
window's merged spectrum, the input's bins up to the edge fixed as the low-band merge keeps them, so that the
signal's own STFT shows nearly the smoothed magnitudes. Each window is treated alone: the result does not depend on
block or batch size.
"""
from __future__ import annotations

import numpy as np

from .dsp import crossover_weights, istft, stft
from .validation import is_real_number

DEFAULT_ITERATIONS = 8  # with a bundle that names none
MOMENTUM = 0.99  # fast Griffin-Lim's acceleration (Perraudin et al.: 0.99)
TINY = 1e-30


def is_width_octaves(value: object) -> bool:
    """Whether ``value`` can be a smoothing width: a finite number of octaves in (0, 2] (not a bool)."""
    return is_real_number(value) and bool(0 < value <= 2)


def is_iterations(value: object) -> bool:
    """Whether ``value`` can be a count of Griffin-Lim iterations: an int in [0, 100] (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100


def smooth_log_magnitude(band: np.ndarray, first_bin: int, width_octaves: float) -> np.ndarray:
    """(bins, frames) magnitudes: per frame, each bin's log magnitude averaged over the bins within
    ``width_octaves`` centred on it, the average taken within ``band`` only.

    ``band``: (bins, frames) complex, or real magnitudes, the STFT rows from bin ``first_bin`` (>= 1) up to
    Nyquist; bin k averages rows [k 2**(-width/2), k 2**(width/2)] (at least itself)."""
    n = band.shape[0]
    k = np.arange(first_bin, first_bin + n)
    lo = np.clip(np.floor(k * 2.0 ** (-width_octaves / 2)).astype(np.int64) - first_bin, 0, None)
    hi = np.minimum(np.ceil(k * 2.0 ** (width_octaves / 2)).astype(np.int64) - first_bin + 1, n)
    log_mag = np.log(np.abs(band) + TINY)
    cumulative = np.concatenate([np.zeros((1, band.shape[1])), np.cumsum(log_mag, axis=0)])
    return np.exp((cumulative[hi] - cumulative[lo]) / (hi - lo)[:, None])


def consistent_phases(spec_in: np.ndarray, magnitude: np.ndarray, phase: np.ndarray, edge_bin: int,
                      iterations: int, length: int) -> np.ndarray:
    """Phases (bins above, frames) unit complex for the band from ``edge_bin`` up under which the window's STFT
    nearly shows ``magnitude`` there: ``iterations`` of fast Griffin-Lim from ``phase``, each on the merged
    spectrum (the input's ``spec_in`` up to the edge with the merge's crossover, :func:`~sagasr_stream.dsp.
    crossover_weights`), in single precision. ``length``: the window's samples."""
    weights = crossover_weights(edge_bin, spec_in.shape[0])[:, None].astype(np.float32)
    # every (bins, frames) array frame-major (order "F", as the STFT's frames lie): the loop's elementwise steps
    # run along memory and the ISTFT takes the merged spectrum without a transposing copy
    fixed = (weights * spec_in).astype(np.complex64, order="F")
    above = 1.0 - weights[edge_bin:]
    magnitude = magnitude.astype(np.float32, order="F")
    phase = phase.astype(np.complex64, order="F")
    previous = magnitude * phase
    merged = fixed.copy(order="F")
    # the loop's arithmetic into buffers made once (the same floats as the plain expressions in the comments)
    band, fixed_band = merged[edge_bin:], fixed[edge_bin:]
    accelerated = np.empty(previous.shape, dtype=np.complex64, order="F")
    scale = np.empty(previous.shape, dtype=np.float32, order="F")
    for _ in range(iterations):
        # merged[edge_bin:] = fixed[edge_bin:] + above * (magnitude * phase)
        np.multiply(magnitude, phase, out=accelerated)
        np.multiply(above, accelerated, out=accelerated)
        np.add(fixed_band, accelerated, out=band)
        projected = stft(istft(merged, length, single=True), single=True)[edge_bin:]
        # accelerated = projected + MOMENTUM * (projected - previous)
        np.subtract(projected, previous, out=accelerated)
        np.multiply(MOMENTUM, accelerated, out=accelerated)
        np.add(projected, accelerated, out=accelerated)
        previous = projected
        # phase = accelerated / (np.abs(accelerated) + TINY), into its own buffer (a copy of the caller's)
        np.abs(accelerated, out=scale)
        np.add(scale, TINY, out=scale)
        np.divide(accelerated, scale, out=phase)
    return phase


def smooth_band(spec_in: np.ndarray, spec_out: np.ndarray, edge_bin: int, width_octaves: float, iterations: int,
                length: int) -> None:
    """The restored window's band from ``edge_bin`` up, in place in its STFT ``spec_out`` (bins, frames): at its
    smoothed magnitude (:func:`smooth_log_magnitude`) with phases from :func:`consistent_phases` (the model's
    phases when ``iterations`` is 0). ``spec_in``: the input window's STFT (same shape); ``length``: the window's
    samples. No band above the edge (``edge_bin`` < 1 or at Nyquist): unchanged."""
    if edge_bin < 1 or edge_bin >= spec_out.shape[0]:
        return
    band = spec_out[edge_bin:]
    model_magnitude = np.abs(band)
    magnitude = smooth_log_magnitude(model_magnitude, edge_bin, width_octaves)
    phase = band / (model_magnitude + TINY)
    if iterations:
        phase = consistent_phases(spec_in, magnitude, phase, edge_bin, iterations, length)
    spec_out[edge_bin:] = magnitude * phase
