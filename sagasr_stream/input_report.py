"""What restoration will do with an input file: its band edge per window (``sagasr info --input``)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .api import source_band_limit
from .audio_io import open_input, read_blocks
from .dsp import band_edge_hz


@dataclass(frozen=True)
class InputReport:
    """Band edges (Hz) of an input's windows, at the model's rate: (windows, channels) float64."""

    path: str
    source_rate: int
    channels: int
    seconds: float
    edges_hz: np.ndarray
    target_rolloff_hz: float

    @property
    def kept_windows(self) -> int:
        """Windows whose every channel reaches the target roll-off: they pass through unchanged."""
        return int((self.edges_hz >= self.target_rolloff_hz).all(axis=1).sum())

    def lines(self) -> list[str]:
        edges = self.edges_hz
        nyquist = self.source_rate / 2
        median = float(np.median(edges))
        full = (" (full band: nothing missing; for a low-pass you know of that shows no cut, "
                "`sagasr restore --band-limit HZ`)" if median >= nyquist - 1 else "")
        lines = [
            f"input:           {self.path} ({self.source_rate} Hz, {self.channels} ch, {self.seconds:.2f} s)",
            f"band edge:       {median / 1000:.2f} kHz median over {edges.shape[0]} window(s) "
            f"(range {edges.min() / 1000:.2f}-{edges.max() / 1000:.2f} kHz; source Nyquist {nyquist / 1000:.2f} kHz){full}",
            f"kept as is:      everything below each window's edge; {self.kept_windows} of {edges.shape[0]} window(s) "
            f"reach {self.target_rolloff_hz / 1000:g} kHz and pass through unchanged",
        ]
        return lines


def inspect_input(
    path: str | os.PathLike[str], model_rate: int, window: int, target_rolloff_hz: float
) -> InputReport:
    """Read ``path`` (resampled to ``model_rate`` as restoration does) and detect the band edge of each
    ``window``-sample stretch, per channel, capped at the source's Nyquist."""
    edges = []
    with open_input(path, model_rate) as (reader, channels, source_rate):
        limit = source_band_limit(source_rate, model_rate) or model_rate / 2
        total = 0
        for block in read_blocks(reader, window):
            total += block.shape[1]
            if block.shape[1] < window:
                block = np.pad(block, ((0, 0), (0, window - block.shape[1])))
            edges.append(np.minimum(band_edge_hz(block.astype(np.float64), model_rate), limit))
    return InputReport(str(path), source_rate, channels, total / model_rate, np.array(edges), target_rolloff_hz)
