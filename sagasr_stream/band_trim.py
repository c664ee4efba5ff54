"""The user's trim of the restored band (``band_gain``, ``band_tilt``): a level and a slope, in dB, on top of the
model's.

The default model's band level is right on average but regresses towards its training material's brightness: the
level and spectral shape per recording are most of the error left (model card, "Tried after v3.7 ... fourteenth
session"), and nothing in the input was found to predict them. Where the restored band sounds too bright or too
dark, these settings move it: each restored bin's magnitude is scaled by ``gain_db + tilt_db_per_octave *
log2(f / edge)`` dB, f the bin's frequency and edge the window's band edge, before the band smoothing (which keeps
the level). The input's own band is never touched; 0 and 0 leave the restoration as it is.
"""
from __future__ import annotations

import numpy as np

from .validation import is_real_number

GAIN_LIMIT_DB = 24.0       # |band_gain| at most this
TILT_LIMIT_DB = 12.0       # |band_tilt| at most this, per octave


def is_gain_db(value: object) -> bool:
    """Whether ``value`` can be a band gain: a finite number of dB within +-:data:`GAIN_LIMIT_DB` (not a bool)."""
    return is_real_number(value) and bool(abs(value) <= GAIN_LIMIT_DB)


def is_tilt_db(value: object) -> bool:
    """Whether ``value`` can be a band tilt: a finite number of dB per octave within +-:data:`TILT_LIMIT_DB`."""
    return is_real_number(value) and bool(abs(value) <= TILT_LIMIT_DB)


def trim_band(spec_out: np.ndarray, edge_bin: int, gain_db: float, tilt_db_per_octave: float) -> None:
    """Scale the restored window's STFT ``spec_out`` (bins, frames; n_fft :data:`~sagasr_stream.dsp.N_FFT`) from
    ``edge_bin`` up, in place, by ``gain_db + tilt_db_per_octave * log2(bin / edge_bin)`` dB (phase kept). No band
    above the edge (``edge_bin`` < 1, or past the last bin): unchanged."""
    if edge_bin < 1 or edge_bin >= spec_out.shape[0] or (gain_db == 0 and tilt_db_per_octave == 0):
        return
    octaves = np.log2(np.arange(edge_bin, spec_out.shape[0]) / edge_bin)
    spec_out[edge_bin:] *= (10 ** ((gain_db + tilt_db_per_octave * octaves) / 20))[:, None]
