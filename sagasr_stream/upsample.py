"""Low-rate input: resample to the model's rate (pedalboard.io) and restore, whole or streamed.

:class:`StreamingUpsampler` is modelled on ``pedalboard.io.StreamResampler``: ``process(chunk)`` returns what
is ready, ``process()`` (or :meth:`flush`) returns the rest, ``reset()`` starts over.
"""
from __future__ import annotations

import numpy as np
from pedalboard.io import StreamResampler

from .api import restore_planar, source_band_limit
from .audio_io import resample
from .chunking import SampleBuffer
from .errors import AudioInputError, ParameterError
from .model import SagaSRModel
from .settings import RestoreSettings
from .stream import StreamingRestorer
from .validation import Layout, check_dtype, check_finite, check_sample_rate, from_channels_first, prepare_audio


def upsample(
    audio: np.ndarray,
    sample_rate: float,
    model: SagaSRModel | None = None,
    settings: RestoreSettings | None = None,
    layout: Layout | None = None,
) -> np.ndarray:
    """Resample ``audio`` from ``sample_rate`` to the model's rate (44.1 kHz) and restore its top band.

    Like :func:`sagasr_stream.restore`, but the output always has exactly
    ``round(samples * 44100 / sample_rate)`` samples (the resampled signal is zero-padded if the resampler
    comes out short). The input's band edge is the source rate's Nyquist, or the detected edge when lower. float32, in the input's layout; equals the total output of :class:`StreamingUpsampler`.
    """
    rate = check_sample_rate(sample_rate)
    planar, layout = prepare_audio(audio, layout)
    model = model or SagaSRModel.load()
    target = model.manifest.sample_rate
    resampled = resample(planar, rate, target)
    short = expected_output_length(planar.shape[1], rate, target) - resampled.shape[1]
    if short > 0:
        resampled = np.pad(resampled, ((0, 0), (0, short)))
    limit = source_band_limit(rate, target)
    return from_channels_first(restore_planar(resampled, model, settings, limit), layout)


def expected_output_length(input_samples: int, source_rate: float, target_rate: float) -> int:
    """Output samples for ``input_samples`` at ``source_rate`` (the rule of :func:`upsample`)."""
    return int(round(input_samples * target_rate / source_rate))


class StreamingUpsampler:
    """(num_channels, samples) float32 chunks at ``source_sample_rate`` -> restored chunks at the model's rate.

    The output, concatenated with the flush, equals :func:`upsample` of the concatenated input. Resampled
    samples are held back until they are certain to be inside the final (rounded) length, so the model
    never sees the resampler's flush overshoot.
    """

    def __init__(
        self,
        source_sample_rate: float,
        num_channels: int,
        model: SagaSRModel | None = None,
        settings: RestoreSettings | None = None,
        windows_per_call: int = 1,
    ) -> None:
        if isinstance(num_channels, bool) or not isinstance(num_channels, int) or num_channels < 1:
            raise ParameterError(f"num_channels must be a positive integer, got {num_channels!r}")
        self.source_sample_rate = check_sample_rate(source_sample_rate)
        self.num_channels = num_channels
        model = model or SagaSRModel.load()
        self.target_sample_rate = model.manifest.sample_rate
        limit = source_band_limit(self.source_sample_rate, self.target_sample_rate)
        self.restorer = StreamingRestorer(model, settings, num_channels, windows_per_call, limit)
        self._resampler: StreamResampler | None = None  # None: same rate, passed through (as upsample() does)
        if self.source_sample_rate != self.target_sample_rate:
            self._resampler = StreamResampler(float(self.source_sample_rate), float(self.target_sample_rate), num_channels)
        self._held = SampleBuffer(num_channels)
        self.reset()

    @property
    def output_latency(self) -> float:
        """Approximate delay of the output, in output samples: resampler latency + model latency."""
        ratio = self.target_sample_rate / self.source_sample_rate
        resampler = self._resampler.input_latency * ratio if self._resampler else 0.0
        return resampler + self.restorer.latency_samples

    @property
    def input_latency(self) -> float:
        """The same delay in input samples (at ``source_sample_rate``)."""
        return self.output_latency * self.source_sample_rate / self.target_sample_rate

    def reset(self) -> None:
        """Drop all state and start a new stream."""
        if self._resampler:
            self._resampler.reset()
        self.restorer.reset()
        self._held.clear()
        self._in = 0  # input samples so far
        self._mono = False  # the last chunk was 1-D
        self._fed = 0  # resampled samples given to the restorer

    def _feed(self, limit: int) -> np.ndarray:
        """Give the restorer held resampled samples up to absolute index ``limit``; return its output."""
        block = self._held.pop(max(0, limit - self._fed))
        self._fed += block.shape[1]
        return self.restorer.process(block)

    def process(self, chunk: np.ndarray | None = None) -> np.ndarray:
        """Feed (num_channels, samples) float32/float64 (1-D for mono); return restored output that is ready.

        ``process()`` with no chunk flushes: it returns the rest and resets. Output: (num_channels, n) float32,
        1-D if the chunk was 1-D.
        """
        if chunk is None:
            return self.flush()
        array = check_dtype(chunk, "chunk")
        mono = array.ndim == 1
        planar = array[None, :] if mono else array
        if planar.ndim != 2 or planar.shape[0] != self.num_channels:
            raise AudioInputError(f"chunk must have shape ({self.num_channels}, samples), got {array.shape}")
        if mono and self.num_channels != 1:
            raise AudioInputError(f"1-D chunk given to a {self.num_channels}-channel upsampler")
        check_finite(planar, "chunk")
        planar = np.ascontiguousarray(planar, dtype=np.float32)
        self._held.append(self._resampler.process(planar) if self._resampler else planar)
        self._in += planar.shape[1]
        self._mono = mono
        out = self._feed(expected_output_length(self._in, self.source_sample_rate, self.target_sample_rate))
        return out[0] if mono else out

    def flush(self) -> np.ndarray:
        """Return every remaining output sample (num_channels, n) float32 (1-D after 1-D chunks) and reset."""
        if self._in == 0:  # nothing streamed (a fresh StreamResampler cannot be flushed)
            mono = self._mono
            self.reset()
            return np.zeros(0 if mono else (self.num_channels, 0), np.float32)
        if self._resampler:
            self._held.append(self._resampler.process())
        total = expected_output_length(self._in, self.source_sample_rate, self.target_sample_rate)
        if self._fed + len(self._held) < total:  # the resampler came out short: zero-pad, as upsample() does
            self._held.append(np.zeros((self.num_channels, total - self._fed - len(self._held)), np.float32))
        out = np.concatenate([self._feed(total), self.restorer.flush(mono=False)], axis=1)
        mono = self._mono
        self.reset()
        return out[0] if mono else out
