"""The chunked processor: the restore stage of every path (offline, file, stream, effect, live).

It buffers input, cuts windows as soon as their samples are in, hands them to a window function in groups and
overlap-adds the results. :meth:`ChunkedProcessor.push` / :meth:`~ChunkedProcessor.finish` return every sample
as soon as no later window can change it; :meth:`~ChunkedProcessor.process` / :meth:`~ChunkedProcessor.flush`
are the stream protocol (:mod:`sagasr_stream.streaming`), with the latency gate: after n input samples
exactly ``max(0, n - latency_samples)`` have come out.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .bandlimit import BandLimitTracker, SignalBandLimit
from .chunking import OverlapAdd, SampleBuffer, WindowPlan, pad_past_end
from .engine import WindowFn, WindowJob
from .errors import ParameterError
from .streaming import check_block, empty


def restore_window_group(
    window_fn: WindowFn,
    overlap_add: OverlapAdd,
    indices: range,
    read: Callable[[int], np.ndarray],
    channels: int,
    limits: Callable[[int], Sequence[SignalBandLimit | None]] | None = None,
    total: int | None = None,
) -> list[np.ndarray]:
    """Restore windows ``indices`` with one ``window_fn`` call and overlap-add them in order.

    ``read(k)``: window k's input, (channels, window) float32; ``limits(k)``: each channel's band limit up to
    window k's end (:mod:`sagasr_stream.bandlimit`; ``None``: each window alone); ``total``: the signal's
    length, when known: a window reaching past it is filled there by :func:`~.chunking.pad_past_end` and its
    band edge sees its signal samples only. Returns each window's finalised samples
    (channels, n) from :meth:`OverlapAdd.add`. The one place windows become jobs and results become output, so
    every path (streams, files, Ray segments) does the same arithmetic in the same order."""
    jobs: list[WindowJob] = []
    for k in indices:
        block, window_limits = read(k), limits(k) if limits else [None] * channels
        start = k * overlap_add.plan.hop
        valid = total - start if total is not None and total - start < block.shape[1] else None
        if valid is not None:
            block = pad_past_end(block, valid)
        jobs.extend(WindowJob(c, k, block[c], signal_limit=window_limits[c], valid=valid) for c in range(channels))
    results = window_fn(jobs)
    return [overlap_add.add(np.stack(results[i * channels : (i + 1) * channels])) for i in range(len(indices))]


class ChunkedProcessor:
    """(channels, samples) float32 in, restored (channels, samples) out, in any block sizes; a stream stage.

    ``windows_per_call``: windows (per channel) gathered before calling ``window_fn``; larger groups mean
    bigger batches and more latency, never a different result. ``on_windows(n)`` reports progress.
    Each window gets its channels' band limits so far (:mod:`sagasr_stream.bandlimit`; ``downmix_limits``: of
    their mean, for the "mono" stereo mode; with ``slopes``, the mean slope of the windows so far for a DiT with
    the slope condition). ``sample_rate``: the rate its blocks are at (Hz; the model's), when known.
    """

    def __init__(
        self,
        window_fn: WindowFn,
        plan: WindowPlan,
        channels: int,
        windows_per_call: int = 1,
        on_windows: Callable[[int], None] | None = None,
        downmix_limits: bool = False,
        source_floor: float = 0.0,
        sample_rate: int | None = None,
        slopes: bool = False,
    ) -> None:
        if windows_per_call < 1:
            raise ParameterError(f"windows_per_call must be >= 1, got {windows_per_call}")
        self.window_fn = window_fn
        self.plan = plan
        self._channels = channels
        self.windows_per_call = windows_per_call
        self.on_windows = on_windows
        self.sample_rate = sample_rate
        self._input = SampleBuffer(channels)
        self._limits = BandLimitTracker(plan, channels, downmix_limits, source_floor, slopes)
        self._ola = OverlapAdd(plan, channels)
        self._final = SampleBuffer(channels)  # finalised samples the latency gate holds back
        self._returned = 0  # samples returned by process() in this stream
        self.total_in = 0

    def __repr__(self) -> str:
        return (f"<ChunkedProcessor window={self.plan.window} overlap={self.plan.overlap} channels={self._channels} "
                f"windows_per_call={self.windows_per_call} latency={self.latency_samples} samples>")

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def latency_samples(self) -> int:
        """Samples of input after which output sample 0 is certain to be final: the fixed stream latency."""
        return self.plan.window - 1 + (self.windows_per_call - 1) * self.plan.hop

    def reset(self) -> None:
        """Drop all state: buffered input, overlap-add tail and held-back output."""
        self._input.clear()
        self._limits.reset()
        self._ola.reset()
        self._final.clear()
        self._returned = 0
        self.total_in = 0

    def process(self, planar: np.ndarray) -> np.ndarray:
        """Feed (channels, n) float32; return exactly the samples due: ``max(0, total_in - latency_samples)``
        in all since the stream began."""
        self._final.append(self.push(check_block(planar, self._channels)))
        due = max(0, self.total_in - self.latency_samples) - self._returned
        out = self._final.pop(due)
        if out.shape[1] != due:
            raise AssertionError("internal error: latency bound violated")
        self._returned += due
        return out

    def flush(self) -> np.ndarray:
        """End the stream: every remaining sample (the output then has the input's length); then reset."""
        rest = self.finish()
        held = self._final.pop(len(self._final))
        self.reset()
        return np.concatenate([held, rest], axis=1)

    def _complete_windows(self) -> int:
        """Windows from ``next_window`` on whose input is fully available."""
        end = self._input.end
        if end < self.plan.window:
            return 0
        last = (end - self.plan.window) // self.plan.hop
        return max(0, last + 1 - self._ola.next_window)

    def _run(self, count: int) -> np.ndarray:
        first = self._ola.next_window
        hop, window = self.plan.hop, self.plan.window
        end = self._input.end  # after finish() began, the signal's end; before, no window reaches it
        pieces = restore_window_group(
            self.window_fn, self._ola, range(first, first + count),
            lambda k: self._input.read(k * hop, k * hop + window), self._channels, self._limits.limits, end)
        self._input.discard((first + count) * hop - self._input.offset)
        if self.on_windows:
            self.on_windows(count)
        return np.concatenate(pieces, axis=1)

    def push(self, block: np.ndarray) -> np.ndarray:
        """Append (channels, n) samples; return the samples finalised by them (possibly none), ungated."""
        self._input.append(block)
        self._limits.push(block)
        self.total_in += block.shape[1]
        pieces = [empty(self._channels)]
        while self._complete_windows() >= self.windows_per_call:
            pieces.append(self._run(self.windows_per_call))
        return np.concatenate(pieces, axis=1)

    def finish(self) -> np.ndarray:
        """Process the remaining windows (the last one padded past the end, :func:`~.chunking.pad_past_end`);
        return the rest so that the samples returned by :meth:`push` and :meth:`finish` have the input's length.
        Held-back output of :meth:`process` is not included (use :meth:`flush` there). The window state is reset
        afterwards.
        """
        total = self.total_in
        emitted = self._ola.finalised
        pieces = [empty(self._channels)]
        self._limits.end()
        if total > 0:
            remaining = self.plan.n_windows(total) - self._ola.next_window
            while remaining > 0:
                count = min(remaining, self.windows_per_call)
                pieces.append(self._run(count))
                remaining -= count
            pieces.append(self._ola.finish(total))
        out = np.concatenate(pieces, axis=1)[:, : max(0, total - emitted)]
        self._input.clear()
        self._limits.reset()
        self._ola.reset()
        self.total_in = 0
        return out
