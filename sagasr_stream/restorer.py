"""A model bound to its resolved settings, made once; the one factory of window functions and restore stages.

The file API, the stream, the effect, the chain, the CLI and the evaluation all take a :class:`Restorer`
(or a model plus settings, turned into one by :meth:`Restorer.of`).
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from .bundle import Manifest
from .chunking import WindowPlan
from .engine import WindowFn, WindowRestorer
from .errors import AudioInputError, ParameterError, ParameterTypeError
from .model import SagaSRModel
from .processor import ChunkedProcessor
from .settings import ResolvedSettings, RestoreSettings, resolve
from .source_rate import SourceRateRestore
from .stereo import signals_per_window, stereo_window_fn
from .streaming import ResampleStage, run_whole
from .validation import check_dtype, check_finite, check_positive_int, check_sample_rate, is_real_number


def lower_limit(a: float | None, b: float | None) -> float | None:
    """The lower of two optional band limits (Hz); ``None`` = no limit."""
    if a is None:
        return b
    return a if b is None else min(a, b)


# The lowest band limit a user may give: kHz typed for Hz (3 for 3000) made every window pass through unrestored.
MIN_BAND_LIMIT_HZ = 1000.0


def checked_band_limit(band_limit_hz: float | None, sample_rate: int) -> float | None:
    """``band_limit_hz`` as a float (Hz), or ``None``; a value outside (0, Nyquist of ``sample_rate``] raises
    :class:`ParameterError` naming it."""
    nyquist = sample_rate / 2
    if band_limit_hz is not None and not (is_real_number(band_limit_hz) and 0 < band_limit_hz <= nyquist):
        raise ParameterError(f"band_limit_hz must be a frequency in Hz in (0, {nyquist:g}] (the model's Nyquist), "
                             f"got {band_limit_hz!r}")
    return None if band_limit_hz is None else float(band_limit_hz)


def checked_user_band_limit(band_limit_hz: float | None, sample_rate: int) -> float | None:
    """:func:`checked_band_limit` for a band limit the user gives (``Restorer``, ``StreamingRestorer``,
    ``--band-limit``): also at least :data:`MIN_BAND_LIMIT_HZ` (internal limits, a low source rate's Nyquist,
    may be lower)."""
    band_limit_hz = checked_band_limit(band_limit_hz, sample_rate)
    if band_limit_hz is not None and band_limit_hz < MIN_BAND_LIMIT_HZ:
        raise ParameterError(f"band_limit_hz is in Hz and at least {MIN_BAND_LIMIT_HZ:g} (3 kHz is 3000), got "
                             f"{band_limit_hz!r}: below it nothing would be restored")
    return band_limit_hz


def _wrong_model(model: object, accepted: str) -> ParameterTypeError:
    """The error for a ``model`` argument of another type, with how to load a bundle's path."""
    hint = (": load a bundle's path with SagaSRModel.load(path) or Restorer.load(path)"
            if isinstance(model, (str, os.PathLike)) else "")
    return ParameterTypeError(f"model must be {accepted}, got {type(model).__name__}{hint}")


def window_plan(manifest: Manifest, settings: ResolvedSettings) -> WindowPlan:
    """The windows a model restores: its ``window_samples`` with the settings' overlap (samples)."""
    return WindowPlan(manifest.window_samples, settings.overlap)


def offline_windows_per_call(settings: ResolvedSettings, channels: int) -> int:
    """Windows gathered per model call offline: enough to fill ``settings.batch_size`` with the signals the
    model restores per window (one per channel, or fewer with a linked/mono stereo mode)."""
    return max(1, -(-settings.batch_size // signals_per_window(channels, settings.stereo)))


class Restorer:
    """A loaded model + its :class:`~sagasr_stream.settings.ResolvedSettings` (checked once, here).

    ``band_limit_hz``: the input's known bandwidth (Hz, e.g. the Nyquist of a lower source rate, or a low-pass
    the user knows of); band edges are never placed above it, so a cut the band edge cannot see (a low or gentle
    low-pass) is restored from there. Every stage it makes restores at the model's rate, :attr:`sample_rate`.
    """

    def __init__(
        self,
        model: SagaSRModel | None = None,
        settings: RestoreSettings | None = None,
        band_limit_hz: float | None = None,
    ) -> None:
        if model is not None and not isinstance(model, SagaSRModel):
            raise _wrong_model(model, "a SagaSRModel")
        self.model = model or SagaSRModel.load()
        self.user_settings = RestoreSettings() if settings is None else settings  # {} or 0 is refused, not the default
        self.settings: ResolvedSettings = resolve(self.user_settings, self.model.manifest)
        self.band_limit_hz = checked_user_band_limit(band_limit_hz, self.model.manifest.sample_rate)
        self.sample_rate: int = self.model.manifest.sample_rate
        self.plan = window_plan(self.model.manifest, self.settings)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        settings: RestoreSettings | None = None,
        provider: str = "auto",
        allow_torchscript: bool = False,
        band_limit_hz: float | None = None,
    ) -> "Restorer":
        """Load a bundle (``None``: the embedded default, see :meth:`SagaSRModel.load`) and resolve ``settings``."""
        return cls(SagaSRModel.load(path, provider=provider, allow_torchscript=allow_torchscript), settings, band_limit_hz)

    @classmethod
    def of(cls, model: "SagaSRModel | Restorer | None" = None, settings: RestoreSettings | None = None) -> "Restorer":
        """``model`` if it is a Restorer (rebound to ``settings`` when given), else a new Restorer of model + settings."""
        if isinstance(model, Restorer):
            return model if settings is None else cls(model.model, settings, model.band_limit_hz)
        if model is not None and not isinstance(model, SagaSRModel):
            raise _wrong_model(model, "a SagaSRModel or a Restorer")
        return cls(model, settings)

    def __repr__(self) -> str:
        return f"<Restorer model={self.model.manifest.name!r} window={self.plan.window} overlap={self.plan.overlap}>"

    def window_fn(self, band_limit_hz: float | None = None, channels: int = 1, source_floor: float = 0.0) -> WindowFn:
        """The function that restores lists of windows of a ``channels``-channel input (the only place one is
        made), with the channels restored together as ``settings.stereo`` says (:mod:`sagasr_stream.stereo`;
        one channel or "independent": each channel alone); ``band_limit_hz`` lowers :attr:`band_limit_hz` for
        this input; ``source_floor``: the rounding floor of an integer source resampled to the model's rate
        (:func:`~sagasr_stream.quantization.resampled_floor`)."""
        restorer = WindowRestorer(self.model, self.settings, lower_limit(self.band_limit_hz, band_limit_hz),
                                  self.window_floor(source_floor, channels))
        return stereo_window_fn(restorer, channels)

    def window_floor(self, source_floor: float, channels: int) -> float:
        """The rounding floor of the windows the model sees: ``source_floor`` per channel, or of the mean of
        ``channels`` uncorrelated roundings (1 / channels of it) where the "mono" stereo mode downmixes them."""
        return source_floor / channels if self.settings.stereo == "mono" else source_floor

    def stream(
        self,
        channels: int = 1,
        windows_per_call: int | None = 1,
        band_limit_hz: float | None = None,
        on_windows: Callable[[int], None] | None = None,
        source_floor: float = 0.0,
    ) -> ChunkedProcessor:
        """A restore stage on the stream protocol for (channels, n) float32 blocks at :attr:`sample_rate`.

        ``windows_per_call``: windows per channel gathered before the model runs (more: bigger batches, more
        latency); ``None``: enough to fill ``settings.batch_size`` (what offline restoration uses).
        ``on_windows(n)`` reports progress; ``source_floor``: as in :meth:`window_fn`.
        """
        channels = check_positive_int(channels, "channels")
        band_limit_hz = checked_band_limit(band_limit_hz, self.sample_rate)
        if windows_per_call is None:
            windows_per_call = offline_windows_per_call(self.settings, channels)
        windows_per_call = check_positive_int(windows_per_call, "windows_per_call")
        return ChunkedProcessor(self.window_fn(band_limit_hz, channels, source_floor), self.plan, channels,
                                windows_per_call, on_windows, downmix_limits=self.settings.stereo == "mono",
                                source_floor=self.window_floor(source_floor, channels), sample_rate=self.sample_rate,
                                slopes=self.model.manifest.slope_condition)

    def stream_at(
        self, sample_rate: float, channels: int = 1, windows_per_call: int = 1
    ) -> ChunkedProcessor | SourceRateRestore:
        """A restore stage for (channels, n) float32 blocks at ``sample_rate`` (Hz, at least :attr:`sample_rate`),
        answering at the same rate: :meth:`stream` itself at the model's rate; at a higher one (a 48 kHz sound
        card) the blocks are resampled to the model's rate and only the restored change back, added to the input
        (:class:`~sagasr_stream.source_rate.SourceRateRestore`)."""
        rate = check_sample_rate(sample_rate)
        channels = check_positive_int(channels, "channels")
        if rate < self.sample_rate:
            raise ParameterError(f"a restore stage runs at {self.sample_rate} Hz or above (it could not play the "
                                 f"restored band at {rate} Hz); resample the input up first")
        if rate == self.sample_rate:
            return self.stream(channels, windows_per_call)
        return SourceRateRestore(ResampleStage(rate, self.sample_rate, channels), self.stream(channels, windows_per_call))

    def restore(self, planar: np.ndarray, band_limit_hz: float | None = None) -> np.ndarray:
        """Restore a whole (channels, n) float32 signal at :attr:`sample_rate` -> (channels, n) float32.

        Planar only, as the stream stages take it (:func:`sagasr_stream.restore` takes any layout and rate): a
        1-D array, or one with more channels than samples (a (samples, channels) array), raises
        :class:`AudioInputError` instead of being restored as that many channels."""
        array = check_dtype(planar, "planar")
        if array.ndim != 2 or array.shape[0] == 0 or array.shape[0] > array.shape[1] > 0:
            raise AudioInputError(
                f"planar must be a (channels, samples) array, got shape {array.shape}; for (samples,) or "
                "(samples, channels) use sagasr_stream.restore(audio, rate, restorer), which reads the layout")
        check_finite(array, "planar")
        return run_whole(self.stream(array.shape[0], None, band_limit_hz), array)
