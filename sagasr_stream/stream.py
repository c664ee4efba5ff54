"""Streaming restoration with a fixed, reported latency."""
from __future__ import annotations

import numpy as np

from .chunking import SampleBuffer, WindowPlan
from .engine import WindowRestorer
from .errors import AudioInputError, ParameterError
from .model import SagaSRModel
from .processor import ChunkedProcessor
from .settings import RestoreSettings, resolve
from .stereo import stereo_window_fn
from .validation import check_dtype, check_finite


class StreamingRestorer:
    """Push blocks of any size (1-D mono or (channels, samples)); get restored audio ``latency_samples`` late.

    After n input samples in total, exactly max(0, n - latency_samples) output samples have been returned;
    :meth:`flush` returns the rest so the output has the input's length, and equals offline processing
    of the same signal with the same settings. :meth:`reset` drops all state. ``band_limit_hz``: the input's
    known bandwidth (e.g. the Nyquist of the rate it was resampled from); band edges are never placed above it.
    """

    def __init__(
        self,
        model: SagaSRModel | None = None,
        settings: RestoreSettings | None = None,
        channels: int = 1,
        windows_per_call: int = 1,
        band_limit_hz: float | None = None,
    ) -> None:
        if not isinstance(channels, int) or channels < 1:
            raise ParameterError(f"channels must be a positive integer, got {channels!r}")
        self.model = model or SagaSRModel.load()
        self.settings = resolve(settings or RestoreSettings(), self.model.manifest)
        self.sample_rate = self.model.manifest.sample_rate
        self.channels = channels
        plan = WindowPlan(self.settings.window, self.settings.overlap)
        restorer = stereo_window_fn(WindowRestorer(self.model, self.settings, band_limit_hz), channels)
        self._processor = ChunkedProcessor(restorer, plan, channels, windows_per_call)
        self._pending = SampleBuffer(channels)
        self._returned = 0

    @property
    def samples_in(self) -> int:
        """Input samples pushed since the last reset or flush (0: no stream in progress)."""
        return self._processor.total_in

    @property
    def latency_samples(self) -> int:
        """Fixed delay of the output in samples (at the model's rate)."""
        return self._processor.latency

    def _planar(self, block: object) -> tuple[np.ndarray, bool]:
        array = check_dtype(block, "block")
        mono = array.ndim == 1
        if mono:
            if self.channels != 1:
                raise AudioInputError(f"1-D block given to a {self.channels}-channel stream; pass (channels, samples)")
            array = array[None, :]
        elif array.ndim != 2 or array.shape[0] != self.channels:
            raise AudioInputError(f"block must have shape ({self.channels}, samples), got {array.shape}")
        check_finite(array, "block")
        return array, mono

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed a block; return the output that is due (same layout as the block, possibly 0 samples)."""
        planar, mono = self._planar(block)
        self._pending.append(self._processor.push(planar))
        due = max(0, self._processor.total_in - self.latency_samples) - self._returned
        out = self._pending.pop(due)
        assert out.shape[1] == due, "internal error: latency bound violated"
        self._returned += due
        return out[0] if mono else out

    def flush(self, mono: bool | None = None) -> np.ndarray:
        """End the stream: return every remaining sample and reset. 1-D for a mono stream unless ``mono=False``."""
        self._pending.append(self._processor.finish())
        out = self._pending.pop(len(self._pending))
        self.reset()
        return out[0] if (self.channels == 1 and mono is not False) else out

    def reset(self) -> None:
        self._processor.reset()
        self._pending.clear()
        self._returned = 0
