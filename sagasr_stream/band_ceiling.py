"""A ceiling on the restored band in the input's quiet frames (``band_ceiling_db``).

How loud a restored band is next to the octave below its edge is the timbre of what plays; it changes slowly.
A model whose band does not follow the input down into note decays, gaps and fades leaves a hiss there (the
default ``mdct-env`` model's band stops about 50 dB below a decaying note's onset while the input falls 90 dB).
So per STFT frame (n_fft 2048, hop 512) the
loud frames of a window (the octave below the edge within :data:`LOUD_RANGE_DB` of its loud level, the
:data:`LOUD_PERCENTILE` th percentile of its frames: a single click does not make the rest quiet) set the
band's level relative to that octave (the median of the ratio, dB); a quiet frame (the rest) may exceed it by at
most ``margin_db`` and is lowered to it where it does. Loud frames are left to the model. The band is never
raised, the input's own band never touched, and each window is treated alone (so the result does not depend on
block or batch size).
"""
from __future__ import annotations

import numpy as np

from .dsp import HOP
from .validation import is_real_number

LOUD_RANGE_DB = 30.0   # frames whose octave below the edge lies within this of the window's loud level set the
                       # ratio; the others (quiet) are held to it
LOUD_PERCENTILE = 95.0  # the window's loud level: this percentile of its frames' levels (dB)
POWER_FLOOR = 1e-20    # added to a frame's power before the log (digital silence: the band goes with it)


def is_margin_db(value: object) -> bool:
    """Whether ``value`` can be a ceiling's margin: a finite number of dB, >= 0 (not a bool)."""
    return is_real_number(value) and bool(value >= 0)


def ceiling_gains_db(below_power: np.ndarray, above_power: np.ndarray, margin_db: float, counted: int | None = None) -> np.ndarray:
    """(frames,) gains (dB, <= 0; 0 in loud frames) for one window's restored band, from the power per frame of
    the input's octave below the edge ``below_power`` (frames,) and of the restored band ``above_power``
    (frames,); only the first ``counted`` frames (the window's signal, not its padding; all when ``None``) set
    the reference and the loudness."""
    below_db = 10.0 * np.log10(np.asarray(below_power, dtype=np.float64) + POWER_FLOOR)
    ratio_db = 10.0 * np.log10(np.asarray(above_power, dtype=np.float64) + POWER_FLOOR) - below_db
    quietest_loud_db = np.percentile(below_db[:counted], LOUD_PERCENTILE) - LOUD_RANGE_DB
    loud = below_db >= quietest_loud_db
    ceiling = np.median(ratio_db[:counted][loud[:counted]]) + margin_db
    return np.where(loud, 0.0, np.minimum(0.0, ceiling - ratio_db))


def hold_quiet_frames(
    spec_in: np.ndarray, spec_out: np.ndarray, edge_bin: int, margin_db: float, valid: int | None = None
) -> None:
    """Scale one restored window's STFT ``spec_out`` (bins, frames), in place, from its band edge ``edge_bin`` up
    by :func:`ceiling_gains_db`, measured against the input window's STFT ``spec_in`` (same shape); ``valid``: the
    window's signal samples (``None``: all). A window whose edge leaves no octave below it is left as it is."""
    if edge_bin < 2:
        return
    counted = None if valid is None else max(1, min(spec_in.shape[-1], valid // HOP + 1))
    below = (np.abs(spec_in[edge_bin // 2 : edge_bin]) ** 2).sum(axis=0)
    above = (np.abs(spec_out[edge_bin:]) ** 2).sum(axis=0)
    spec_out[edge_bin:] *= 10.0 ** (ceiling_gains_db(below, above, margin_db, counted) / 20.0)
