"""Window-aligned segments of one long file: restored apart (on any worker), stitched back bit for bit.

A file of ``frames`` samples at the model's rate is restored as windows 0 .. n-1 (:class:`WindowPlan`); the
single-process restore (``Restorer.stream(channels, None)``, a :class:`~sagasr_stream.processor.ChunkedProcessor`)
runs them in groups of ``per_call`` windows that start at multiples of ``per_call`` (the DiT batches follow the groups), and output
samples ``[k * hop, (k + 1) * hop)`` are window k's head cross-faded with window k-1's tail.

A :class:`Segment` owns windows ``[first, stop)`` (both multiples of ``per_call``, or ``stop`` = n) and emits
exactly output samples ``[first * hop, stop * hop)`` (the last segment: up to ``frames``). It recomputes the
group before ``first`` (same windows, same batch, same position-keyed noise, so the same floats) only for
window ``first - 1``'s tail, and cross-fades with the same arithmetic in the same order: the concatenated
segments equal the single-process output exactly.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..audio_io import check_finite_block
from ..bandlimit import SignalBandLimit
from ..chunking import OverlapAdd, WindowPlan
from ..processor import restore_window_group
from ..restorer import Restorer, offline_windows_per_call


@dataclass(frozen=True)
class Segment:
    """Windows ``[first, stop)`` of a file of ``frames`` model-rate samples cut into ``total`` windows."""

    first: int
    stop: int
    total: int
    frames: int

    @property
    def is_last(self) -> bool:
        return self.stop == self.total

    def output_range(self, plan: WindowPlan) -> tuple[int, int]:
        """The model-rate output samples [start, stop) this segment emits."""
        return self.first * plan.hop, self.frames if self.is_last else self.stop * plan.hop

    def computed_windows(self, per_call: int) -> range:
        """The windows it restores: its own, plus the whole group before them (for window first-1's tail)."""
        return range(max(0, self.first - per_call), self.stop)

    def input_range(self, plan: WindowPlan, per_call: int) -> tuple[int, int]:
        """The model-rate input samples [start, stop) it reads (``stop`` may pass ``frames``: the last window
        mirrors the file there)."""
        windows = self.computed_windows(per_call)
        return windows.start * plan.hop, (windows.stop - 1) * plan.hop + plan.window


def plan_segments(frames: int, plan: WindowPlan, per_call: int, windows_per_segment: int) -> list[Segment]:
    """Cut a file of ``frames`` samples into segments of about ``windows_per_segment`` windows (rounded up to a
    multiple of ``per_call``); one segment when the file is shorter."""
    total = plan.n_windows(frames)
    size = max(per_call, math.ceil(windows_per_segment / per_call) * per_call)
    return [Segment(first, min(first + size, total), total, frames) for first in range(0, total, size)]


def restore_segment(
    restorer: Restorer,
    segment: Segment,
    audio: np.ndarray,
    band_limit_hz: float | None = None,
    source: object = "input",
    limits: Sequence[Sequence[SignalBandLimit | None]] | None = None,
    source_floor: float = 0.0,
) -> np.ndarray:
    """Restore one segment with ``restorer.window_fn(band_limit_hz, channels)``; ``limits``: every window's
    band limit per channel, measured over the file from its start (:func:`~..bandlimit.window_limits`, as a
    single pass measures them on the way; ``None``: each window alone); ``source_floor``: the rounding floor of
    a resampled integer source (:func:`~sagasr_stream.quantization.resampled_floor`). ``audio``: (channels, n) float32
    model-rate input from sample ``segment.input_range(...)[0]`` on (shorter is zero-padded; the last window is
    filled past the file's end as in a single pass, see :func:`~..processor.restore_window_group`). Returns
    (channels, output stop - output start) float32; raises :class:`AudioFileError` on NaN/Inf input."""
    channels = audio.shape[0]
    plan = restorer.plan
    per_call = offline_windows_per_call(restorer.settings, channels)
    start, stop = segment.input_range(plan, per_call)
    if audio.shape[1] < stop - start:
        audio = np.pad(audio, ((0, 0), (0, stop - start - audio.shape[1])))
    check_finite_block(audio, source)
    window_fn = restorer.window_fn(band_limit_hz, channels, source_floor)
    overlap_add = OverlapAdd(plan, channels)
    windows = segment.computed_windows(per_call)
    pieces = [np.zeros((channels, 0), np.float32)]

    def read(k: int) -> np.ndarray:
        return audio[:, k * plan.hop - start : k * plan.hop - start + plan.window]

    for group in range(windows.start, windows.stop, per_call):
        indices = range(group, min(group + per_call, windows.stop))
        heads = restore_window_group(window_fn, overlap_add, indices, read, channels,
                                     None if limits is None else limits.__getitem__, segment.frames)
        pieces += [head for k, head in zip(indices, heads) if k >= segment.first]
    if segment.is_last:
        overlap_add.finalised = segment.total * plan.hop
        pieces.append(overlap_add.finish(segment.frames))
    out_start, out_stop = segment.output_range(plan)
    return np.concatenate(pieces, axis=1)[:, : out_stop - out_start]
