"""Output headroom: restored peaks can exceed full scale.

Float outputs (32-bit float WAV, arrays) keep every value. Integer outputs (16 / 24-bit: FLAC, AIFF, WAV when asked)
cannot hold |x| > 1, so instead of clipping them the writer passes the signal through :class:`PeakLimiter`: around
each sample over full scale the gain of all channels dips smoothly (a raised cosine :data:`LOOKAHEAD` samples to
either side, 1.5 ms) just enough to bring that sample to full scale, and every sample with no over within that
reach is written exactly as it came, so what restoration left alone (a mastered file's peaks at -0.1 dBFS included)
is not bent. An integer format holds one more step below zero than above (-32768 .. 32767), which pedalboard reads
as ``-32768 / 32767``: the writer tells the limiter so (``negative``), so a file's own most negative samples are no
overs and come out as they went in. The gain at a sample depends only on the samples within the reach, so the
output does not depend on block sizes; the limiter holds :data:`LOOKAHEAD` samples back until
:meth:`PeakLimiter.flush`. How many samples were over and the peak it saw are logged once the file is written.
"""
from __future__ import annotations

import logging

import numpy as np

LOOKAHEAD = 64  # samples on either side of an over whose gain dips with it (1.45 ms at 44.1 kHz)
CEILING = 1.0  # full scale: an integer format's largest code as pedalboard writes and reads it
OVERS_PER_PASS = 4096  # overs whose dips are laid at once (memory: OVERS_PER_PASS x (2 LOOKAHEAD + 1) floats)
log = logging.getLogger("sagasr_stream")


def dip_window(reach: int = LOOKAHEAD) -> np.ndarray:
    """(2 reach + 1,) float64 raised cosine, 1 at the centre and 0 just beyond either end."""
    offsets = np.arange(-reach, reach + 1)
    return 0.5 * (1.0 + np.cos(np.pi * offsets / (reach + 1)))


def limiter_gains(peaks: np.ndarray, first: int, stop: int, reach: int = LOOKAHEAD) -> np.ndarray:
    """(stop - first,) float64 gains for samples [first, stop) of a signal whose per-sample peak over its channels
    is ``peaks`` (n,) (index 0 = sample 0 of ``peaks``; it must hold [first - reach, stop + reach) where the signal
    has them): the minimum over overs k within ``reach`` of ``1 - (1 - CEILING / peaks[k]) * dip(n - k)``; 1
    exactly where no over is that near."""
    gains = np.ones(stop - first)
    overs = np.flatnonzero(peaks > CEILING)
    overs = overs[(overs >= first - reach) & (overs < stop + reach)]
    dip = dip_window(reach)
    offsets = np.arange(-reach, reach + 1)
    for i in range(0, overs.size, OVERS_PER_PASS):
        chunk = overs[i : i + OVERS_PER_PASS]
        depth = 1.0 - CEILING / peaks[chunk]
        where = chunk[:, None] + offsets[None, :] - first
        values = 1.0 - depth[:, None] * dip[None, :]
        inside = (where >= 0) & (where < gains.size)
        np.minimum.at(gains, where[inside], values[inside])
    return gains


class PeakLimiter:
    """Brings (channels, n) float blocks under full scale with :func:`limiter_gains`, :data:`LOOKAHEAD` samples
    late: :meth:`__call__` returns what is final so far, :meth:`flush` the rest (then a fresh stream). Counts the
    samples over full scale (``limited``) and the largest level seen (``peak``, relative to full scale).
    ``negative``: the magnitude of the lowest value the format holds (>= :data:`CEILING`; an integer format's most
    negative code as pedalboard reads it, :func:`~sagasr_stream.quantization.pedalboard_lowest`): a negative sample
    is over when below ``-negative``."""

    def __init__(self, reach: int = LOOKAHEAD, negative: float = CEILING) -> None:
        self.reach = reach
        self.negative = float(negative)
        self.limited = 0
        self.peak = 0.0
        self._held = np.zeros((0, 0), dtype=np.float32)  # samples from absolute index self._start on
        self._peaks = np.zeros(0)  # their per-sample peaks over the channels
        self._start = 0  # absolute index of self._held's first sample (output position - reach, at least 0)
        self._out = 0  # samples returned so far

    def __call__(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32)
        peaks = self.levels(block)
        if peaks.size:
            self.peak = max(self.peak, float(peaks.max()))
            self.limited += int((peaks > CEILING).sum())
        self._held = block if self._held.size == 0 else np.concatenate([self._held, block], axis=1)
        self._peaks = np.concatenate([self._peaks, peaks])
        return self._release(self._start + self._held.shape[1] - self.reach)

    def levels(self, block: np.ndarray) -> np.ndarray:
        """(channels, n) -> (n,) float64: each sample's level over its channels relative to full scale (1: on it;
        a negative sample counts against ``negative``)."""
        if not block.size:
            return np.zeros(0)
        top = block.max(axis=0).astype(np.float64)
        return np.maximum(top, -block.min(axis=0).astype(np.float64) / self.negative)

    def flush(self) -> np.ndarray:
        """The held samples, limited; the limiter then starts a new stream (its counts are kept)."""
        out = self._release(self._start + self._held.shape[1])
        self._held, self._peaks, self._start, self._out = np.zeros((0, 0), dtype=np.float32), np.zeros(0), 0, 0
        return out

    def _release(self, stop: int) -> np.ndarray:
        """Samples [self._out, stop) limited; keeps the last ``reach`` of them as the next gains' past."""
        channels = self._held.shape[0]
        if stop <= self._out:
            return np.zeros((channels, 0), dtype=np.float32)
        gains = limiter_gains(self._peaks, self._out - self._start, stop - self._start, self.reach)
        part = self._held[:, self._out - self._start : stop - self._start]
        limited = np.clip(part * gains, -self.negative, CEILING)  # float32 rounding must not lift one back over
        out = np.where(gains < 1.0, limited, part).astype(np.float32)  # untouched samples: as they came
        self._out = stop
        keep_from = max(self._start, stop - self.reach)
        self._held = self._held[:, keep_from - self._start :]
        self._peaks = self._peaks[keep_from - self._start :]
        self._start = keep_from
        return out

    def report(self, destination: object, kind: str = "integer") -> None:
        """Log a warning when any sample was over full scale (``kind``: of the output format, "integer" or
        "lossy")."""
        if self.limited:
            log.warning(
                "%s: restored peak %+.1f dBFS; %d samples over full scale were brought under it by a %d-sample "
                "peak limiter for the %s output format (write WAV, 32-bit float, to keep them)",
                destination, 20 * np.log10(self.peak), self.limited, self.reach, kind,
            )
