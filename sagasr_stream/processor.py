"""The chunked processor shared by the offline API and the streaming object.

It buffers input, cuts windows as soon as their samples are in, hands them to a window function in groups,
overlap-adds the results and returns every sample that no later window can change.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .chunking import OverlapAdd, SampleBuffer, WindowPlan
from .engine import WindowFn, WindowJob
from .errors import ParameterError


class ChunkedProcessor:
    """(channels, samples) float32 in, restored (channels, samples) out, in any block sizes.

    ``windows_per_call``: windows (per channel) gathered before calling ``window_fn``; larger groups mean
    bigger batches and more latency, never a different result. ``on_windows(n)`` reports progress.
    """

    def __init__(
        self,
        window_fn: WindowFn,
        plan: WindowPlan,
        channels: int,
        windows_per_call: int = 1,
        on_windows: Callable[[int], None] | None = None,
    ) -> None:
        if windows_per_call < 1:
            raise ParameterError(f"windows_per_call must be >= 1, got {windows_per_call}")
        self.window_fn = window_fn
        self.plan = plan
        self.channels = channels
        self.windows_per_call = windows_per_call
        self.on_windows = on_windows
        self._input = SampleBuffer(channels)
        self._ola = OverlapAdd(plan, channels)
        self.total_in = 0

    @property
    def latency(self) -> int:
        """Samples of input after which output sample 0 is certain to be final: the fixed stream latency."""
        return self.plan.window - 1 + (self.windows_per_call - 1) * self.plan.hop

    def reset(self) -> None:
        self._input.clear()
        self._ola.reset()
        self.total_in = 0

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
        jobs = []
        for k in range(first, first + count):
            block = self._input.read(k * hop, k * hop + window)
            jobs.extend(WindowJob(c, k, block[c]) for c in range(self.channels))
        results = self.window_fn(jobs)
        pieces = []
        for i in range(count):
            output = np.stack(results[i * self.channels : (i + 1) * self.channels])
            pieces.append(self._ola.add(output))
        self._input.discard((first + count) * hop - self._input.offset)
        if self.on_windows:
            self.on_windows(count)
        return np.concatenate(pieces, axis=1)

    def push(self, block: np.ndarray) -> np.ndarray:
        """Append (channels, n) samples; return the samples finalised by them (possibly none)."""
        self._input.append(block)
        self.total_in += block.shape[1]
        pieces = [np.zeros((self.channels, 0), dtype=np.float32)]
        while self._complete_windows() >= self.windows_per_call:
            pieces.append(self._run(self.windows_per_call))
        return np.concatenate(pieces, axis=1)

    def finish(self) -> np.ndarray:
        """Process the remaining (zero-padded) windows; return the rest so that output length == input length.

        The processor is reset afterwards.
        """
        total = self.total_in
        emitted = self._ola.finalised
        pieces = [np.zeros((self.channels, 0), dtype=np.float32)]
        if total > 0:
            remaining = self.plan.n_windows(total) - self._ola.next_window
            while remaining > 0:
                count = min(remaining, self.windows_per_call)
                pieces.append(self._run(count))
                remaining -= count
            pieces.append(self._ola.finish(total))
        out = np.concatenate(pieces, axis=1)[:, : max(0, total - emitted)]
        self.reset()
        return out
