"""The restored band's transients after the input's (``band_transients``): a temporal envelope shaping.

Everything that sets the restored band works in STFT frames of 2048 samples (46 ms at 44.1 kHz): the decoder's
envelope frames, the band ceiling, the SBR blend and the band smoothing's Griffin-Lim. A drum hit's band is spread
over such a frame, arriving early and dying slowly, while the input's own octave below the edge shows the hit
sharp. Like the temporal envelope shaping of HE-AAC's and USAC's spectral band replication, per short frame
(:data:`SHORT_FFT` samples, hop :data:`SHORT_HOP`: 5.8 ms, 1.45 ms apart) the log energy of the input's octave
below the edge and of the restored band above it are each taken relative to their own moving mean over
:data:`SPAN_FRAMES` frames (93 ms); the band's deviation is moved ``share`` of the way to the octave below's
(the change clipped to +-:data:`LIMIT_DB`) by one gain per frame on the band's short-STFT bins from
:data:`GUARD_BINS` above the edge. The band's level over a span stays the model's; only its shape within it
follows the input, and the change is kept out of the input's band below the edge. Each window is treated alone, so
the result does not depend on block or batch size.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from .dsp import N_FFT, istft, stft

SHORT_FFT = 256    # samples per short frame (Hann)
SHORT_HOP = 64     # samples between short frames
SPAN_FRAMES = 64   # short frames in the moving mean a deviation is taken from (93 ms at 44.1 kHz)
GUARD_BINS = 2     # short-STFT bins between the edge and the first shaped bin (a Hann lobe's half width): the
                   # input's band below the edge is left as it is
LIMIT_DB = 20.0    # the most a frame's band is raised or lowered
FLOOR_DB = -60.0   # energies below this, relative to their mean over the window, count as silence
TAPER_FRAMES = 32  # short frames (46 ms) over which the change fades in and out at the window's ends: a change
                   # that starts abruptly splatters into the input's band (windows overlap, so little is lost)


def shaping_gains(below_power: np.ndarray, above_power: np.ndarray, share: float) -> np.ndarray:
    """(frames,) amplitude gains for the restored band from the short-frame energies (frames,) of the input's
    octave below the edge ``below_power`` and of the restored band ``above_power``: ``share`` of the way from the
    band's deviation from its moving mean to the octave below's, clipped to +-:data:`LIMIT_DB`, faded in and out
    over the first and last :data:`TAPER_FRAMES`."""
    deviations = []
    for power in (below_power, above_power):
        floor = max(float(np.mean(power)), 1e-30) * 10.0 ** (FLOOR_DB / 10.0)
        log_power = np.log(np.asarray(power, dtype=np.float64) + floor)
        deviations.append(log_power - uniform_filter1d(log_power, SPAN_FRAMES, mode="nearest"))
    limit = LIMIT_DB * np.log(10.0) / 10.0
    change = np.clip(share * (deviations[0] - deviations[1]), -limit, limit)
    taper = min(TAPER_FRAMES, change.size // 2)
    ramp = np.sin(0.5 * np.pi * (np.arange(taper) + 0.5) / max(taper, 1)) ** 2
    change[:taper] *= ramp
    change[change.size - taper :] *= ramp[::-1]
    return np.exp(0.5 * change)


def follow_input_transients(restored: np.ndarray, original: np.ndarray, edge_bin: int, share: float,
                            sample_rate: int) -> np.ndarray:
    """``restored`` (samples,) float32 with its band above the edge (``edge_bin`` of the n_fft 2048 STFT) shaped
    by :func:`shaping_gains` against ``original`` (samples,), the window's input; a new float32 array. The change
    is taken out below the edge in the n_fft 2048 STFT, so the short frames' spectral spread leaves the input's
    band as it is. Unchanged (the same array) when the edge leaves no short-STFT bin below it or none to shape
    above it."""
    edge_hz = edge_bin * sample_rate / N_FFT
    bin_hz = sample_rate / SHORT_FFT
    edge = int(np.ceil(edge_hz / bin_hz))
    octave_below = int(np.ceil(edge_hz / 2 / bin_hz))
    first = edge + GUARD_BINS
    if share == 0 or octave_below < 1 or octave_below >= edge or first > SHORT_FFT // 2:
        return restored
    spec_out = stft(restored, SHORT_FFT, SHORT_HOP)
    spec_in = stft(original, SHORT_FFT, SHORT_HOP)
    below_power = (np.abs(spec_in[octave_below:edge]) ** 2).sum(axis=0)
    above_power = (np.abs(spec_out[first:]) ** 2).sum(axis=0)
    gains = shaping_gains(below_power, above_power, share)
    shaped = spec_out[first:] * (gains - 1.0)
    change = istft(np.concatenate([np.zeros_like(spec_out[:first]), shaped]), restored.shape[-1], SHORT_FFT,
                   SHORT_HOP)
    change_spec = stft(change)
    change_spec[:edge_bin] = 0.0
    return (restored + istft(change_spec, restored.shape[-1])).astype(np.float32)
