"""Restoring at the model's rate while answering at the input's own rate, with the input itself kept.

A 48 or 96 kHz input is restored at the model's rate (44.1 kHz). Resampling the restored signal back would
put the whole input through two resamplers: the kept band comes out filtered twice (before the resample stage
was put on the output grid, also shifted by a fraction of a sample: -0.56 samples at 48 kHz, +1.19 at 96 kHz,
round trip), and everything above 22.05 kHz is gone. Here only the restorer's change goes back:

    output = input + up(restored - down(input))

so a window the restorer leaves alone (a full-band window, the band below the edge) comes out bit for bit,
and what the input holds above the model's Nyquist stays. ``down(input)`` is exactly what the restorer saw.
"""
from __future__ import annotations

import math

import numpy as np

from .chunking import SampleBuffer, zero_pad_to
from .streaming import ResampleStage, Stream, check_block, empty


class SourceKeeper:
    """``source + up(difference)``, sample by sample: the restorer's change at the model's rate (pushed with
    :meth:`process`) resampled to the source's rate and added to the source's own samples (pushed with
    :meth:`feed_source`, at least as far as the output that is due).

    ``length``: the output's exact total (the source's frames), as in :class:`ResampleStage`; a source that
    comes out short of it (a truncated file) is zero-padded. ``None`` (a stream): as many as were fed.
    """

    def __init__(self, model_rate: int, source_rate: int, channels: int, length: int | None = None) -> None:
        self.length = length
        self.up = ResampleStage(model_rate, source_rate, channels, length)
        self.source = SampleBuffer(channels)
        self.source_fed = 0  # source samples fed since the last reset

    @property
    def channels(self) -> int:
        return self.up.channels

    def feed_source(self, planar: np.ndarray) -> None:
        """Append (channels, n) float32 source samples (any block sizes)."""
        self.source.append(planar)
        self.source_fed += planar.shape[1]

    def process(self, difference: np.ndarray) -> np.ndarray:
        """(channels, n) model-rate change -> the output samples that are due (source rate)."""
        return self._add(self.up.process(difference))

    def flush(self) -> np.ndarray:
        """The rest of the output (its ``length``, or the source samples fed, in all); then start over."""
        self.up.length = self.source_fed if self.length is None else self.length
        out = self._add(self.up.flush())
        self.up.length = self.length
        self.reset()
        return out

    def _add(self, change: np.ndarray) -> np.ndarray:
        n = change.shape[1]
        return zero_pad_to(self.source.pop(n), n) + change  # zeros where the source ended short of its length

    def reset(self) -> None:
        self.up.reset()
        self.source.clear()
        self.source_fed = 0


class SourceRateRestore:
    """A :class:`~sagasr_stream.streaming.Stream`: (channels, n) float32 at the source's rate -> restored at
    the same rate, as ``down`` (source -> model rate) -> ``restore`` (at the model's rate) -> the change only,
    back up and added to the input (see the module docstring). Block sizes do not change the output.

    After n input samples exactly ``max(0, n - latency_samples)`` have come out (the two resamplers' rounding
    moves their own count by a sample or two; the surplus is held back), so the latency a host compensates is
    exact; :meth:`flush` returns the rest."""

    def __init__(self, down: ResampleStage, restore: Stream, length: int | None = None) -> None:
        self.down, self.restore = down, restore
        self.keeper = SourceKeeper(down.target_rate, down.source_rate, down.channels, length)
        self.model_input = SampleBuffer(down.channels)  # what the restorer was given, until its output is due
        self.ready = SampleBuffer(down.channels)  # output made but not yet due
        self._out = 0  # output samples returned since the last reset
        up = self.keeper.up  # each resampler rounds its count by up to half a sample: one more at each rate
        model_rate_delay = down.latency_samples + restore.latency_samples + 1
        self._latency = up.latency_samples + math.ceil(model_rate_delay * up.ratio) + 1

    def __repr__(self) -> str:
        return (f"<SourceRateRestore at {self.down.source_rate} Hz (restored at {self.down.target_rate} Hz) "
                f"channels={self.channels} latency={self.latency_samples} samples>")

    @property
    def channels(self) -> int:
        return self.down.channels

    @property
    def sample_rate(self) -> int:
        """The rate of the blocks in and out (Hz): the source's."""
        return self.down.source_rate

    @property
    def total_in(self) -> int:
        """Input samples pushed since the last reset or flush (0: no stream in progress)."""
        return self.keeper.source_fed

    @property
    def latency_samples(self) -> int:
        """A bound on the chain's delay (samples at the source's rate): the model-rate delay plus one carried up,
        rounded up, plus the up stage's own plus one."""
        return self._latency

    @property
    def window_samples(self) -> int | None:
        """The restorer's window (its ``plan``), counted at the source's rate; None if it has no plan."""
        window = getattr(getattr(self.restore, "plan", None), "window", None)
        return None if window is None else math.ceil(window * self.keeper.up.ratio)

    def process(self, planar: np.ndarray) -> np.ndarray:
        planar = check_block(planar, self.channels)
        self.keeper.feed_source(planar)
        self.ready.append(self.keeper.process(self._change(self.down.process(planar))))
        due = max(0, self.keeper.source_fed - self._latency) - self._out
        if due > len(self.ready):  # latency_samples bounds the delay: this never happens
            raise AssertionError(f"internal error: delay above {self._latency} samples")
        self._out += due
        return self.ready.pop(due)

    def flush(self) -> np.ndarray:
        tail = self.down.flush()
        change = np.concatenate([self._change(tail), self._change(None)], axis=1)
        self.ready.append(self.keeper.process(change))
        self.ready.append(self.keeper.flush())
        out = self.ready.pop(len(self.ready))
        self.reset()
        return out

    def _change(self, model_rate: np.ndarray | None) -> np.ndarray:
        """Restored minus given, for what the restorer returns now (``None``: its flush)."""
        if model_rate is None:
            restored = self.restore.flush()
        else:
            self.model_input.append(model_rate)
            restored = self.restore.process(model_rate)
        if restored.shape[1] == 0:
            return empty(self.channels)
        return restored - zero_pad_to(self.model_input.pop(restored.shape[1]), restored.shape[1])

    def reset(self) -> None:
        self.down.reset()
        self.restore.reset()
        self.keeper.reset()
        self.model_input.clear()
        self.ready.clear()
        self._out = 0
