"""The band limit of the signal so far, as a help to each window's own band edge.

A window of dark material (nothing loud just below the cutoff) shows no cut in its own spectrum, so on its
own it reads as full band and would pass through unrestored: the restored band would switch off in quiet
passages. The mean spectrum of everything the signal has held up to the window's end shows the cut that its
brighter parts make. :class:`SignalBandLimit` carries that edge and the level above it before the window (a
median over the bins); a window whose own edge reads higher is restored from the signal's edge only when its
own level there is within :data:`GUARD_DB` of that: a cymbal crash in an otherwise dull recording is signal,
and is kept.

The tracker also keeps how dark the signal is so far, for a DiT with the slope condition: the mean of every window's
slope below its band edge up to this one (:attr:`SignalBandLimit.slope_db_per_octave`). One window's slope wanders
with its content and its detected edge; the mean over the windows so far settles, so a dark recording's restored
band does not jump from window to window.

The measure is causal (window k sees samples ``[0, k * hop + window)``, fewer only at the signal's end), so
streams, whole files, the effect and batch segments give every window the same limit, whatever the block size.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .chunking import WindowPlan
from .dsp import N_FFT, _hann, band_edge_from_power
from .errors import ParameterError
from .quantization import floor_for_step, grid_step
from .replication import slope_below_edge

Snapshot = tuple[np.ndarray, int, np.ndarray]  # (signals, bins) power sums, frames, (signals,) grid steps
METER_HOP = N_FFT  # frames side by side: a mean spectrum needs no overlap, and this costs a quarter of hop 512
PUSH_FRAMES = 128  # frames metered at a time: a whole file pushed at once runs in pieces of this many (the same
# floats: the sums and the grid steps run on frame by frame), not through file-sized arrays made afresh
GUARD_DB = 10.0  # a window this far over the signal's earlier level above its edge (medians over bins) is content


@dataclass(frozen=True)
class SignalBandLimit:
    """The band edge of a signal's mean spectrum and what lies above it.

    ``edge_bin``: the edge (bin of an N_FFT-point spectrum). ``power_above``: the median over the bins above it
    of the mean STFT power per bin (frames of N_FFT samples, periodic Hann; float samples): the median, so the
    filter's transition band just above the edge does not count; a window's own median there must exceed it by
    :data:`GUARD_DB` to count as content. ``slope_db_per_octave``: the mean over windows 0..k of each window's
    slope below its band edge (dB/octave; :func:`window_slope_of`), ``None`` where none had an edge.
    """

    edge_bin: int
    power_above: float
    slope_db_per_octave: float | None = None

    def caps(self, window_power_above: np.ndarray) -> np.ndarray:
        """(windows,) median power per bin above the edge -> (windows,) bool: the signal's edge applies."""
        return np.asarray(window_power_above) <= self.power_above * 10.0 ** (GUARD_DB / 10.0)

    def window_edge(self, edge_bin: int, power: np.ndarray) -> int:
        """A window's own edge ``edge_bin`` lowered to this one where it lies higher but the window's mean power per
        bin ``power`` (bins,) holds no more above this edge than the signal did before it: the runtime's edge."""
        if edge_bin > self.edge_bin and self.caps(np.median(power[self.edge_bin :])):
            return self.edge_bin
        return edge_bin


def least_limiting(limits: Sequence[SignalBandLimit | None]) -> SignalBandLimit | None:
    """The limit that caps least of several channels' (for a signal mixed from them): ``None`` if any is."""
    if not limits or any(limit is None for limit in limits):
        return None
    return max(limits, key=lambda limit: (limit.edge_bin, limit.power_above))  # type: ignore[union-attr]


def band_limit_of(
    power_sum: np.ndarray, frames: int, history_sum: np.ndarray, history_frames: int, rounding_floor: float = 0.0
) -> SignalBandLimit | None:
    """The edge of ``frames`` frames whose power per bin sums to ``power_sum`` (bins,), guarded by the median
    power above it in the ``history_frames`` frames summing to ``history_sum`` (bins,); ``None`` when full
    band, silent or without history. ``rounding_floor``: as in :func:`~.dsp.band_edge_from_power`."""
    if frames <= 0 or history_frames <= 0:
        return None
    power = power_sum / frames
    # a shelf under the mean spectrum's band is no junk to leave out here: a sweep's or a bass intro's band so far
    # stands over the recording's own quieter band (its noise, up to its real cut), which a window's own edge keeps
    edge = band_edge_from_power(power, rounding_floor, shelf=False)
    if edge == 0 or edge >= power.size - 1:
        return None
    return SignalBandLimit(edge, float(np.median(history_sum[edge:]) / history_frames))


def window_slope_of(power: np.ndarray, limit: SignalBandLimit | None, rounding_floor: float = 0.0) -> float | None:
    """One window's slope (dB/octave) below its band edge, from its mean power per bin ``power`` (bins,) over the
    meter's frames: at its own edge (:func:`~.dsp.band_edge_from_power`), lowered to the signal's ``limit`` edge
    where the window holds no more above that than the signal did before it (as the runtime's edge is), or at the
    signal's edge where its own search finds none; ``None`` without either (silence, full band). The meter's
    counterpart of :func:`~.replication.window_slope`."""
    edge = band_edge_from_power(power, rounding_floor)
    if limit is not None:
        edge = limit.window_edge(edge, power) if 0 < edge < power.size - 1 else limit.edge_bin
    if not 0 < edge < power.size - 1:
        return None
    return slope_below_edge(power, edge, N_FFT)  # bins as Hz: the same dB per octave


class BandLimitTracker:
    """Each window's band limit from the (channels, samples) signal so far, on the fly.

    Window k's edge comes from the frames up to its end; the level it is guarded against (``power_above``)
    from the frames before its start, so that a burst of real content is not measured against itself (window 0
    has no history, and no limit). Frame j covers samples ``[j * METER_HOP, j * METER_HOP + N_FFT)``; each of
    ``channels`` is measured alone, or, with ``downmix``, their mean (what the "mono" stereo mode restores), whose limit
    then holds for every channel. Feed samples with :meth:`push` (any block sizes); :meth:`limits` gives
    window k's limits once the signal has reached its end (or has ended: :meth:`end`). Frames are summed one
    after another in order, so the floats do not depend on the block sizes. Holds one frame of samples and two
    (channels, bins) sums per window not yet asked for. ``source_floor``: the rounding floor (power per bin) of
    the measured signals when they come from an 8-16-bit source resampled to this rate (of the downmix, with
    ``downmix``: :meth:`~sagasr_stream.restorer.Restorer.window_floor`). Ask for the windows' limits in order: with
    ``slopes`` (for a DiT with the slope condition) each carries the mean slope of the windows so far (window 0,
    which has no limit, counts in it).
    """

    def __init__(self, plan: WindowPlan, channels: int = 1, downmix: bool = False, source_floor: float = 0.0,
                 slopes: bool = False) -> None:
        self.plan = plan
        self.slopes = slopes
        self.channels = channels
        self.downmix = downmix and channels > 1
        self.source_floor = source_floor
        self._window = _hann(N_FFT)
        self.reset()

    def reset(self) -> None:
        self._tail: np.ndarray = np.zeros((0, 0), dtype=np.float64)  # samples from frame self._frames on
        signals = 1 if self.downmix else self.channels
        self._sum = np.zeros((signals, N_FFT // 2 + 1), dtype=np.float64)
        self._step = np.full(signals, np.inf)  # the sample grid of the frames so far (quantization.grid_step)
        self._frames = 0
        # window index -> (power sum, frames, grid step) up to its start / its end; the next window of each without one
        self._starts: dict[int, Snapshot] = {}
        self._ends: dict[int, Snapshot] = {}
        self._next_start = self._next_end = 0
        self._ended = False
        self._slope_sums = np.zeros(signals)  # the windows' slopes so far, summed, and how many had one
        self._slope_counts = np.zeros(signals, dtype=np.int64)
        self._next_limit = 0

    @staticmethod
    def _frames_in(samples: int) -> int:
        """Frames wholly inside [0, samples)."""
        return max(0, (samples - N_FFT) // METER_HOP + 1)

    def _start_frames(self, k: int) -> int:
        return self._frames_in(k * self.plan.hop)

    def _end_frames(self, k: int) -> int:
        return self._frames_in(k * self.plan.hop + self.plan.window)

    def push(self, planar: np.ndarray) -> None:
        """Append (channels, n) float samples."""
        block: np.ndarray = np.asarray(planar, dtype=np.float32)
        if self.downmix:  # the floats of the stereo stage's downmix
            block = np.asarray(np.sum(list(block), axis=0, dtype=np.float32))[None] / np.float32(self.channels)
        block = block.astype(np.float64)
        self._tail = block if self._tail.size == 0 else np.concatenate([self._tail, block], axis=1)
        while (count := min(self._frames_in(self._tail.shape[1]), PUSH_FRAMES)) > 0:
            self._take(count)

    def _take(self, count: int) -> None:
        """Meter the next ``count`` (>= 1) whole frames of the tail: their running power sums and grid steps, the
        snapshots of the windows that start or end among them."""
        frames = self._tail[:, : count * METER_HOP].reshape(self._tail.shape[0], count, N_FFT)  # METER_HOP == N_FFT
        power = np.abs(np.fft.rfft(frames * self._window, axis=-1)) ** 2  # (channels, count, bins)
        sums = np.cumsum(np.concatenate([self._sum[:, None], power], axis=1), axis=1)  # frame by frame, in order
        steps = np.minimum.accumulate(np.concatenate([self._step[:, None], grid_step(frames)], axis=1), axis=1)
        reached = self._frames + count
        while self._start_frames(self._next_start) <= reached:
            at = self._start_frames(self._next_start)
            j = max(0, at - self._frames)
            self._starts[self._next_start] = (sums[:, j].copy(), at, steps[:, j].copy())
            self._next_start += 1
        while self._end_frames(self._next_end) <= reached:
            at = self._end_frames(self._next_end)
            j = max(0, at - self._frames)
            self._ends[self._next_end] = (sums[:, j].copy(), at, steps[:, j].copy())
            self._next_end += 1
        self._sum, self._frames = sums[:, -1].copy(), reached  # copies: a view would hold all of ``sums``
        self._step = steps[:, -1].copy()
        self._tail = self._tail[:, count * METER_HOP :]

    def end(self) -> None:
        """The signal has ended: windows reaching past it see all its frames."""
        self._ended = True

    def _snapshot(self, taken: dict[int, Snapshot], next_k: int, k: int) -> Snapshot:
        if k in taken:
            return taken.pop(k)
        if self._ended and k >= next_k:
            return self._sum, self._frames, self._step
        raise ParameterError(f"the band limit of window {k} is not known yet: its samples have not all come")

    def limits(self, k: int) -> list[SignalBandLimit | None]:
        """Window k's limit per channel, forgotten afterwards; raises when not known yet, or when asked out of
        order (the mean slope runs over the windows in order)."""
        if k != self._next_limit:
            raise ParameterError(f"band limits are given window by window in order: window {self._next_limit} "
                                 f"is next, not {k}")
        before, frames_before, _ = self._snapshot(self._starts, self._next_start, k)
        upto, frames_upto, steps = self._snapshot(self._ends, self._next_end, k)
        self._next_limit += 1
        limits = [self._limit(i, u, frames_upto, b, frames_before, floor_for_step(float(step), self.source_floor))
                  for i, (u, b, step) in enumerate(zip(upto, before, steps))]
        return limits * self.channels if self.downmix else limits

    def _limit(self, signal: int, upto: np.ndarray, frames_upto: int, before: np.ndarray, frames_before: int,
               floor: float) -> SignalBandLimit | None:
        """One signal's limit for the next window, with the mean slope of the windows so far (this one's added)."""
        limit = band_limit_of(upto, frames_upto, before, frames_before, floor)
        if not self.slopes:
            return limit
        own_frames = frames_upto - frames_before
        slope = window_slope_of((upto - before) / own_frames, limit, floor) if own_frames > 0 else None
        if slope is not None:
            self._slope_sums[signal] += slope
            self._slope_counts[signal] += 1
        if limit is None or self._slope_counts[signal] == 0:
            return limit
        return replace(limit, slope_db_per_octave=float(self._slope_sums[signal] / self._slope_counts[signal]))


def window_limits(planar: np.ndarray, plan: WindowPlan, downmix: bool = False, source_floor: float = 0.0,
                  slopes: bool = False) -> list[list[SignalBandLimit | None]]:
    """Every window's limits per channel for a whole (channels, samples) signal (``plan.n_windows`` of them)."""
    tracker = BandLimitTracker(plan, planar.shape[0], downmix, source_floor, slopes)
    tracker.push(planar)
    tracker.end()
    return [tracker.limits(k) for k in range(plan.n_windows(planar.shape[1]))]
