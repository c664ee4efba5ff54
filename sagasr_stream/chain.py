"""A chain of native pedalboard plugins and Python effects (such as BandwidthExtension), in any order.

``pedalboard.Pedalboard`` accepts only native plugins, so :class:`Chain` groups consecutive native plugins
into ``Pedalboard`` segments (they run in C++ without the GIL) and calls segments and Python effects in
order, with the same call contract as a pedalboard plugin.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pedalboard

from .errors import AudioInputError, ParameterError, ParameterTypeError
from .validation import (
    Layout, LayoutTracker, check_bool, check_buffer_size, check_sample_rate, output_in_layout, planar_input,
    to_channels_first,
)


def _is_python_effect(item: object) -> bool:
    return all(callable(getattr(item, name, None)) for name in ("process", "reset", "flush")) and bool(
        getattr(item, "is_effect", False)
    )


def _instances(item: object) -> Iterator[object]:
    """``item`` and every plugin nested in it: in a native container (Pedalboard, Chain, Mix) or in one of ours."""
    yield item
    if isinstance(item, pedalboard.PluginContainer):
        for child in item:
            yield from _instances(child)
    elif isinstance(item, Chain):
        for child in item.plugins:
            yield from _instances(child)


def _planar(out: np.ndarray, layout: Layout) -> np.ndarray:
    """A stage's output in the chain's ``layout`` (decided once per buffer by :func:`planar_input`) ->
    (channels, samples) float32."""
    return to_channels_first(np.asarray(out, dtype=np.float32), layout)


class Chain:
    """Apply ``plugins`` in order. Native plugins and Python effects may be mixed freely.

    ``process(input_array, sample_rate, buffer_size=8192, reset=True)``:
    - ``reset=True``: every stage processes the whole buffer with its own latency compensation, so every
      stage's output is same-length and time-aligned; equals applying the stages one by one.
    - ``reset=False``: streaming; a stage with latency returns fewer samples, which are passed on as they
      are; :meth:`flush` flushes the stages in order (each tail runs through the stages after it).
    The same instance may appear only once (also inside native containers). Calls hold a per-chain lock. Keep
    ``buffer_size`` fixed during a stream: native plugins re-prepare (and lose their state) when given larger
    blocks than at its start. Native plugins with internal latency (Resample, MP3Compressor, ...) report none
    to Python and have no flush: with ``reset=False`` they return fewer samples and their tail is lost.
    Input is checked (dtype, shape, NaN/Inf, sample rate, ``buffer_size``, ``reset`` True or False) before any
    stage runs, so a rejected buffer leaves a stream intact.
    """

    is_effect = True
    is_instrument = False

    def __init__(self, plugins: Sequence[Any]) -> None:
        if isinstance(plugins, (pedalboard.Plugin, str, bytes)) or _is_python_effect(plugins) \
                or not isinstance(plugins, Iterable):
            raise ParameterTypeError(f"a Chain takes a list of plugins, got {type(plugins).__name__} "
                                     "(one plugin: Chain([plugin]))")
        items = list(plugins)
        seen: set[int] = set()
        for i, item in enumerate(items):
            for instance in _instances(item):
                if id(instance) in seen:
                    raise ParameterError(
                        f"plugin {instance!r} (position {i}) appears twice in the chain; use separate instances"
                    )
                seen.add(id(instance))
            if isinstance(item, pedalboard.Plugin):
                if getattr(item, "is_instrument", False):
                    raise ParameterError(f"{item!r} is an instrument; a chain takes effects only")
            elif not _is_python_effect(item):
                raise ParameterTypeError(
                    f"{item!r} (position {i}) is neither a pedalboard plugin nor an effect with process/reset/flush"
                )
        self.plugins = items
        self.stages: list[Any] = []  # pedalboard.Pedalboard segments and Python effects
        for native, group in itertools.groupby(items, lambda item: isinstance(item, pedalboard.Plugin)):
            self.stages.extend([pedalboard.Pedalboard(list(group))] if native else group)
        self._lock = threading.Lock()
        self._layouts = LayoutTracker()
        self._layout: Layout = "mono"
        self._channels = 1
        self._sample_rate: float | None = None
        self._buffer_size = 8192
        self._streaming = False  # a reset=False stream is in progress

    def __repr__(self) -> str:
        return f"<Chain {self.plugins!r}>"

    @property
    def reported_latency_samples(self) -> int:
        """Sum of the stages' reported latencies (streaming delay in samples)."""
        return int(sum(getattr(p, "reported_latency_samples", 0) for p in self.plugins))

    def latency_at(self, sample_rate: float) -> int:
        """:attr:`reported_latency_samples` of a ``reset=False`` stream at ``sample_rate``: each stage's
        ``latency_at`` where it has one (the latency of :class:`~sagasr_stream.effect.BandwidthExtension`
        depends on the rate), else its reported latency."""
        return int(sum(p.latency_at(sample_rate) if hasattr(p, "latency_at")
                       else getattr(p, "reported_latency_samples", 0) for p in self.plugins))

    def check_rate(self, sample_rate: object, reset: bool = True) -> int:
        """``sample_rate`` as an int if this chain can process it now: that of a stream in progress (with
        ``reset=False``), one every Python effect with a ``check_rate`` takes (a nested Chain too, so its refusal
        comes before any stage runs), and the fixed rate (``sample_rate`` attribute) of any other. Raises
        :class:`AudioInputError` naming the rates."""
        rate = check_sample_rate(sample_rate)
        if not reset and self._streaming and rate != self._sample_rate:
            raise AudioInputError(f"a {self._sample_rate} Hz stream is in progress; got {rate} Hz: call flush() or "
                                  "reset() before changing the rate")
        for stage in self.stages:
            if callable(getattr(stage, "check_rate", None)):
                stage.check_rate(rate, reset)
                continue
            expected = getattr(stage, "sample_rate", None)
            if isinstance(expected, (int, np.integer)) and expected != rate:
                raise AudioInputError(
                    f"{stage!r} runs at {expected} Hz; got {rate} Hz. Resample first (pedalboard.io), or for "
                    "low-rate input use sagasr_stream.upsample.upsample() or StreamingUpsampler"
                )
        return rate

    def _run(self, stage: Any, planar: np.ndarray, sample_rate: float, buffer_size: int, reset: bool) -> np.ndarray:
        """One stage on (channels, n) audio in the chain's layout -> (channels, m)."""
        layout, channels = self._layout, planar.shape[0]
        if layout != "mono" and channels > 1 and planar.shape[1] <= channels:
            # (2, 1) could be read as one channel of two samples: an empty buffer tells the stage the layout
            empty = output_in_layout(np.zeros((channels, 0), np.float32), layout)
            stage.process(empty, sample_rate, buffer_size=buffer_size, reset=reset)
        out = stage.process(output_in_layout(planar, layout), sample_rate, buffer_size=buffer_size, reset=reset)
        return _planar(out, layout)

    def _prepare_native(self, sample_rate: float, buffer_size: int) -> None:
        """Before a stream: make each native segment allocate for ``buffer_size`` blocks, then reset it.

        A native plugin re-prepares, losing its state, when a block is larger than any it was prepared for;
        a stream's blocks vary in size (an effect with latency returns fewer samples at first).
        """
        zeros = output_in_layout(np.zeros((self._channels, buffer_size), np.float32), self._layout)
        for stage in self.stages:
            if isinstance(stage, pedalboard.Plugin):
                stage.process(zeros, sample_rate, buffer_size=buffer_size, reset=True)
                stage.reset()

    def process(
        self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
    ) -> np.ndarray:
        """Run the chain; float32 output in the input's layout (see the class docstring)."""
        buffer_size = check_buffer_size(buffer_size)
        reset = check_bool(reset, "reset")
        with self._lock:
            self.check_rate(sample_rate, reset)
            cached = self._layouts.layout, self._layouts.channels
            planar, layout = planar_input(input_array, self._layouts)
            if not reset and self._streaming and planar.shape[0] != self._channels:
                self._layouts.layout, self._layouts.channels = cached  # a rejected buffer changes nothing
                raise AudioInputError(f"a {self._channels}-channel stream is in progress; got {planar.shape[0]} "
                                      "channel(s): call flush() or reset() before changing the channel count")
            if not self.stages and np.shares_memory(planar, input_array):
                planar = planar.copy()  # an empty chain returns a new array, as every stage does
            self._layout, self._channels = layout, planar.shape[0]
            self._sample_rate, self._buffer_size = sample_rate, buffer_size
            if not reset and not self._streaming:
                self._prepare_native(sample_rate, buffer_size)
            self._streaming = not reset
            for stage in self.stages:
                planar = self._run(stage, planar, sample_rate, buffer_size, reset)
            return output_in_layout(planar, layout)

    __call__ = process

    def flush(self) -> np.ndarray:
        """End a ``reset=False`` stream: each Python effect's tail is run through the stages after it."""
        with self._lock:
            carry = np.zeros((self._channels, 0), np.float32)
            for stage in self.stages:
                if carry.shape[1] and self._sample_rate is not None:
                    carry = self._run(stage, carry, self._sample_rate, self._buffer_size, False)
                if not isinstance(stage, pedalboard.Plugin):
                    carry = np.concatenate([carry, _planar(stage.flush(), self._layout)], axis=1)
            for stage in self.stages:
                if isinstance(stage, pedalboard.Plugin):
                    stage.reset()
            self._streaming = False
            return output_in_layout(carry, self._layout)

    def reset(self) -> None:
        """Reset every stage and forget the cached layout."""
        with self._lock:
            for stage in self.stages:
                stage.reset()
            self._layouts.reset()
            self._streaming = False
