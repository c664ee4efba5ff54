"""Output headroom: restored peaks can exceed full scale.

Float outputs (32-bit float WAV, arrays) keep every value. Integer outputs (24-bit FLAC and AIFF) cannot hold
|x| > 1, so instead of clipping them silently the writer passes them through :class:`SoftLimiter`: samples up
to the knee (-1 dBFS) are untouched, louder ones are bent smoothly (tanh) into (knee, 1) with no corner, per
sample, so it streams and is deterministic whatever the block size. How many samples it bent and the peak it
saw are logged once the file is written.
"""
from __future__ import annotations

import logging

import numpy as np

KNEE = 10 ** (-1 / 20)  # -1 dBFS
log = logging.getLogger("sagasr_stream")


def soft_limit(x: np.ndarray, knee: float = KNEE) -> np.ndarray:
    """(..., samples) float -> same shape float32 with |y| < 1: unchanged up to ``knee``, tanh above it
    (continuous value and slope at the knee)."""
    x = np.asarray(x, dtype=np.float32)
    over = np.abs(x) > knee
    if not over.any():
        return x
    headroom = 1.0 - knee
    y = x.copy()
    magnitude = knee + headroom * np.tanh((np.abs(x[over]) - knee) / headroom)
    y[over] = np.sign(x[over]) * np.minimum(magnitude, np.float32(1.0 - 2.0**-23))
    return y


class SoftLimiter:
    """Applies :func:`soft_limit` block by block and counts what it changed."""

    def __init__(self, knee: float = KNEE) -> None:
        self.knee = knee
        self.limited = 0  # samples above the knee
        self.peak = 0.0  # largest |input| seen

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if block.size:
            self.peak = max(self.peak, float(np.abs(block).max()))
            self.limited += int((np.abs(block) > self.knee).sum())
        return soft_limit(block, self.knee)

    def report(self, destination: object) -> None:
        """Log a warning when any sample was bent (only peaks above full scale would have clipped)."""
        if self.limited:
            log.warning(
                "%s: restored peak %+.1f dBFS; %d samples above %.0f dBFS were soft-limited for the integer "
                "output format (write WAV, 32-bit float, to keep them unchanged)",
                destination, 20 * np.log10(self.peak), self.limited, 20 * np.log10(self.knee),
            )
