"""16-bit output: TPDF-dithered rounding of float samples to integers (``bit_depth=16``).

Rounding a float signal to 16 bits leaves an error that follows the signal (distortion in quiet passages and
fades); triangular (TPDF) dither of +-1 step added first makes it a steady white noise of a quarter step squared
(rounding's 1/12 plus the dither's 1/6), about -96 dBFS RMS, as mastering tools write 16-bit files. Each channel draws
its dither from its own generator, seeded by (seed, channel) and read in order, so the integers do not depend on
the block sizes the samples come in; the same input and seed give the same file. A sample that already lies on the
16-bit grid as pedalboard reads it (``k * float32(1 / 32767)``: what passed through from a 16-bit input) is written
as that k, undithered, so the parts of a 16-bit file that restoration leaves alone come out bit for bit.
"""
from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .quantization import pedalboard_full_scale, pedalboard_readings

FULL_SCALE = pedalboard_full_scale(16)  # pedalboard reads a 16-bit sample k as k / 32767: written back the same way


class Dither16:
    """(channels, n) float samples -> (channels, n) int16, ``round(x * 32767 + u1 - u2)`` clipped to int16 with
    u1, u2 uniform in [-0.5, 0.5) from each channel's generator (drawn for every sample), or k itself for a sample
    that is pedalboard's reading of k; :meth:`reset` starts the dither over."""

    def __init__(self, channels: int, seed: int = 0) -> None:
        self.channels = channels
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self._rngs = [np.random.default_rng([self.seed, c]) for c in range(self.channels)]

    def __call__(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float64)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ParameterError(f"expected ({self.channels}, n) samples, got shape {block.shape}")
        draws = np.stack([rng.random(2 * block.shape[1]) for rng in self._rngs])  # (u1, u2) pairs, in order
        tpdf = draws[:, 0::2] - draws[:, 1::2]
        scaled = block * FULL_SCALE
        k = np.where(pedalboard_readings(block, FULL_SCALE), np.round(scaled), np.round(scaled + tpdf))
        return np.clip(k, -32768, 32767).astype(np.int16)
