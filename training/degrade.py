"""On-the-fly degradation for training: the SPEC section 1 low-pass recipe from :mod:`sagasr_stream.dsp`.

One implementation only: this module draws and applies ``dsp.draw_lowpass`` + ``dsp.band_limit`` and levels
HR/LR with ``dsp.peak_gain`` exactly like the runtime does per window.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagasr_stream import dsp


@dataclass(frozen=True)
class DegradeConfig:
    """Ranges of the training low-pass (SPEC: cutoff 2-16 kHz, order 2-10, four families, resample)."""

    cutoff_min_hz: float = 2000.0
    cutoff_max_hz: float = 16000.0
    order_min: int = 2
    order_max: int = 10
    families: tuple[str, ...] = dsp.FILTER_FAMILIES
    resample: bool = True
    input_peak: float = 0.5

    def validate(self, sample_rate: int = 44100) -> "DegradeConfig":
        if not 0 < self.cutoff_min_hz <= self.cutoff_max_hz < sample_rate / 2:
            raise ValueError(f"degrade: need 0 < cutoff_min_hz <= cutoff_max_hz < {sample_rate / 2:g}")
        if not 2 <= self.order_min <= self.order_max <= 10:
            raise ValueError("degrade: need 2 <= order_min <= order_max <= 10")
        bad = [f for f in self.families if f not in dsp.FILTER_FAMILIES]
        if bad or not self.families:
            raise ValueError(f"degrade: unknown families {bad}; expected some of {dsp.FILTER_FAMILIES}")
        if not self.input_peak > 0:
            raise ValueError("degrade: input_peak must be > 0")
        return self


@dataclass
class Degraded:
    """One training pair at the model's working level. hr, lr: (L,) float32; rolloffs: ratios in [0, 1]."""

    hr: np.ndarray
    lr: np.ndarray
    rolloff_in: float
    rolloff_out: float
    spec: dsp.LowPassSpec
    gain: float


def degrade(hr: np.ndarray, rng: np.random.Generator, cfg: DegradeConfig, sample_rate: int = 44100) -> Degraded:
    """HR window (L,) -> random band-limited LR window; both scaled by ``peak_gain(lr, input_peak)``.

    Input roll-off from the LR window, target roll-off from the HR window (after scaling: roll-off is
    scale-invariant)."""
    spec = dsp.draw_lowpass(rng, (cfg.cutoff_min_hz, cfg.cutoff_max_hz), (cfg.order_min, cfg.order_max), cfg.families)
    hr = np.asarray(hr, dtype=np.float32)
    lr = dsp.band_limit(hr, sample_rate, spec, resample=cfg.resample)
    gain = float(dsp.peak_gain(lr, cfg.input_peak))
    hr, lr = hr * gain, lr * gain
    return Degraded(hr=hr.astype(np.float32), lr=lr.astype(np.float32), rolloff_in=float(dsp.rolloff_ratio(lr)),
                    rolloff_out=float(dsp.rolloff_ratio(hr)), spec=spec, gain=gain)
