"""Rectified-flow Euler sampling with SAGA-SR's three-pass guidance, and position-keyed noise.

Convention: x_t = (1 - t) x0 + t noise, velocity v = noise - x0, sampled from t = 1 to 0 in ``steps`` equal steps.
"""
from __future__ import annotations

import numpy as np

from .backends.base import Backend

# pass order inside one DiT call: "none", "acoustic", "full" (lr_keep, cross_keep)
PASSES = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))


def latent_noise(seed: int, channel: int, start_frame: int, n_frames: int, channels: int) -> np.ndarray:
    """Standard normal noise (channels, n_frames) float32, drawn per absolute latent frame.

    Frame k of audio channel ``channel`` always gets the same values for a given seed, so overlapping
    windows share their noise where they overlap.
    """
    out = np.empty((channels, n_frames), dtype=np.float32)
    for i in range(n_frames):
        out[:, i] = np.random.default_rng([seed, channel, start_frame + i]).standard_normal(channels)
    return out


def combine_guidance(v: np.ndarray, n: int, cfg_acoustic: float, cfg_text: float, form: str = "official") -> np.ndarray:
    """Merge the three passes (rows [0:n] none, [n:2n] acoustic, [2n:3n] full) into one velocity (n, C, T)."""
    v0, v1, v2 = v[:n], v[n : 2 * n], v[2 * n :]
    if form == "official":
        return v0 + cfg_acoustic * (v1 - v0) + cfg_text * (v2 - v1)
    return v0 + cfg_acoustic * (v1 - v0) + cfg_text * (v2 - v0)


def sample(
    backend: Backend,
    noise: np.ndarray,
    lr_latent: np.ndarray,
    text_tokens: np.ndarray,
    rolloff_in: np.ndarray,
    rolloff_out: np.ndarray,
    steps: int,
    cfg_acoustic: float,
    cfg_text: float,
    form: str = "official",
) -> np.ndarray:
    """Euler-integrate from ``noise`` (n, C, T) to latents x0 (n, C, T).

    ``lr_latent`` (n, C, T); ``text_tokens`` (n, S, D); ``rolloff_in``/``rolloff_out`` (n,) ratios.
    All three guidance passes of all n windows go through one DiT call per step (3n rows).
    """
    n = noise.shape[0]
    lr_keep = np.repeat(np.array([p[0] for p in PASSES], dtype=np.float32), n)
    cross_keep = np.repeat(np.array([p[1] for p in PASSES], dtype=np.float32), n)
    lr3 = np.concatenate([lr_latent] * 3)
    text3 = np.concatenate([text_tokens] * 3)
    rin3 = np.tile(rolloff_in.astype(np.float32), 3)
    rout3 = np.tile(rolloff_out.astype(np.float32), 3)
    x = noise.astype(np.float32).copy()
    times = np.linspace(1.0, 0.0, steps + 1, dtype=np.float64)
    for t, t_next in zip(times[:-1], times[1:]):
        t3 = np.full(3 * n, t, dtype=np.float32)
        v = backend.velocity(np.concatenate([x] * 3), t3, lr3, lr_keep, text3, cross_keep, rin3, rout3)
        x = x + np.float32(t_next - t) * combine_guidance(v, n, cfg_acoustic, cfg_text, form)
    return x
