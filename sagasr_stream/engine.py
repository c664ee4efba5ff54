"""Restoring windows: the model pipeline for a batch of fixed-length windows.

window audio -> peak gain -> VAE encode (LR latent) + input roll-off -> Euler multi-CFG sampling
from position-keyed noise -> VAE decode -> undo gain -> low-band merge with the input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .dsp import merge_low_band, peak_gain, rolloff_ratio
from .model import SagaSRModel
from .sampler import latent_noise, sample
from .settings import ResolvedSettings

SILENCE = 1e-6


@dataclass(frozen=True)
class WindowJob:
    """One window to restore: audio channel index, window index and its (window,) float32 samples."""

    channel: int
    index: int
    audio: np.ndarray


WindowFn = Callable[[list[WindowJob]], list[np.ndarray]]


class WindowRestorer:
    """Restores lists of windows in batches of ``settings.batch_size``; results do not depend on batching."""

    def __init__(self, model: SagaSRModel, settings: ResolvedSettings) -> None:
        manifest = model.manifest
        if settings.window != manifest.window_samples:
            raise ValueError(f"settings are for {settings.window}-sample windows; the model uses {manifest.window_samples}")
        self.model = model
        self.settings = settings
        self.hop_frames = settings.hop // manifest.downsampling
        self.text = model.text_tokens(settings.caption)

    def __call__(self, jobs: list[WindowJob]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        size = self.settings.batch_size
        for i in range(0, len(jobs), size):
            out.extend(self.restore_batch(jobs[i : i + size]))
        return out

    def restore_batch(self, jobs: list[WindowJob]) -> list[np.ndarray]:
        """Restore up to ``batch_size`` windows with one DiT call per step."""
        audio = np.stack([job.audio for job in jobs]).astype(np.float32)
        active = np.abs(audio).max(axis=1) >= SILENCE
        result = audio.copy()  # digital silence stays silence
        if active.any():
            result[active] = self._restore(audio[active], [job for job, a in zip(jobs, active) if a])
        return list(result)

    def _restore(self, audio: np.ndarray, jobs: list[WindowJob]) -> np.ndarray:
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
        return merge_low_band(restored, audio, s.low_band)
