"""Upsampling: input at any rate -> restored output at the model's rate (or an asked rate), whole or streamed.

Both are literally two stream stages (:mod:`sagasr_stream.streaming`): the resample stage (to the model's
rate) followed by the restore stage. Unlike :func:`sagasr_stream.restore`, whose output keeps the input's
rate when that is >= 44.1 kHz, :func:`upsample` always answers at the model's rate unless ``output_rate``
is given. :class:`StreamingUpsampler` is modelled on ``pedalboard.io.StreamResampler``: ``process(chunk)``
returns what is ready, ``process()`` (or :meth:`flush`) returns the rest, ``reset()`` starts over.
"""
from __future__ import annotations

import warnings

import numpy as np

from .api import restore, source_band_limit
from .model import SagaSRModel
from .restorer import Restorer
from .settings import RestoreSettings
from .streaming import ResampleStage, Series, empty, exact_length
from .validation import Layout, check_positive_int, check_sample_rate, stream_block


def upsample(
    audio: np.ndarray,
    sample_rate: float,
    model: SagaSRModel | Restorer | None = None,
    settings: RestoreSettings | None = None,
    layout: Layout | None = None,
    output_rate: float | None = None,
) -> np.ndarray:
    """Resample ``audio`` from ``sample_rate`` to the model's rate (44.1 kHz) and restore its top band.

    The output is at ``output_rate`` (default: the model's rate, whatever the input's rate) with exactly
    ``round(samples * output_rate / sample_rate)`` samples, float32, in the input's layout. The input's band
    edge is the source rate's Nyquist, or the detected edge when lower. Equals the total output of
    :class:`StreamingUpsampler` (at the model's rate). ``model``: as in :func:`sagasr_stream.restore`.
    """
    restorer = Restorer.of(model, settings)
    return restore(audio, sample_rate, restorer, None, layout,
                   restorer.sample_rate if output_rate is None else output_rate)  # 0 is refused, not the default


def expected_output_length(input_samples: int, source_rate: float, target_rate: float) -> int:
    """Output samples for ``input_samples`` at ``source_rate`` (the rule of :func:`upsample`)."""
    return exact_length(input_samples, source_rate, target_rate)


class StreamingUpsampler:
    """(num_channels, samples) float32 chunks at ``source_sample_rate`` -> restored chunks at the model's rate.

    The stream stages resample -> restore (:attr:`pipeline`, a :class:`~sagasr_stream.streaming.Series`):
    after n input samples exactly ``max(0, round(n * 44100 / source_sample_rate) - latency_samples)``
    samples have come out; the output, concatenated with the flush, equals :func:`upsample` of the
    concatenated input (up to batching: ``windows_per_call`` windows per model call).
    """

    def __init__(
        self,
        source_sample_rate: float,
        num_channels: int,
        model: SagaSRModel | Restorer | None = None,
        settings: RestoreSettings | None = None,
        windows_per_call: int = 1,
    ) -> None:
        num_channels = check_positive_int(num_channels, "num_channels")
        windows_per_call = check_positive_int(windows_per_call, "windows_per_call")
        self.source_sample_rate = check_sample_rate(source_sample_rate, "source_sample_rate")
        restorer = Restorer.of(model, settings)
        self.target_sample_rate = restorer.sample_rate
        resample = ResampleStage(self.source_sample_rate, self.target_sample_rate, num_channels)
        limit = source_band_limit(self.source_sample_rate, self.target_sample_rate)
        self.pipeline = Series([resample, restorer.stream(num_channels, windows_per_call, limit)])
        self.num_channels = num_channels
        self._mono = False  # the last chunk was 1-D

    def __repr__(self) -> str:
        return (f"<StreamingUpsampler {self.source_sample_rate} -> {self.target_sample_rate} Hz "
                f"channels={self.num_channels} latency={self.latency_samples} samples>")

    @property
    def channels(self) -> int:
        return self.num_channels

    @property
    def latency_samples(self) -> int:
        """Fixed delay of the output in output samples (at the model's rate): resampler + model."""
        return self.pipeline.latency_samples

    @property
    def output_latency(self) -> float:
        """Deprecated: :attr:`latency_samples`."""
        warnings.warn("StreamingUpsampler.output_latency is deprecated; use latency_samples", DeprecationWarning, 2)
        return float(self.latency_samples)

    @property
    def input_latency(self) -> float:
        """Deprecated: :attr:`latency_samples` counted in input samples (at ``source_sample_rate``)."""
        warnings.warn("StreamingUpsampler.input_latency is deprecated; use latency_samples", DeprecationWarning, 2)
        return self.latency_samples * self.source_sample_rate / self.target_sample_rate

    def reset(self) -> None:
        """Drop all state and start a new stream."""
        self.pipeline.reset()
        self._mono = False

    def process(self, chunk: np.ndarray | None = None) -> np.ndarray:
        """Feed (num_channels, samples) float32/float64 (1-D for mono); return restored output that is ready.

        ``process()`` with no chunk flushes: it returns the rest and resets. Output: (num_channels, n) float32,
        1-D if the chunk was 1-D.
        """
        if chunk is None:
            return self.flush()
        planar, mono = stream_block(chunk, self.num_channels, "chunk")
        self._mono = mono
        out = self.pipeline.process(planar)
        return out[0] if mono else out

    def flush(self) -> np.ndarray:
        """Return every remaining output sample (num_channels, n) float32 (1-D after 1-D chunks) and reset."""
        out = self.pipeline.flush()
        if out.shape[1] == 0:
            out = empty(self.num_channels)
        mono = self._mono
        self.reset()
        return out[0] if mono else out
