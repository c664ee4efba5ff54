"""DSP bandwidth-extension baselines in the STFT domain (n_fft 2048, hop 512).

- Spectral band replication (SBR, :func:`sbr_extend`): the top octave below the cutoff is copied upwards,
  patch after patch, into the empty band. Each copied bin is scaled by the source's own spectral slope (dB per
  octave, fitted on the time-averaged spectrum of the two octaves below the cutoff) so the new band decays the
  way the source does. Only the generated top band is added to the input.
- Level-matched noise fill (:func:`noise_fill`): random-phase noise above the cutoff synthesised at the level of
  the octave below, frame by frame, falling 12 dB per octave. Seeded and deterministic.
"""
from __future__ import annotations

import numpy as np

from ..dsp import HOP, N_FFT, istft, stft
from ..replication import GUARD, replicate_band
from .metrics import band_signal


def sbr_extend(audio: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """Fill the band above ``cutoff_hz`` by replicating the octave below it.

    ``audio``: (samples,) float, band-limited at ``cutoff_hz``. Returns (samples,) float32: the input plus
    the replicated band (bins >= cutoff) of :func:`sagasr_stream.replication.replicate_band`, the slope fitted
    on the whole signal.
    """
    x = band_signal(audio, sample_rate, cutoff_hz, "sbr_extend")
    spec = stft(x, N_FFT, HOP)
    first = int(np.ceil(cutoff_hz / (sample_rate / 2) * (N_FFT // 2)))
    replica = replicate_band(spec, first, sample_rate)
    if replica is None:
        return x.astype(np.float32)
    high = np.zeros_like(spec)
    high[first:] = replica
    return (x + istft(high, x.size, N_FFT, HOP)).astype(np.float32)


NOISE_SLOPE_DB_PER_OCTAVE = -12.0
NOISE_REFERENCE = 0.75  # the octave below [cutoff / 2, cutoff) is centred near 0.75 x cutoff: level matched there
# Overlap-adding STFT frames of independent random phase keeps HOP / N_FFT of their power (Hann analysis and
# synthesis windows, WOLA normalisation): the output's own STFT shows the filled band this much below the level
# it was synthesised at. Kept as is: it is the noise fill of the measurements (shared/tools/oracle_bounds.py).
RANDOM_PHASE_LOSS_DB = float(10 * np.log10(N_FFT / HOP))  # 6.02 dB


def noise_fill(audio: np.ndarray, sample_rate: int, cutoff_hz: float, seed: int = 0) -> np.ndarray:
    """Replace the band above ``cutoff_hz`` by level-matched random-phase noise.

    ``audio``: (samples,) float, band-limited at ``cutoff_hz``. Per STFT frame, the level L is the RMS
    magnitude of the bins in [cutoff / 2, 0.97 cutoff) (the octave below, without the filter's transition
    band); bin k >= cutoff gets magnitude L x (f_k / (0.75 cutoff)) ** (-12 / (20 log10 2)) (-12 dB per octave,
    equal to L at 0.75 x cutoff) and a uniform random phase drawn from ``seed``; re-analysed, the filled band
    lies ``RANDOM_PHASE_LOSS_DB`` (6 dB) below that (see the constant). Bins below the cutoff are the input's. Returns (samples,) float32; the same input and seed give the same output.
    """
    x = band_signal(audio, sample_rate, cutoff_hz, "noise_fill")
    nyquist = sample_rate / 2
    spec = stft(x, N_FFT, HOP)
    n_bins = spec.shape[0]
    first = int(np.ceil(cutoff_hz / nyquist * (N_FFT // 2)))
    src_hi = max(2, int(GUARD * first))
    src_lo = max(1, first // 2)
    if first >= n_bins or src_hi <= src_lo:
        return x.astype(np.float32)
    level = np.sqrt((np.abs(spec[src_lo:src_hi]) ** 2).mean(axis=0))  # (frames,)
    exponent = NOISE_SLOPE_DB_PER_OCTAVE / (20 * np.log10(2.0))
    shape = (np.arange(first, n_bins) / (NOISE_REFERENCE * first)) ** exponent  # (bins above,)
    phase = np.random.default_rng(seed).uniform(0.0, 2 * np.pi, (n_bins - first, spec.shape[1]))
    spec[first:] = shape[:, None] * level[None, :] * np.exp(1j * phase)
    return istft(spec, x.size, N_FFT, HOP).astype(np.float32)
