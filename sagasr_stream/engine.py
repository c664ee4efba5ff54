"""Restoring windows: the model pipeline for a batch of fixed-length windows.

window audio -> band edge (pass through when nothing is missing) -> peak gain -> VAE encode (LR latent) +
input roll-off -> Euler multi-CFG sampling from position-keyed noise -> VAE decode -> undo gain -> low-band
merge with the input up to its band edge.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .dsp import N_FFT, band_edge_bin, float64_stft, merge_low_band, peak_gain, rolloff_ratio
from .model import SagaSRModel
from .sampler import latent_noise, sample
from .settings import ResolvedSettings

SILENCE = 1e-6


@dataclass(frozen=True)
class WindowJob:
    """One window to restore: audio channel index, window index and its (window,) float32 samples.

    ``spec`` and ``edge_bin``: the window's float64 STFT (bins, frames) and band edge bin, when the caller
    knows them already (the stereo stage, for a pair's mid or side: from the pair's); detected otherwise."""

    channel: int
    index: int
    audio: np.ndarray
    spec: np.ndarray | None = None
    edge_bin: int | None = None


WindowFn = Callable[[list[WindowJob]], list[np.ndarray]]


class WindowRestorer:
    """Restores lists of windows in batches of ``settings.batch_size``; results do not depend on batching.

    Each window's band edge is detected from its own samples (:func:`dsp.band_edge_bin`), never above
    ``band_limit_hz`` (the Nyquist of a lower source rate, when the caller knows it). A window whose edge is
    at or above the asked output roll-off (``settings.complete_band_hz``) has nothing missing: in the
    "keep" and "replace" modes it is returned unchanged, bit for bit, and the model does not run on it.
    """

    def __init__(self, model: SagaSRModel, settings: ResolvedSettings, band_limit_hz: float | None = None) -> None:
        manifest = model.manifest
        self.model = model
        self.settings = settings
        self.hop_frames = (manifest.window_samples - settings.overlap) // manifest.downsampling
        self.text = model.text_tokens(settings.caption)
        self.bin_hz = manifest.sample_rate / N_FFT
        self.band_limit_bin = N_FFT // 2 if band_limit_hz is None else min(N_FFT // 2, int(band_limit_hz / self.bin_hz))

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
        active = (np.abs(audio).max(axis=1) >= SILENCE) & ~self.complete(edges)
        result = audio.copy()  # digital silence and full-band windows stay as they are
        if active.any():
            chosen = [job for job, a in zip(jobs, active) if a]
            result[active] = self._restore(audio[active], chosen, edges[active], spec[active])
        return list(result)

    def _analysis(self, audio: np.ndarray, jobs: list[WindowJob]) -> tuple[np.ndarray, np.ndarray]:
        """Each window's float64 STFT (shared by the band edge and the low-band merge) and band edge bin: the
        job's own where it brings them, computed otherwise, window by window (so a window's result does not
        depend on which others share its batch)."""
        missing = [i for i, job in enumerate(jobs) if job.spec is None]
        computed = iter(float64_stft(audio[missing]) if missing else [])
        spec = np.stack([job.spec if job.spec is not None else next(computed) for job in jobs])
        unknown = [i for i, job in enumerate(jobs) if job.edge_bin is None]
        detected = iter(self.edge_bins(audio[unknown], spec[unknown]) if unknown else [])
        edges = [min(job.edge_bin, self.band_limit_bin) if job.edge_bin is not None else int(next(detected)) for job in jobs]
        return spec, np.array(edges, dtype=np.int64)

    def edge_bins(self, audio: np.ndarray, spec: np.ndarray | None = None) -> np.ndarray:
        """(windows, samples) -> (windows,) band edge bins (n_fft 2048), capped at ``band_limit_hz``;
        ``spec``: ``audio``'s :func:`~sagasr_stream.dsp.float64_stft` if known."""
        return np.minimum(band_edge_bin(audio, spec=spec), self.band_limit_bin)

    def complete(self, edges: np.ndarray) -> np.ndarray:
        """(windows,) bool: nothing is missing (the edge reaches the asked roll-off); ``low_band="off"``
        restores every window."""
        if self.settings.low_band == "off":
            return np.zeros(edges.shape, dtype=bool)
        return edges * self.bin_hz >= self.settings.complete_band_hz

    def _restore(self, audio: np.ndarray, jobs: list[WindowJob], edges: np.ndarray, spec: np.ndarray) -> np.ndarray:
        m, s = self.model.manifest, self.settings
        gain = peak_gain(audio, m.input_peak)
        scaled = audio * gain[:, None]
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
        )
        restored = self.model.backend.decode(latents)[:, 0, : audio.shape[1]] / gain[:, None]
        return merge_low_band(restored, audio, s.low_band, edges, spec)
