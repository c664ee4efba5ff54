"""Restoring windows: the model pipeline for a batch of fixed-length windows.

window audio -> band edge (pass through when nothing is missing) -> its mean (a DC offset) taken out -> peak gain ->
VAE encode (LR latent) +
input roll-off -> Euler multi-CFG sampling from position-keyed noise -> VAE decode -> undo gain -> restored
band level (:mod:`sagasr_stream.band_level`) -> band ceiling in quiet frames (:mod:`sagasr_stream.band_ceiling`) ->
a share of band replication (:mod:`sagasr_stream.replication`) -> the user's trim (:mod:`sagasr_stream.band_trim`) ->
the band at its log-spectral mean with consistent phases (:mod:`sagasr_stream.band_smoothing`) -> low-band merge
with the input up to its band edge -> the band's transients after the input's (:mod:`sagasr_stream.band_transients`).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence, TypeVar

import numpy as np

from .backends.row_split import cpu_workers
from .band_ceiling import hold_quiet_frames
from .band_level import band_gains
from .band_smoothing import smooth_band
from .band_transients import follow_input_transients
from .band_trim import trim_band
from .bandlimit import SignalBandLimit
from .dsp import N_FFT, band_edge_from_power, float64_stft, interior_power, merge_low_band, peak_gain, rolloff_ratio
from .model import SagaSRModel
from .quantization import rounding_floor
from .replication import blend_replication, window_slope
from .sampler import latent_noise, sample
from .settings import ResolvedSettings

SILENCE = 1e-6

T = TypeVar("T")


@dataclass(frozen=True)
class WindowJob:
    """One window to restore: audio channel index, window index and its (window,) float32 samples.

    ``spec`` and ``edge_bin``: the window's float64 STFT (bins, frames) and band edge bin, when the caller
    knows them already (the stereo stage, for a pair's mid or side: from the pair's); detected otherwise.
    ``signal_limit``: the band limit of the signal up to the window's end (:mod:`sagasr_stream.bandlimit`);
    ``valid``: how many of its samples are signal (the last window's rest is padding, which its band edge
    must not see: the join splatters broadband energy); ``None``: all."""

    channel: int
    index: int
    audio: np.ndarray
    spec: np.ndarray | None = None
    edge_bin: int | None = None
    signal_limit: SignalBandLimit | None = None
    valid: int | None = None


WindowFn = Callable[[list[WindowJob]], list[np.ndarray]]


class WindowRestorer:
    """Restores lists of windows in batches of ``settings.batch_size``; results do not depend on batching.

    Each window's band edge is detected from its own signal samples (:func:`dsp.band_edge_from_power`), never
    above ``band_limit_hz`` (the Nyquist of a lower source rate, when the caller knows it), and lowered to the
    edge of the signal so far (the job's ``signal_limit``, :mod:`sagasr_stream.bandlimit`) where the window
    holds no more above that than the signal had before it. A window whose edge is
    at or above the asked output roll-off (``settings.complete_band_hz``) has nothing missing: in the
    "keep" and "replace" modes it is returned unchanged, bit for bit, and the model does not run on it; so is a
    window whose edge reads 0 Hz (a lone sample, a click in silence, ``band_limit_hz`` under one bin): it has no
    band to restore from. ``source_floor``: the rounding floor (power per bin) of an 8-16-bit source resampled
    to the model's rate (:func:`~sagasr_stream.quantization.resampled_floor`), for windows off every grid.
    ``workers``: windows finished at once after the model (the backend's ``threads``, else ``SAGASR_THREADS``,
    else the cores; :func:`~sagasr_stream.backends.row_split.cpu_workers`); each window's result is the same
    whichever thread finishes it.
    """

    def __init__(self, model: SagaSRModel, settings: ResolvedSettings, band_limit_hz: float | None = None,
                 source_floor: float = 0.0) -> None:
        manifest = model.manifest
        self.source_floor = source_floor
        self.model = model
        self.settings = settings
        self.hop_frames = (manifest.window_samples - settings.overlap) // manifest.downsampling
        self.text = model.text_tokens(settings.caption)
        self.bin_hz = manifest.sample_rate / N_FFT
        self.band_limit_bin = N_FFT // 2 if band_limit_hz is None else min(N_FFT // 2, int(band_limit_hz / self.bin_hz))
        self.workers = cpu_workers(getattr(model.backend, "threads", None))

    def __call__(self, jobs: list[WindowJob]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        size = self.settings.batch_size
        for i in range(0, len(jobs), size):
            out.extend(self.restore_batch(jobs[i : i + size]))
        return out

    def restore_batch(self, jobs: list[WindowJob]) -> list[np.ndarray]:
        """Restore up to ``batch_size`` windows with one DiT call per step."""
        audio = np.stack([job.audio for job in jobs]).astype(np.float32)
        spec, edges = self._analysis(audio, jobs)
        active = (np.abs(audio).max(axis=1) >= SILENCE) & ~self.complete(edges) & (edges > 0)
        result = audio.copy()  # digital silence, full-band windows and those with no band (edge 0 Hz) stay as they are
        if active.any():
            chosen = [job for job, a in zip(jobs, active) if a]
            result[active] = self._restore(_rows(audio, active), chosen, edges[active], _rows(spec, active))
        return list(result)

    def _analysis(self, audio: np.ndarray, jobs: list[WindowJob]) -> tuple[np.ndarray, np.ndarray]:
        """Each window's float64 STFT (shared by the band edge and the low-band merge) and band edge bin: the
        job's own where it brings them, computed otherwise, window by window (so a window's result does not
        depend on which others share its batch)."""
        missing = [i for i, job in enumerate(jobs) if job.spec is None]
        computed = iter(float64_stft(audio[missing]) if missing else [])
        spec = np.stack([job.spec if job.spec is not None else next(computed) for job in jobs])
        unknown = [i for i, job in enumerate(jobs) if job.edge_bin is None]
        limits = [jobs[i].signal_limit for i in unknown]
        valid = [jobs[i].valid for i in unknown]
        detected = iter(self.edge_bins(_rows(audio, unknown), _rows(spec, unknown), limits, valid) if unknown else [])
        edges = [min(job.edge_bin, self.band_limit_bin) if job.edge_bin is not None else int(next(detected)) for job in jobs]
        return spec, np.array(edges, dtype=np.int64)

    def edge_bins(
        self,
        audio: np.ndarray,
        spec: np.ndarray | None = None,
        limits: Sequence[SignalBandLimit | None] | None = None,
        valid: Sequence[int | None] | None = None,
    ) -> np.ndarray:
        """(windows, samples) -> (windows,) band edge bins (n_fft 2048) of each window's first ``valid`` samples
        (all when ``None``), capped at ``band_limit_hz``, and at each window's ``limits`` edge (the signal's so
        far) where the window holds nothing more above it than the signal had; ``spec``: ``audio``'s
        :func:`~sagasr_stream.dsp.float64_stft` if known."""
        if spec is None:
            spec = float64_stft(audio)
        edges = np.empty(len(audio), dtype=np.int64)
        for i in range(len(audio)):
            length = audio.shape[-1] if valid is None or valid[i] is None else valid[i]
            power = interior_power(audio[i, :length], spec=spec[i])
            edge = min(band_edge_from_power(power, rounding_floor(audio[i, :length], self.source_floor)),
                       self.band_limit_bin)
            limit = limits[i] if limits else None
            edges[i] = edge if limit is None else limit.window_edge(edge, power)
        return edges

    def complete(self, edges: np.ndarray) -> np.ndarray:
        """(windows,) bool: nothing is missing (the edge reaches the asked roll-off); ``low_band="off"``
        restores every window."""
        if self.settings.low_band == "off":
            return np.zeros(edges.shape, dtype=bool)
        return edges * self.bin_hz >= self.settings.complete_band_hz

    def _restore(self, audio: np.ndarray, jobs: list[WindowJob], edges: np.ndarray, spec: np.ndarray) -> np.ndarray:
        """Restore windows ``audio`` (n, samples) whose float64 STFTs are ``spec``: each without its mean (a DC
        offset is no part of the band; the same signal at another offset gives the same band), which is added
        back at the end."""
        offset, centred, centred_spec = without_dc(audio, spec)
        slopes = self.slopes(centred, jobs, edges, centred_spec) if self.model.manifest.slope_condition else None
        restored = self._generate(centred, jobs, slopes)
        return (self._finish(restored, centred, jobs, edges, centred_spec) + offset).astype(np.float32)

    def slopes(self, audio: np.ndarray, jobs: list[WindowJob], edges: np.ndarray, spec: np.ndarray) -> np.ndarray:
        """(n,) float32: the DiT's ``slope_in`` per window, dB/octave: the mean slope of the signal's windows so far
        (the job's ``signal_limit``, :mod:`sagasr_stream.bandlimit`), which settles where one window's wanders;
        the window's own slope below its band edge ``edges`` (n,) (:func:`~.replication.window_slope`, as
        training measures it) where there is none (a first window, a window alone), from ``audio``
        (n, samples) and its STFTs."""
        rate = self.model.manifest.sample_rate

        def slope(job: WindowJob, audio: np.ndarray, edge: int, spec: np.ndarray) -> float:
            so_far = None if job.signal_limit is None else job.signal_limit.slope_db_per_octave
            return window_slope(audio, rate, int(edge), spec) if so_far is None else so_far

        return np.array([slope(*row) for row in zip(jobs, audio, edges, spec)], dtype=np.float32)

    def _generate(self, audio: np.ndarray, jobs: list[WindowJob], slopes: np.ndarray | None = None) -> np.ndarray:
        """The model's restored windows (n, samples) float32 for windows ``audio`` (n, samples): peak gain, VAE
        encode, sampling from each job's position-keyed noise, decode, gain undone. ``slopes`` (n,): the windows'
        ``slope_in``, for a DiT that takes it."""
        m, s = self.model.manifest, self.settings
        gain = peak_gain(audio, m.input_peak)
        scaled = (audio * gain[:, None]).astype(np.float32)
        lr_latent = self.model.backend.encode(scaled[:, None, :])
        frames = lr_latent.shape[-1]
        noise = np.stack(
            [latent_noise(s.seed, job.channel, job.index * self.hop_frames, frames, m.latent_channels) for job in jobs]
        )
        n = len(jobs)
        rolloff_in = rolloff_ratio(scaled)
        latents = sample(
            self.model.backend,
            noise,
            lr_latent,
            np.repeat(self.text, n, axis=0),
            rolloff_in,
            s.target_rolloffs(rolloff_in),
            s.steps,
            s.cfg_acoustic,
            s.cfg_text,
            s.cfg_form,
            slopes,
        )
        return self.model.backend.decode(latents)[:, 0, : audio.shape[1]] / gain[:, None]

    def _finish(self, restored: np.ndarray, audio: np.ndarray, jobs: list[WindowJob], edges: np.ndarray,
                spec: np.ndarray) -> np.ndarray:
        """The model's windows ``restored`` (n, samples) reshaped against their inputs ``audio`` (n, samples) and
        the inputs' STFTs ``spec``, and merged with them up to ``edges``: band level, then window by window (on
        :attr:`workers` threads) ceiling, SBR blend, trim, smoothing, low-band merge, transients. (n, samples)
        float32."""
        m = self.model.manifest
        restored = restored * band_gains(spec, edges, self.settings.band_level, m.sample_rate)[:, None]

        def finish(i: int) -> np.ndarray:
            return self._finish_window(restored[i], audio[i], jobs[i], int(edges[i]), spec[i])

        return np.stack(map_windows(finish, len(jobs), self.workers))

    def _finish_window(self, restored: np.ndarray, audio: np.ndarray, job: WindowJob, edge: int,
                       spec: np.ndarray) -> np.ndarray:
        """:meth:`_finish` after the band level for one window (samples,) -> (samples,) float32; it reads only its
        own arrays (windows are finished concurrently)."""
        m, s = self.model.manifest, self.settings
        if (s.band_ceiling_db is None and s.sbr_blend is None and s.band_smoothing_octaves is None
                and not s.trims_band and s.band_transients is None):
            return merge_low_band(restored[None], audio[None], s.low_band, np.array([edge]), spec[None])[0]
        restored_spec = float64_stft(restored)
        if s.band_ceiling_db is not None:
            hold_quiet_frames(spec, restored_spec, edge, s.band_ceiling_db, job.valid)
        if s.sbr_blend is not None:
            blend_replication(spec, restored_spec, edge, s.sbr_blend, m.sample_rate, s.sbr_level_db)
        trim_band(restored_spec, edge, s.band_gain_db, s.band_tilt_db)
        if s.band_smoothing_octaves is not None:
            smooth_band(spec, restored_spec, edge, s.band_smoothing_octaves, s.band_smoothing_iterations,
                        audio.shape[0])
        merged = merge_low_band(None, audio[None], s.low_band, np.array([edge]), spec[None],
                                restored_spec=[restored_spec])[0]
        if s.band_transients is None:
            return merged
        return follow_input_transients(merged, audio, edge, s.band_transients, m.sample_rate).astype(np.float32)


def map_windows(fn: Callable[[int], T], n: int, workers: int) -> list[T]:
    """``[fn(0), ..., fn(n - 1)]``, on up to ``workers`` threads of a pool started and shut down here (one
    thread, or one window: in this thread). ``fn(i)`` must depend on window ``i`` alone; numpy's and scipy's
    FFTs release the GIL, so the windows' work spreads over the cores."""
    workers = min(workers, n)
    if workers <= 1:
        return [fn(i) for i in range(n)]
    with ThreadPoolExecutor(workers, thread_name_prefix="sagasr-finish") as pool:
        return list(pool.map(fn, range(n)))


def without_dc(audio: np.ndarray, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signals ``audio`` (n, samples) and their float64 STFTs ``spec`` (n, bins, frames) less each signal's mean:
    (offsets (n, 1) float64, centred signals, their STFTs)."""
    offset = audio.mean(axis=1, keepdims=True, dtype=np.float64)
    dc = offset[:, :, None] * dc_spectrum(audio.shape[1])
    if dc.strides != spec.strides:
        return offset, audio - offset, spec - dc
    np.subtract(spec, dc, out=dc)  # spec - dc (the same layout), without a second spectrum-sized array
    return offset, audio - offset, dc


def _rows(array: np.ndarray, rows: np.ndarray | list[int]) -> np.ndarray:
    """``array[rows]`` (``rows``: a boolean mask or increasing indices), or ``array`` itself, uncopied, when that
    takes every row in order (for reading only: a batch's spectra are large)."""
    if len(rows) == len(array) and (np.all(rows) if isinstance(rows, np.ndarray) and rows.dtype == bool
                                    else list(rows) == list(range(len(array)))):
        return array
    return array[rows]


@lru_cache(maxsize=4)
def dc_spectrum(length: int) -> np.ndarray:
    """(bins, frames) float64 STFT (:func:`~sagasr_stream.dsp.float64_stft`) of ``length`` samples of 1: what a DC
    offset of 1 adds to a window's STFT (its zero-padded first and last frames see a step). Read-only."""
    spectrum = float64_stft(np.ones(length))
    spectrum.setflags(write=False)
    return spectrum
