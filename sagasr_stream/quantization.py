"""Integer-sample input: the rounding floor under which a quiet file's cut can hide.

A 16-bit file (or 8- to 15-bit) read as float holds samples on a grid: ``2 ** -(bits - 1)`` as soundfile reads it,
``1 / (2 ** (bits - 1) - 1)`` as pedalboard (the runtime's reader) does; its rounding noise is white, ``step ** 2 /
12`` per sample. In a quiet passage the band can end less than the band edge's drop
(:data:`~sagasr_stream.dsp.EDGE_DROP_DB`) above that noise, so the cut does not show and the window reads as full
band (20 windows of 6 s at -35 dBFS peaks, filters at 4-12 kHz: 36-56 %). When a window reads as full band and its
samples lie on such a grid, the band edge is looked for again with 1.5 times the expected rounding power taken out
(:func:`~sagasr_stream.dsp.band_edge_from_power`'s ``rounding_floor``; :data:`~sagasr_stream.dsp.EDGE_ROUNDING_MARGIN`),
a cut so found kept only where the level as it is also drops by 6 dB across it
(:data:`~sagasr_stream.dsp.EDGE_ROUNDING_RAW_DROP_DB`): taking the floor out turns any spectrum that fades under it
into a cliff (a bass-heavy mix at -10 dBFS read as cut at 0.9 kHz).
A dithered file holds more noise than the rounding alone (TPDF dither: three times its power), which that does not
take out: so a window that still reads as full band is looked at once more, for a smaller drop
(:data:`~sagasr_stream.dsp.EDGE_DITHER_DROP_DB`) into a floor at such dither's level
(:data:`~sagasr_stream.dsp.EDGE_DITHER_FLOOR`), the edge where the band meets that floor (TPDF-dithered 16-bit
windows of 20 clips read as full band at -35 dBFS peaks, filters at 4-12 kHz: 35-63 % -> 4-21 %;
``benchmarks/quiet_16bit.py --dither tpdf``). A 16- or 8-bit file at another rate is off the grid once resampled to
the model's: its rounding noise is still there, white, at the same power per Hz, so its floor is taken from the
source (:func:`resampled_floor`: the file's sample format, or the samples' own grid, and the two rates) and used for
every window whose samples lie on no grid (:func:`floor_for_step`).
"""
from __future__ import annotations

import numpy as np

from .dsp import N_FFT, _hann

GRID_BITS = range(8, 17)  # integer sample formats whose grid is looked for, coarsest first
PROBE = 16  # samples per stretch tried on each pedalboard grid before all of them are


def grid_step(samples: np.ndarray) -> np.ndarray:
    """(..., n) samples -> (...) float64: the coarsest step (8 <= bits <= 16) of an integer format on whose grid
    every sample of the last axis lies; ``inf`` for digital silence (on every grid), 0 when off every grid (float
    material, 24-bit, resampled). Two readings of integer samples k are known: k / 2 ** (bits - 1) (soundfile,
    ``int16 / 32768``; step ``2 ** -(bits - 1)``) and pedalboard's k * float32(1 / (2 ** (bits - 1) - 1)) (step
    ``1 / (2 ** (bits - 1) - 1)``). Of two stretches, the grid both lie on is taken as the smaller step
    (``np.minimum``)."""
    x = np.asarray(samples, dtype=np.float64)
    step = np.where(np.any(x != 0, axis=-1), 0.0, np.inf)
    finest = x * 2.0 ** (GRID_BITS[-1] - 1)
    open_ = (step == 0.0) & np.all(finest == np.round(finest), axis=-1)  # every coarser grid lies on the finest
    for bits in GRID_BITS:
        if not open_.any():
            break
        scaled = x * 2.0 ** (bits - 1)
        on = open_ & np.all(scaled == np.round(scaled), axis=-1)
        step[on] = 2.0 ** -(bits - 1)
        open_ &= ~on
    unknown = step == 0.0
    if unknown.any():
        single = x.astype(np.float32)
        unknown &= np.all(single == x, axis=-1)  # pedalboard's samples are float32
        for bits in GRID_BITS:
            if not unknown.any():
                break
            full_scale = pedalboard_full_scale(bits)
            on = unknown & _on_pedalboard_grid(x[..., :PROBE], full_scale)
            if on.any():
                on &= _on_pedalboard_grid(x, full_scale)
            step[on] = 1.0 / full_scale
            unknown &= ~on
    return step


def pedalboard_full_scale(bits: int) -> int:
    """The integer pedalboard reads as 1.0 in a ``bits``-bit file: it reads k as k * float32(1 / (2 ** (bits - 1)
    - 1))."""
    return 2 ** (bits - 1) - 1


def pedalboard_lowest(bits: int) -> float:
    """The magnitude of the lowest value pedalboard reads from a ``bits``-bit file, its code ``-2 ** (bits - 1)``
    (``32768 / 32767`` at 16 bits): a little over 1."""
    return float(np.float32(2 ** (bits - 1)) * np.float32(1.0 / pedalboard_full_scale(bits)))


def pedalboard_readings(x: np.ndarray, full_scale: int) -> np.ndarray:
    """(...) bool, per sample: ``x`` is pedalboard's reading k * float32(1 / full_scale) of the integer k nearest
    ``x * full_scale``."""
    k = np.round(np.asarray(x, dtype=np.float64) * full_scale)
    return k.astype(np.float32) * np.float32(1.0 / full_scale) == np.asarray(x).astype(np.float32)


def _on_pedalboard_grid(x: np.ndarray, full_scale: int) -> np.ndarray:
    """(..., n) -> (...) bool: every sample is pedalboard's reading of an integer (:func:`pedalboard_readings`)."""
    return np.all(pedalboard_readings(x, full_scale), axis=-1)


def rounding_power(step: float, n_fft: int = N_FFT) -> float:
    """Expected power per bin of the rounding noise of samples on ``step`` (:func:`grid_step`) in a
    periodic-Hann ``n_fft``-point spectrum (:func:`~sagasr_stream.dsp.stft`'s): ``step ** 2 / 12 * sum(hann ** 2)``;
    0 off every grid or for silence."""
    if not 0.0 < step < np.inf:
        return 0.0
    return step * step / 12.0 * float(np.sum(np.square(_hann(n_fft))))


def floor_for_step(step: float, source_floor: float = 0.0, n_fft: int = N_FFT) -> float:
    """The rounding floor (power per bin) of samples on grid ``step`` (:func:`grid_step`): their own grid's, or
    ``source_floor`` (:func:`resampled_floor`) when they lie on none (resampled from an integer source); 0 for
    digital silence."""
    if step == 0.0:
        return source_floor
    return rounding_power(step, n_fft)


def rounding_floor(samples: np.ndarray, source_floor: float = 0.0, n_fft: int = N_FFT) -> float:
    """The rounding floor of (n,) ``samples``: :func:`floor_for_step` of their own grid."""
    return floor_for_step(float(grid_step(samples)), source_floor, n_fft)


def resampled_floor(step: float, source_rate: float, model_rate: float, n_fft: int = N_FFT) -> float:
    """Power per bin, at ``model_rate`` (Hz), of the rounding noise of a source on grid ``step`` at
    ``source_rate`` (Hz), resampled: white noise keeps its power per Hz in the band both rates hold, so
    :func:`rounding_power` x ``model_rate / source_rate``. 0 at equal rates (the samples keep their own grid),
    off every grid and for silence."""
    if source_rate == model_rate:
        return 0.0
    return rounding_power(step, n_fft) * model_rate / source_rate


FILE_BITS = {"int8": 8, "int16": 16}  # pedalboard's file_dtype -> bits, for the formats whose grid is looked for


def file_grid_step(reader: object) -> float:
    """The grid step of samples pedalboard reads from an open ``AudioFile`` (8- or 16-bit: ``1 / (2 ** (bits -
    1) - 1)``), 0 for any other sample format (24-bit, float, compressed)."""
    bits = FILE_BITS.get(str(getattr(reader, "file_dtype", "")))
    return 1.0 / pedalboard_full_scale(bits) if bits else 0.0
