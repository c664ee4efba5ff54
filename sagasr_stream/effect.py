"""A same-rate bandwidth-extension effect with pedalboard's call contract (duck-typed).

pedalboard cannot host Python plugins (``pedalboard.Plugin`` has no trampoline), so this class copies the
contract instead: use it alone or in :class:`sagasr_stream.chain.Chain` together with native plugins.
"""
from __future__ import annotations

import threading

import numpy as np

from .api import offline_processor
from .errors import AudioInputError, ParameterError
from .model import SagaSRModel
from .settings import RestoreSettings, resolve
from .stream import StreamingRestorer
from .validation import (
    Layout, check_dtype, check_finite, check_sample_rate, from_channels_first, infer_layout, to_channels_first,
)


class LayoutTracker:
    """pedalboard's shape rules with its cache: which dimension of a buffer holds the channels.

    1-D is mono. In 2-D the smaller dimension is channels, except that once a 2-D buffer has been seen, a
    dimension equal to the channel count seen last is taken as channels (so (2, 1) after (2, 1000) is one
    stereo sample, and a square buffer takes the cached layout). Empty dimensions are samples. The cache
    lives until :meth:`reset`.
    """

    def __init__(self) -> None:
        self.layout: Layout | None = None  # last 2-D layout
        self.channels: int | None = None  # channel count of the last 2-D buffer

    def reset(self) -> None:
        self.layout = self.channels = None

    def resolve(self, shape: tuple[int, ...], name: str = "input_array") -> tuple[Layout, int]:
        """(layout, channels) of a buffer of ``shape``; updates the cache. Raises AudioInputError if ambiguous."""
        if len(shape) == 1:
            return "mono", 1
        if len(shape) != 2:
            raise AudioInputError(f"{name} must be 1-D (samples,) or 2-D, got shape {shape}")
        rows, cols = shape
        known = self.channels
        if rows == 0 or cols == 0:  # empty: the zero dimension is samples
            layout: Layout = "channels_last" if rows == 0 else "channels_first"
        elif rows == cols == known and self.layout is not None:
            layout = self.layout
        elif known in (rows, cols) and rows != cols:
            layout = "channels_first" if rows == known else "channels_last"
        elif rows == cols == 1:
            layout = "channels_first"  # one sample of one channel: both readings agree
        else:
            layout = infer_layout(shape, None, name)
        channels = rows if layout == "channels_first" else cols
        if channels > 0 and shape != (1, 1):
            self.layout, self.channels = layout, channels
        return layout, channels


def planar_input(input_array: object, tracker: LayoutTracker) -> tuple[np.ndarray, Layout]:
    """Check dtype (float32 kept, float64 converted, else TypeError) and layout -> ((channels, samples), layout)."""
    array = check_dtype(input_array, "input_array")
    layout, _ = tracker.resolve(array.shape)
    return to_channels_first(array, layout), layout


def output_in_layout(planar: np.ndarray, layout: Layout) -> np.ndarray:
    """(channels, samples) float32 -> C-contiguous float32 in ``layout``."""
    return np.ascontiguousarray(from_channels_first(planar, layout), dtype=np.float32)


class BandwidthExtension:
    """Restores the missing top band of band-limited audio at the model's rate (44.1 kHz), same length out.

    ``process(input_array, sample_rate, buffer_size=8192, reset=True)``: float32/float64 input, (samples,),
    (channels, samples) or (samples, channels) (the smaller dimension is channels); float32 output in the
    input's layout.

    - ``reset=True``: the whole buffer is processed in blocks of at most ``buffer_size`` samples, latency
      compensated: the output has the input's length, is time-aligned and equals
      ``sagasr_stream.restore(input_array, sample_rate, model, settings)``; the state is clear afterwards.
    - ``reset=False``: streaming. State carries over; after n input samples in total, exactly
      ``max(0, n - reported_latency_samples)`` have come out (so an output can be shorter than its input,
      never longer). :meth:`flush` returns the rest.

    The channel count is taken from the first buffer of a stream; another count mid-stream is an error.
    Calls hold a per-instance lock. ``windows_per_call`` (streaming only) trades latency for batching.
    """

    is_effect = True
    is_instrument = False

    def __init__(
        self,
        model: SagaSRModel | None = None,
        settings: RestoreSettings | None = None,
        windows_per_call: int = 1,
    ) -> None:
        self.model = model or SagaSRModel.load()
        self.settings = settings or RestoreSettings()
        self._resolved = resolve(self.settings, self.model.manifest)  # fail early on bad settings
        self.sample_rate = self.model.manifest.sample_rate
        self.windows_per_call = windows_per_call
        self._lock = threading.Lock()
        self._layouts = LayoutTracker()
        self._stream = StreamingRestorer(self.model, self.settings, 1, windows_per_call)
        self._stream_layout: Layout = "mono"

    def __repr__(self) -> str:
        return f"<BandwidthExtension model={self.model.manifest.name!r} latency={self.reported_latency_samples} samples>"

    @property
    def reported_latency_samples(self) -> int:
        """Delay of the output in ``reset=False`` streaming, in samples at :attr:`sample_rate`."""
        return self._stream.latency_samples

    def _check_rate(self, sample_rate: object) -> None:
        rate = check_sample_rate(sample_rate)
        if rate != self.sample_rate:
            raise AudioInputError(
                f"BandwidthExtension runs at the model's rate, {self.sample_rate} Hz; got {rate} Hz. For low-rate "
                "input use sagasr_stream.upsample.upsample() or StreamingUpsampler (they resample first)"
            )

    def _streaming(self, channels: int) -> StreamingRestorer:
        stream = self._stream
        if stream.channels != channels:
            if stream.samples_in > 0:
                raise AudioInputError(
                    f"got a {channels}-channel buffer while a {stream.channels}-channel stream is in progress; "
                    "call flush() or reset() before changing the channel count"
                )
            self._stream = stream = StreamingRestorer(self.model, self.settings, channels, self.windows_per_call)
        return stream

    def process(
        self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
    ) -> np.ndarray:
        """Restore ``input_array`` (see the class docstring); returns float32 in the input's layout."""
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, (int, np.integer)) or buffer_size < 1:
            raise ParameterError(f"buffer_size must be a positive integer, got {buffer_size!r}")
        buffer_size = int(buffer_size)
        with self._lock:
            self._check_rate(sample_rate)
            planar, layout = planar_input(input_array, self._layouts)
            check_finite(planar, "input_array")  # before any state changes
            if reset:
                self._stream.reset()
                if planar.shape[0] == 0 or planar.shape[1] == 0:
                    return output_in_layout(planar, layout)
                processor = offline_processor(self.model, self._resolved, planar.shape[0])  # what restore() uses
                pieces = [processor.push(planar[:, i : i + buffer_size]) for i in range(0, planar.shape[1], buffer_size)]
                pieces.append(processor.finish())
                return output_in_layout(np.concatenate(pieces, axis=1), layout)
            if planar.shape[0] == 0 or planar.shape[1] == 0:  # no samples: no state change (the layout is cached)
                return output_in_layout(planar, layout)
            stream = self._streaming(planar.shape[0])
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
            return output_in_layout(self._stream.flush(mono=False), self._stream_layout)

    def reset(self) -> None:
        """Drop all state: the stream, pending output and the cached layout."""
        with self._lock:
            self._stream.reset()
            self._layouts.reset()
