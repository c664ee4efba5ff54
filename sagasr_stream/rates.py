"""Output sample rates: which rate a restoration is written at (resampling itself is the stream stage
:class:`sagasr_stream.streaming.ResampleStage`).

The model restores at its own rate (44.1 kHz). The output rate defaults to the input's rate when that is at
least the model's rate (48 kHz in, 48 kHz out), else to the model's rate (a 16 kHz input is upsampled);
any rate can be asked for. ``n`` input samples at ``in_rate`` always give exactly
``round(n * out_rate / in_rate)`` output samples. At the input's own rate (not the model's) the input is kept
and only the restorer's change is resampled back (:mod:`sagasr_stream.source_rate`).
"""
from __future__ import annotations

from .streaming import exact_length
from .validation import check_sample_rate

__all__ = ["choose_output_rate", "default_output_rate", "describe_rates", "exact_length"]


def default_output_rate(input_rate: int, model_rate: int) -> int:
    """The input's rate when it is >= the model's rate, else the model's rate (Hz)."""
    return input_rate if input_rate >= model_rate else model_rate


def choose_output_rate(output_rate: float | None, input_rate: int, model_rate: int) -> int:
    """``output_rate`` checked (whole Hz in the supported range), or the default for ``input_rate``."""
    if output_rate is None:
        return default_output_rate(input_rate, model_rate)
    return check_sample_rate(output_rate, "output_rate")


def describe_rates(input_rate: int, model_rate: int, output_rate: int) -> str:
    """One line saying what happens to the rate, e.g. '48000 Hz -> restored at 44100 Hz -> written at 48000 Hz'."""
    steps = [f"{input_rate} Hz"]
    if input_rate != model_rate:
        steps.append(f"resampled to {model_rate} Hz")
    steps.append("restored")
    if output_rate == input_rate != model_rate:
        steps.append(f"written at {output_rate} Hz (the input kept, the change resampled)")
    else:
        steps.append(f"written at {output_rate} Hz" + (" (resampled)" if output_rate != model_rate else ""))
    return " -> ".join(steps)
