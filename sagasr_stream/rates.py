"""Output sample rates: which rate a restoration is written at, and exact-length streaming resampling.

The model restores at its own rate (44.1 kHz). The output rate defaults to the input's rate when that is at
least the model's rate (48 kHz in, 48 kHz out), else to the model's rate (a 16 kHz input is upsampled);
any rate can be asked for. ``n`` input samples at ``in_rate`` always give exactly
``round(n * out_rate / in_rate)`` output samples.
"""
from __future__ import annotations

import numpy as np
from pedalboard.io import StreamResampler

from .validation import check_sample_rate


def default_output_rate(input_rate: int, model_rate: int) -> int:
    """The input's rate when it is >= the model's rate, else the model's rate (Hz)."""
    return input_rate if input_rate >= model_rate else model_rate


def choose_output_rate(output_rate: int | None, input_rate: int, model_rate: int) -> int:
    """``output_rate`` checked (whole Hz in the supported range), or the default for ``input_rate``."""
    if output_rate is None:
        return default_output_rate(input_rate, model_rate)
    return check_sample_rate(output_rate)


def exact_length(samples: int, source_rate: int, target_rate: int) -> int:
    """``round(samples * target_rate / source_rate)``: output samples for ``samples`` input samples."""
    return int(round(samples * target_rate / source_rate))


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """(channels, n) -> (channels, length): cut the end off or zero-pad it (a resampler's last sample or so)."""
    if audio.shape[1] >= length:
        return audio[:, :length]
    return np.pad(audio, ((0, 0), (0, length - audio.shape[1])))


def describe_rates(input_rate: int, model_rate: int, output_rate: int) -> str:
    """One line saying what happens to the rate, e.g. '48000 Hz -> restored at 44100 Hz -> written at 48000 Hz'."""
    steps = [f"{input_rate} Hz"]
    if input_rate != model_rate:
        steps.append(f"resampled to {model_rate} Hz")
    steps.append("restored")
    steps.append(f"written at {output_rate} Hz" + (" (resampled)" if output_rate != model_rate else ""))
    return " -> ".join(steps)


class ExactLengthResampler:
    """Streams (channels, n) float32 blocks from ``source_rate`` to ``target_rate``; :meth:`finish` pads or cuts
    the total to exactly ``length`` samples. At equal rates blocks pass through unchanged."""

    def __init__(self, source_rate: int, target_rate: int, channels: int, length: int) -> None:
        self.length = length
        self.emitted = 0
        self.channels = channels
        self._resampler = None
        if source_rate != target_rate:
            self._resampler = StreamResampler(float(source_rate), float(target_rate), channels)
        self._fed = False

    def _emit(self, block: np.ndarray) -> np.ndarray:
        block = block[:, : max(0, self.length - self.emitted)]
        self.emitted += block.shape[1]
        return np.ascontiguousarray(block, dtype=np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Resampled samples that are ready, never past ``length``."""
        if block.shape[1] == 0:
            return np.zeros((self.channels, 0), np.float32)
        self._fed = True
        out = self._resampler.process(np.ascontiguousarray(block, dtype=np.float32)) if self._resampler else block
        return self._emit(out)

    def finish(self) -> np.ndarray:
        """The rest: the resampler's flush, cut or zero-padded so that the total is ``length``."""
        rest = self._resampler.process() if self._resampler and self._fed else np.zeros((self.channels, 0), np.float32)
        rest = self._emit(rest)
        rest = fit_length(rest, rest.shape[1] + self.length - self.emitted)
        self.emitted = self.length
        return rest
