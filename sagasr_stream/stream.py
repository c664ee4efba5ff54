"""Streaming restoration with a fixed, reported latency: the numpy adapter over a restore stage."""
from __future__ import annotations

import numpy as np

from .model import SagaSRModel
from .restorer import Restorer, checked_user_band_limit
from .settings import RestoreSettings
from .validation import check_bool, check_positive_int, stream_block


class StreamingRestorer:
    """Push blocks of any size (1-D mono or (channels, samples)); get restored audio ``latency_samples`` late.

    After n input samples in total, exactly max(0, n - latency_samples) output samples have been returned;
    :meth:`flush` returns the rest so the output has the input's length, and equals offline processing
    of the same signal with the same settings. :meth:`reset` drops all state. ``model``: a
    :class:`~sagasr_stream.restorer.Restorer`, or a model (with ``settings``). ``band_limit_hz``: the
    input's known bandwidth (e.g. the Nyquist of the rate it was resampled from); band edges are never placed
    above it (a frequency in (0, Nyquist of the model's rate]). ``windows_per_call`` (a positive integer): windows
    per channel gathered before the model runs (more: bigger batches, more latency). A thin adapter: it validates
    its arguments and blocks and keeps 1-D blocks 1-D around
    :meth:`Restorer.stream <sagasr_stream.restorer.Restorer.stream>` (the stream protocol itself).
    """

    def __init__(
        self,
        model: SagaSRModel | Restorer | None = None,
        settings: RestoreSettings | None = None,
        channels: int = 1,
        windows_per_call: int = 1,
        band_limit_hz: float | None = None,
    ) -> None:
        windows_per_call = check_positive_int(windows_per_call, "windows_per_call")
        self.restorer = Restorer.of(model, settings)
        self.model = self.restorer.model
        self.settings = self.restorer.settings
        self.sample_rate = self.restorer.sample_rate
        band_limit_hz = checked_user_band_limit(band_limit_hz, self.sample_rate)
        self._stage = self.restorer.stream(channels, windows_per_call, band_limit_hz)
        self.channels = channels
        self._mono = channels == 1  # the last block was 1-D (a mono stream's flush answers in its layout)

    def __repr__(self) -> str:
        return (f"<StreamingRestorer model={self.model.manifest.name!r} channels={self.channels} "
                f"latency={self.latency_samples} samples>")

    @property
    def samples_in(self) -> int:
        """Input samples pushed since the last reset or flush (0: no stream in progress)."""
        return self._stage.total_in

    @property
    def latency_samples(self) -> int:
        """Fixed delay of the output in samples (at the model's rate)."""
        return self._stage.latency_samples

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed a block; return the output that is due (same layout as the block, possibly 0 samples)."""
        planar, mono = stream_block(block, self.channels)
        out = self._stage.process(planar)
        self._mono = mono
        return out[0] if mono else out

    def flush(self, mono: bool | None = None) -> np.ndarray:
        """End the stream: return every remaining sample and reset. In the layout of the blocks (1-D after 1-D
        blocks, (1, n) after (1, n) ones; a mono stream with no block yet: 1-D), or 1-D with ``mono=True``,
        (channels, n) with ``mono=False``."""
        if mono is not None:
            mono = check_bool(mono, "mono")
        out = self._stage.flush()
        one_d = self._mono if mono is None else (self.channels == 1 and mono)
        self._mono = self.channels == 1
        return out[0] if one_d else out

    def reset(self) -> None:
        self._stage.reset()
        self._mono = self.channels == 1
