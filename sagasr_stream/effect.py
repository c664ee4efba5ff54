"""A same-rate bandwidth-extension effect with pedalboard's call contract (duck-typed).

pedalboard cannot host Python plugins (``pedalboard.Plugin`` has no trampoline), so this class copies the
contract instead: use it alone or in :class:`sagasr_stream.chain.Chain` together with native plugins. It is
the pedalboard adapter over a restore stage (:meth:`Restorer.stream <sagasr_stream.restorer.Restorer.stream>`):
pedalboard's shape rules (:class:`~sagasr_stream.validation.LayoutTracker`) and its latency name,
``reported_latency_samples``, live here only.
"""
from __future__ import annotations

import threading
from typing import NoReturn

import numpy as np

from .api import array_grid_step, restore_pipeline
from .errors import AudioInputError, ParameterTypeError
from .model import SagaSRModel
from .processor import ChunkedProcessor
from .restorer import Restorer
from .settings import RestoreSettings
from .source_rate import SourceRateRestore
from .streaming import Stream, exact_length
from .validation import (  # noqa: F401  (LayoutTracker, planar_input, output_in_layout: re-exported)
    Layout, LayoutTracker, check_bool, check_buffer_size, check_positive_int, check_sample_rate, output_in_layout,
    planar_input,
)


class BandwidthExtension:
    """Restores the missing top band of band-limited audio at the model's rate (44.1 kHz) or any rate above it
    (48, 96 kHz: restored at 44.1 kHz, the input kept and only the restored change resampled back, as
    :func:`sagasr_stream.restore` does), same length out.

    ``process(input_array, sample_rate, buffer_size=8192, reset=True)``: float32/float64 input, (samples,),
    (channels, samples) or (samples, channels) (the smaller dimension is channels); float32 output in the
    input's layout.

    - ``reset=True``: the whole buffer is processed in blocks of at most ``buffer_size`` samples, latency
      compensated: the output has the input's length, is time-aligned and equals
      ``sagasr_stream.restore(input_array, sample_rate, model, settings)``; the state is clear afterwards.
    - ``reset=False``: streaming. State carries over; after n input samples in total, exactly
      ``max(0, n - reported_latency_samples)`` have come out (so an output can be shorter than its input,
      never longer). :meth:`flush` returns the rest.

    The channel count and rate are taken from the first buffer of a stream; another one mid-stream is an error.
    Calls hold a per-instance lock. ``windows_per_call`` (a positive integer, streaming only) trades latency for
    batching. ``reset`` must be True or False (as pedalboard's ``reset: bool``): None or a string is an error.
    """

    is_effect = True
    is_instrument = False

    def __init__(
        self,
        model: SagaSRModel | Restorer | None = None,
        settings: RestoreSettings | None = None,
        windows_per_call: int = 1,
    ) -> None:
        self.windows_per_call = check_positive_int(windows_per_call, "windows_per_call")
        self.restorer = Restorer.of(model, settings)  # fails early on bad settings
        self.model = self.restorer.model
        self.settings = self.restorer.user_settings
        self.sample_rate = self.restorer.sample_rate
        self._lock = threading.Lock()
        self._layouts = LayoutTracker()
        self._stream: ChunkedProcessor | SourceRateRestore = self.restorer.stream(1, self.windows_per_call)
        self._stream_rate = self.sample_rate
        self._stream_layout: Layout = "mono"

    def __repr__(self) -> str:
        return f"<BandwidthExtension model={self.model.manifest.name!r} latency={self.reported_latency_samples} samples>"

    def __copy__(self) -> "BandwidthExtension":
        # a shallow copy shared the stream, its lock and layout cache with the original (one wiped the other's
        # stream), and passed a chain's same-instance check: refused, as pedalboard's plugins refuse copy.copy
        raise ParameterTypeError("cannot copy a BandwidthExtension (its stream state is its own): make another, "
                                 "BandwidthExtension(effect.restorer), which shares the loaded model")

    def __deepcopy__(self, memo: dict) -> "BandwidthExtension":
        raise ParameterTypeError("cannot deep-copy a BandwidthExtension (it holds ONNX Runtime sessions): make "
                                 "another, BandwidthExtension(effect.restorer)")

    def __reduce__(self) -> NoReturn:
        raise ParameterTypeError("cannot pickle a BandwidthExtension (it holds ONNX Runtime sessions): pickle the "
                                 "bundle path and settings, and load it with "
                                 "BandwidthExtension(Restorer.load(path, settings))")

    @property
    def reported_latency_samples(self) -> int:
        """Delay of the output in ``reset=False`` streaming, in samples at the stream's rate (the model's rate,
        :attr:`sample_rate`, until a stream at another rate has started)."""
        return self._stream.latency_samples

    def latency_at(self, sample_rate: float) -> int:
        """:attr:`reported_latency_samples` of a ``reset=False`` stream at ``sample_rate`` (Hz, the model's rate or
        above), known before that stream starts, e.g. for a host that compensates it."""
        rate = self.check_rate(sample_rate)
        with self._lock:
            if rate == self._stream_rate:
                return self._stream.latency_samples
        return self.restorer.stream_at(rate, 1, self.windows_per_call).latency_samples

    def check_rate(self, sample_rate: object, reset: bool = True) -> int:
        """``sample_rate`` as an int if this effect can process it now: at least the model's rate, and with
        ``reset=False`` the rate of a stream in progress. Raises :class:`AudioInputError` naming the rates."""
        rate = check_sample_rate(sample_rate)
        if rate < self.sample_rate:
            raise AudioInputError(
                f"BandwidthExtension runs at the model's rate, {self.sample_rate} Hz, or above; got {rate} Hz. For "
                "low-rate input use sagasr_stream.upsample.upsample() or StreamingUpsampler (they resample first)"
            )
        if not reset and rate != self._stream_rate and self._stream.total_in > 0:
            raise AudioInputError(f"a {self._stream_rate} Hz stream is in progress; got {rate} Hz: call flush() or "
                                  "reset() before changing the rate")
        return rate

    def _streaming(self, channels: int, rate: int) -> ChunkedProcessor | SourceRateRestore:
        stream = self._stream
        if stream.channels != channels or rate != self._stream_rate:
            if stream.total_in > 0:
                raise AudioInputError(
                    f"got a {channels}-channel buffer while a {stream.channels}-channel stream is in progress; "
                    "call flush() or reset() before changing the channel count"
                )
            self._stream = stream = self.restorer.stream_at(rate, channels, self.windows_per_call)
            self._stream_rate = rate
        return stream

    def _offline(self, planar: np.ndarray, rate: int) -> Stream:
        """What :func:`sagasr_stream.restore` runs on the whole (channels, n) ``planar`` at ``rate`` (its integer
        grid included: a 16-bit input at 48 kHz has its rounding floor looked for there too)."""
        channels, frames = planar.shape
        model_frames = exact_length(frames, rate, self.sample_rate)
        return restore_pipeline(self.restorer, channels, rate, rate, frames, model_frames,
                                source_grid_step=array_grid_step(planar, rate, self.sample_rate))

    def process(
        self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
    ) -> np.ndarray:
        """Restore ``input_array`` (see the class docstring); returns float32 in the input's layout."""
        buffer_size = check_buffer_size(buffer_size)
        reset = check_bool(reset, "reset")
        with self._lock:
            rate = self.check_rate(sample_rate, reset)
            planar, layout = planar_input(input_array, self._layouts)  # checks NaN/Inf before any state changes
            if reset:
                self._stream.reset()
                if planar.shape[0] == 0 or planar.shape[1] == 0:
                    return output_in_layout(planar, layout)
                offline = self._offline(planar, rate)  # what restore() uses
                pieces = [offline.process(planar[:, i : i + buffer_size]) for i in range(0, planar.shape[1], buffer_size)]
                pieces.append(offline.flush())
                return output_in_layout(np.concatenate(pieces, axis=1), layout)
            if planar.shape[0] == 0 or planar.shape[1] == 0:  # no samples: no state change (the layout is cached)
                return output_in_layout(planar, layout)
            stream = self._streaming(planar.shape[0], rate)
            self._stream_layout = layout
            starts = range(0, max(planar.shape[1], 1), buffer_size)
            pieces = [stream.process(planar[:, i : i + buffer_size]) for i in starts]
            return output_in_layout(np.concatenate(pieces, axis=1), layout)

    __call__ = process

    def flush(self) -> np.ndarray:
        """End a ``reset=False`` stream: return its last ``reported_latency_samples`` (or fewer) samples.

        The layout is that of the last streamed buffer; the stream state is clear afterwards (the layout
        cache is kept until :meth:`reset`).
        """
        with self._lock:
            return output_in_layout(self._stream.flush(), self._stream_layout)

    def reset(self) -> None:
        """Drop all state: the stream (its rate and channel count too, so :attr:`reported_latency_samples` is a
        new instance's again), pending output and the cached layout."""
        with self._lock:
            self._stream.reset()
            if self._stream_rate != self.sample_rate or self._stream.channels != 1:
                self._stream = self.restorer.stream(1, self.windows_per_call)
                self._stream_rate = self.sample_rate
            self._stream_layout = "mono"
            self._layouts.reset()
