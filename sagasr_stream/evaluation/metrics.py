"""Quality metrics on 1-D float signals at one sample rate."""
from __future__ import annotations

import numpy as np

from ..dsp import HOP, N_FFT, high_band_energy, stft
from ..errors import AudioInputError, AudioTypeError, ParameterError


def seam_energy_ratio_db(
    audio: np.ndarray,
    seam_centres: np.ndarray,
    seam_width: int,
    sample_rate: int,
    cutoff_hz: float,
    frame: int = 2048,
    hop: int = 512,
) -> float:
    """High-band energy near seams relative to elsewhere, in dB (0 dB = seams invisible; negative = dip).

    ``audio``: (samples,); ``seam_centres``: sample indices of the middles of window overlaps;
    ``seam_width``: overlap length in samples. STFT frames (``frame`` long) centred within a quarter of the
    overlap from a seam centre count as "seam"; frames lying wholly outside every cross-fade as "elsewhere"
    (so the overlap must be shorter than half a window for "elsewhere" to exist).
    """
    energy = high_band_energy(audio, sample_rate, cutoff_hz, frame=frame, hop=hop)
    centres = np.arange(energy.shape[-1]) * hop
    seams = np.asarray(seam_centres, dtype=np.int64)
    if seams.size == 0:
        raise AudioInputError("no seams to measure: the signal fits in one window")
    distance = np.abs(centres[:, None] - seams[None, :]).min(axis=1)
    near = distance <= seam_width // 4
    far = distance >= seam_width // 2 + frame // 2
    if not near.any() or not far.any():
        raise AudioInputError("signal too short to compare seams with the rest")
    return float(10 * np.log10(energy[near].mean() / max(energy[far].mean(), 1e-30)))


LSD_EPS = 1e-8


def _float_samples(x: object, name: str) -> np.ndarray:
    """``x`` as float64 samples; an integer, bool or complex array raises AudioTypeError (int16 PCM would be scored
    on its integer scale, complex on its real part)."""
    array = np.asarray(x)
    if array.dtype.kind != "f":
        raise AudioTypeError(f"{name} has dtype {array.dtype}; expected float samples in [-1, 1]")
    return array.astype(np.float64)


def _power_spectrogram(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    x = _float_samples(x, "signal")
    if x.ndim != 1 or x.size == 0:
        raise AudioInputError(f"expected a non-empty 1-D signal, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise AudioInputError("signal contains NaN or Inf")
    return np.abs(stft(x, n_fft, hop)) ** 2


def log_spectral_distance(
    estimate: np.ndarray,
    reference: np.ndarray,
    sample_rate: int = 44100,
    min_hz: float = 0.0,
    n_fft: int = N_FFT,
    hop: int = HOP,
) -> float:
    """Log-spectral distance (AudioSR / NVSR definition), unitless (log10 power; 0 = identical).

    ``estimate``, ``reference``: (samples,) same length, same rate. Power spectra from the STFT
    (n_fft 2048, hop 512); per frame sqrt(mean over bins of (log10 P_ref - log10 P_est)^2), then the mean
    over frames; ``LSD_EPS`` is added to each power. Bins below ``min_hz`` are ignored (``min_hz`` > 0
    gives LSD-HF: the bins at or above the cutoff only).
    """
    estimate = np.asarray(estimate)
    reference = np.asarray(reference)
    if estimate.shape != reference.shape:
        raise AudioInputError(f"estimate shape {estimate.shape} differs from reference shape {reference.shape}")
    nyquist = sample_rate / 2
    if not 0 <= min_hz < nyquist:
        raise ParameterError(f"min_hz must be in [0, {nyquist:g}) Hz, got {min_hz:g}")
    p_est = _power_spectrogram(estimate, n_fft, hop)
    p_ref = _power_spectrogram(reference, n_fft, hop)
    first = int(np.ceil(min_hz / nyquist * (n_fft // 2)))
    diff = np.log10(p_ref[first:] + LSD_EPS) - np.log10(p_est[first:] + LSD_EPS)
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


def lsd(estimate: np.ndarray, reference: np.ndarray, sample_rate: int = 44100) -> float:
    """Full-band log-spectral distance; see :func:`log_spectral_distance`."""
    return log_spectral_distance(estimate, reference, sample_rate)


def lsd_hf(estimate: np.ndarray, reference: np.ndarray, sample_rate: int, cutoff_hz: float) -> float:
    """Log-spectral distance over the bins at or above ``cutoff_hz`` only (LSD-HF)."""
    return log_spectral_distance(estimate, reference, sample_rate, min_hz=cutoff_hz)


ENVELOPE_FRAME = 1024  # samples: Hann window of each envelope frame
ENVELOPE_HOP_SECONDS = 0.010  # 10 ms between envelope frames
ENVELOPE_FLOOR_DB = -60.0  # band energies below this, relative to the clip's mean frame energy, count as silence
FLAT_ENVELOPE = 0.01  # log10 units (0.1 dB): an envelope whose spread is below this carries no rhythm


def high_band_log_envelope(audio: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """log10 energy above ``cutoff_hz`` per 10 ms frame: (samples,) -> (frames,) float64.

    Frames: Hann window of ``ENVELOPE_FRAME`` samples, hop ``round(0.010 * sample_rate)`` samples, only those
    wholly inside the signal (when there are at least two). Energies
    are floored at ``ENVELOPE_FLOOR_DB`` below the clip's mean full-band frame energy, so a gain on the clip
    only shifts the envelope by a constant, and an empty band (a band-limited input) is flat.
    """
    x = band_signal(audio, sample_rate, cutoff_hz, "envelope_correlation")
    hop = int(round(ENVELOPE_HOP_SECONDS * sample_rate))
    power = np.abs(stft(x, ENVELOPE_FRAME, hop)) ** 2
    inside = slice(-(-(ENVELOPE_FRAME // 2) // hop), (x.size - ENVELOPE_FRAME // 2) // hop + 1)
    if power[:, inside].shape[1] >= 2:  # zero-padded edge frames splatter broadband energy: leave them out
        power = power[:, inside]
    first = int(np.ceil(cutoff_hz / (sample_rate / 2) * (ENVELOPE_FRAME // 2)))
    floor = max(power.sum(axis=0).mean() * 10 ** (ENVELOPE_FLOOR_DB / 10), 1e-30)
    return np.log10(power[first:].sum(axis=0) + floor)


def envelope_correlation(estimate: np.ndarray, reference: np.ndarray, sample_rate: int, cutoff_hz: float) -> float:
    """Pearson correlation of the high-band log energy envelopes (10 ms frames) of ``estimate`` and ``reference``.

    ``estimate``, ``reference``: (samples,) same length and rate. 1 for a reference with any envelope against itself;
    near 0 for a steady haze against music with rhythm; 0 when either envelope is flat (spread below
    ``FLAT_ENVELOPE``: nothing above the cutoff, or a steady tone, even against itself).
    Unchanged by a gain on either signal. See :func:`high_band_log_envelope`.
    """
    estimate, reference = np.asarray(estimate), np.asarray(reference)
    if estimate.shape != reference.shape:
        raise AudioInputError(f"estimate shape {estimate.shape} differs from reference shape {reference.shape}")
    a = high_band_log_envelope(estimate, sample_rate, cutoff_hz)
    b = high_band_log_envelope(reference, sample_rate, cutoff_hz)
    if a.std() < FLAT_ENVELOPE or b.std() < FLAT_ENVELOPE:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


QUALITY_METRICS = ("lsd", "lsd_hf", "env")


def quality(estimate: np.ndarray, reference: np.ndarray, sample_rate: int, cutoff_hz: float) -> dict[str, float]:
    """{"lsd", "lsd_hf", "env"}: full-band LSD, LSD above ``cutoff_hz`` and the high-band envelope correlation."""
    return {
        "lsd": lsd(estimate, reference, sample_rate),
        "lsd_hf": lsd_hf(estimate, reference, sample_rate, cutoff_hz),
        "env": envelope_correlation(estimate, reference, sample_rate, cutoff_hz),
    }


def band_signal(audio: np.ndarray, sample_rate: int, cutoff_hz: float, caller: str) -> np.ndarray:
    """Check the input of a function that works on the band above ``cutoff_hz``: a non-empty, finite 1-D
    signal and 0 < cutoff < Nyquist. Returns it as float64; raises AudioInputError or ParameterError (both ValueErrors) naming ``caller``."""
    x = _float_samples(audio, caller)
    if x.ndim != 1 or x.size == 0:
        raise AudioInputError(f"{caller} expects a non-empty 1-D signal, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise AudioInputError(f"{caller}: signal contains NaN or Inf")
    nyquist = sample_rate / 2
    if not 0 < cutoff_hz < nyquist:
        raise ParameterError(f"cutoff must be in (0, {nyquist:g}) Hz, got {cutoff_hz:g}")
    return x
