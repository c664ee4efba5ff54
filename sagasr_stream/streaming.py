"""The one stream protocol of the runtime, a series of stages, and resampling as a stage.

Every stateful runtime object (the chunked restorer, the resampler, a series of them) is a :class:`Stream`:

- ``process(planar)``: (channels, n) float32 in -> (channels, m) float32 out, whatever is due;
- ``flush()``: end the stream, return every remaining sample, and start over (as after :meth:`reset`);
- ``reset()``: drop all state;
- ``latency_samples``: the fixed delay in output samples: after n input samples in total, exactly
  ``max(0, round(n * ratio) - latency_samples)`` samples have come out (``ratio`` = output rate / input
  rate, 1 for every stage but a resampler);
- ``channels``: the channel count of the planar blocks.

Stages take planar float32 blocks only; numpy 1-D and pedalboard (samples, channels) layouts are decided
by the adapters at the edge (:mod:`sagasr_stream.validation`).
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
from pedalboard.io import StreamResampler

from .chunking import SampleBuffer, zero_pad_to
from .errors import AudioInputError, ParameterError, ParameterTypeError
from .validation import check_dtype, check_finite, check_positive_int, check_sample_rate, is_whole_number


@runtime_checkable
class Stream(Protocol):
    """A stateful stage on planar (channels, n) float32 blocks; see the module docstring."""

    @property
    def channels(self) -> int: ...

    @property
    def latency_samples(self) -> int: ...

    def process(self, planar: np.ndarray) -> np.ndarray: ...

    def flush(self) -> np.ndarray: ...

    def reset(self) -> None: ...


def run_whole(stream: Stream, planar: np.ndarray) -> np.ndarray:
    """A whole (channels, n) signal through a fresh ``stream``: ``process`` then ``flush``, concatenated."""
    return np.concatenate([stream.process(planar), stream.flush()], axis=1)


def exact_length(samples: int, source_rate: float, target_rate: float) -> int:
    """``round(samples * target_rate / source_rate)``: output samples for ``samples`` input samples."""
    return int(round(samples * target_rate / source_rate))


def empty(channels: int) -> np.ndarray:
    """(channels, 0) float32."""
    return np.zeros((channels, 0), np.float32)


def check_block(planar: np.ndarray, channels: int, name: str = "block") -> np.ndarray:
    """A stage's input: (channels, n) float32 or float64, finite -> C-contiguous float32; anything else raises
    :class:`AudioTypeError` / :class:`AudioInputError` naming the dtype, the shape or the first NaN/Inf (stages
    are public: a block handed to one straight is checked as at any other edge)."""
    array = check_dtype(planar, name)
    if array.ndim != 2 or array.shape[0] != channels:
        raise AudioInputError(f"{name} must have shape ({channels}, samples), got {array.shape}")
    check_finite(array, name)
    return np.ascontiguousarray(array)


class ResampleStage:
    """``pedalboard.io.StreamResampler`` on the stream protocol, with exact lengths.

    (channels, n) float32 at ``source_rate`` -> at ``target_rate`` (Hz). After n input samples exactly
    ``max(0, min(total, round(n * target / source) - latency_samples))`` samples have come out; :meth:`flush`
    completes the stream to ``total`` = ``length`` when given (a signal whose true length at the target rate
    is known, e.g. a file's frames counted at its own rate), else ``round(n * target / source)``: the
    resampler's flush is cut or zero-padded. At equal rates blocks pass through (latency 0).
    Output does not depend on the block sizes. Each channel has its own (mono) StreamResampler, bit-identical
    to one multi-channel resampler, so that blocks of fewer samples than channels are never ambiguous.
    Output sample i is the input at time ``i / ratio`` (input samples), on the target grid: StreamResampler
    compensates whole output samples of its delay only (16 -> 44.1 kHz: 0.4 samples late), so each stream
    starts with :func:`grid_alignment`'s zeros and drops their output.
    """

    def __init__(self, source_rate: float, target_rate: float, channels: int, length: int | None = None) -> None:
        channels = check_positive_int(channels, "channels")
        if length is not None and (not is_whole_number(length) or length < 0):
            raise ParameterError(f"length must be None or a whole number of samples >= 0, got {length!r}")
        self.source_rate = check_sample_rate(source_rate, "source_rate")
        self.target_rate = check_sample_rate(target_rate, "target_rate")
        self._channels = channels
        self.length = None if length is None else int(length)
        self._resamplers: list[list[StreamResampler]] = []  # per channel, the steps of resampling_rates
        self._latency = 0
        self._lead = self._drop = 0  # zeros fed first (input samples), their output dropped (output samples)
        if self.source_rate != self.target_rate:
            path = resampling_rates(self.source_rate, self.target_rate)
            steps = list(zip(path, path[1:]))
            self._resamplers = [[StreamResampler(float(a), float(b), 1) for a, b in steps] for _ in range(channels)]
            delays = [Fraction(r.input_latency) for r in self._resamplers[0]]  # each step's, in its input samples
            # the steps' delays in output samples, rounded up, plus the rounding of round(n * ratio) at each step
            late = sum(d * self.target_rate / a for d, (a, _) in zip(delays, steps))
            self._latency = math.ceil(late) + 1 + len(steps)
            # one step: its delay; more: the delay (input samples) that leaves what the steps leave of theirs (each
            # a fraction of its output sample, StreamResampler compensating whole ones), in output samples at the end
            left = sum((d * b / a - round(d * b / a)) * self.target_rate / b for d, (a, b) in zip(delays, steps))
            delay = delays[0] if len(steps) == 1 else left * self.source_rate / self.target_rate
            self._lead, self._drop = grid_alignment(self.source_rate, self.target_rate, delay)
        self._held = SampleBuffer(channels)
        self.reset()

    def __repr__(self) -> str:
        length = "" if self.length is None else f" length={self.length}"
        return (f"<ResampleStage {self.source_rate} -> {self.target_rate} Hz channels={self._channels} "
                f"latency={self._latency} samples{length}>")

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def latency_samples(self) -> int:
        """Fixed delay in output samples (0 at equal rates)."""
        return self._latency

    @property
    def ratio(self) -> float:
        """Output samples per input sample."""
        return self.target_rate / self.source_rate

    def _cap(self, n: int) -> int:
        return n if self.length is None else min(n, self.length)

    def process(self, planar: np.ndarray) -> np.ndarray:
        """Resampled samples that are due (see the class docstring)."""
        planar = check_block(planar, self._channels)
        if planar.shape[1]:
            self._in += planar.shape[1]
            self._hold(self._resample(planar) if self._resamplers else planar)
        due = self._cap(max(0, exact_length(self._in, self.source_rate, self.target_rate) - self._latency)) - self._out
        if due <= 0:
            return empty(self._channels)
        if due > len(self._held):  # StreamResampler's delay is bounded: this never happens
            raise AssertionError(f"internal error: resampler latency above {self._latency} samples")
        self._out += due
        return self._held.pop(due)

    def flush(self) -> np.ndarray:
        """The rest, so that ``total`` samples came out in all; then start over."""
        if self._resamplers and self._in > 0:  # a fresh StreamResampler cannot be flushed
            self._hold(self._resample(None))
        total = self.length if self.length is not None else exact_length(self._in, self.source_rate, self.target_rate)
        rest = zero_pad_to(self._held.pop(max(0, total - self._out)), total - self._out)  # the resampler came out short
        self.reset()
        return rest

    def _resample(self, planar: np.ndarray | None) -> np.ndarray:
        """(channels, n) through the per-channel resamplers; ``None``: their flush (each step's flush runs through
        the steps after it, which are then flushed too)."""
        def run(steps: list[StreamResampler], block: np.ndarray | None) -> np.ndarray:
            for step in steps:
                if block is None:
                    block = step.process()
                elif planar is None:
                    block = np.concatenate([step.process(block), step.process()], axis=1)
                else:
                    block = step.process(block)
            assert block is not None
            return block

        return np.concatenate([run(steps, None if planar is None else planar[c : c + 1])
                               for c, steps in enumerate(self._resamplers)], axis=0)

    def _hold(self, resampled: np.ndarray) -> None:
        """Keep resampled samples, after the output of the alignment zeros."""
        cut = min(self._skip, resampled.shape[1])
        self._skip -= cut
        self._held.append(resampled[:, cut:])

    def reset(self) -> None:
        for steps in self._resamplers:
            for resampler in steps:
                resampler.reset()
        self._held.clear()
        self._in = 0  # input samples of this stream
        self._out = 0  # output samples returned
        self._skip = self._drop
        if self._lead:
            self._hold(self._resample(np.zeros((self._channels, self._lead), np.float32)))


HALVING_ABOVE = 2.5  # a fall in rate by more than this (not a whole ratio) is made in exact halvings first


def resampling_rates(source_rate: int, target_rate: int) -> list[int]:
    """The rates a :class:`ResampleStage` goes through, ``source_rate`` first and ``target_rate`` last. A fall by
    more than :data:`HALVING_ABOVE` that is not a whole ratio halves an even rate first (192 -> 96 -> 44.1 kHz):
    StreamResampler in one step left spurs 64 dB under a tone at 192 -> 44.1 kHz (61 dB at 384 kHz, 71 at 160
    kHz) and let tones above the target's Nyquist through at -36 to -67 dB; halving first, -99 dB and -75 to -91
    dB. The band edge detector read those spurs as band above a low-pass."""
    rates = [source_rate]
    if source_rate % target_rate:
        while rates[-1] > HALVING_ABOVE * target_rate and rates[-1] % 2 == 0:
            rates.append(rates[-1] // 2)
    return rates + [target_rate]


MAX_LEAD = 4096  # input samples of zeros at most, for rate pairs whose exact alignment needs more


def grid_alignment(source_rate: int, target_rate: int, input_latency: float | Fraction) -> tuple[int, int]:
    """(lead, drop): feeding ``lead`` zeros (input samples) before a stream and dropping the first ``drop``
    output samples puts a ``StreamResampler`` (``input_latency`` input samples of delay, compensated in whole
    output samples) on the output grid: exactly when the rate ratio in lowest terms has a denominator up to
    :data:`MAX_LEAD` (every common rate against 44.1 kHz: 16 -> 44.1 kHz, 96 zeros and 265 samples dropped),
    else as near as ``MAX_LEAD`` zeros allow."""
    ratio = Fraction(target_rate, source_rate)
    latency = Fraction(input_latency).limit_denominator(1 << 20)
    offset = latency * ratio - round(latency * ratio)  # what StreamResampler leaves: output samples late
    leads = range(min(MAX_LEAD, ratio.denominator))
    lead = min(leads, key=lambda n: abs(offset + n * ratio - round(offset + n * ratio)))
    return lead, round(offset + lead * ratio)


def resample(planar: np.ndarray, source_rate: float, target_rate: float, length: int | None = None) -> np.ndarray:
    """(channels, n) float32 at ``source_rate`` -> (channels, ``length`` or round(n * target / source)) float32."""
    if source_rate == target_rate and length is None:
        return planar
    return run_whole(ResampleStage(source_rate, target_rate, planar.shape[0], length), planar)


class Series:
    """Stages run one after another, itself a :class:`Stream` (e.g. resample stage -> restore stage).

    ``latency_samples`` is the sum of the stages' latencies, each counted at the last stage's rate
    (a stage's delay is scaled by the rate changes after it and rounded up); it is exact when only the first
    stage changes the rate. :meth:`flush` runs each stage's tail through the stages after it.
    """

    def __init__(self, stages: Sequence[Stream]) -> None:
        if isinstance(stages, Stream) or not isinstance(stages, Sequence):
            raise ParameterTypeError(f"a Series takes a list of stages, got {type(stages).__name__}")
        self.stages = list(stages)
        if not self.stages:
            raise ParameterError("a Series needs at least one stage")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, Stream):
                raise ParameterTypeError(f"stage {i} of the Series is a {type(stage).__name__}, not a stream stage "
                                         "(process, flush, reset, channels, latency_samples)")
        channels = {stage.channels for stage in self.stages}
        if len(channels) != 1:
            raise ParameterError(f"the stages of a Series must have one channel count, got {sorted(channels)}")
        for i, (stage, after) in enumerate(zip(self.stages, self.stages[1:])):
            out, into = stage_rates(stage)[1], stage_rates(after)[0]
            if out is not None and into is not None and out != into:
                raise ParameterError(f"stage {i} of the Series puts out {out} Hz but stage {i + 1} takes {into} Hz: "
                                     "put a ResampleStage between them")

    def __repr__(self) -> str:
        return f"<Series {self.stages!r} latency={self.latency_samples} samples>"

    @property
    def channels(self) -> int:
        return self.stages[0].channels

    @property
    def latency_samples(self) -> int:
        latency = 0
        for stage in self.stages:
            latency = math.ceil(latency * getattr(stage, "ratio", 1.0)) + stage.latency_samples
        return latency

    def process(self, planar: np.ndarray) -> np.ndarray:
        for stage in self.stages:
            planar = stage.process(planar)
        return planar

    def flush(self) -> np.ndarray:
        carry = empty(self.channels)
        for stage in self.stages:
            carry = np.concatenate([stage.process(carry), stage.flush()], axis=1)
        return carry

    def reset(self) -> None:
        for stage in self.stages:
            stage.reset()


def stage_rates(stage: object) -> tuple[int | None, int | None]:
    """(input rate, output rate) of a stage, in Hz, where it names them (None: it does not): a
    :class:`ResampleStage`'s source and target, a :class:`Series`' first input and last output, else a whole
    ``sample_rate`` attribute (a restore or effect stage's, the same in and out)."""
    if isinstance(stage, ResampleStage):
        return stage.source_rate, stage.target_rate
    if isinstance(stage, Series):
        return stage_rates(stage.stages[0])[0], stage_rates(stage.stages[-1])[1]
    rate = getattr(stage, "sample_rate", None)
    return (int(rate), int(rate)) if is_whole_number(rate) else (None, None)
