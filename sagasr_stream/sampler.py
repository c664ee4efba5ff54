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


def guidance_weights(cfg_acoustic: float, cfg_text: float, form: str = "official") -> tuple[float, float, float]:
    """Weights of the none, acoustic and full passes in :func:`combine_guidance`'s merge (they sum to 1)."""
    if form == "official":
        return (1.0 - cfg_acoustic, cfg_acoustic - cfg_text, cfg_text)
    return (1.0 - cfg_acoustic - cfg_text, cfg_acoustic, cfg_text)


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
    slope_in: np.ndarray | None = None,
) -> np.ndarray:
    """Euler-integrate from ``noise`` (n, C, T) to latents x0 (n, C, T).

    ``lr_latent`` (n, C, T); ``text_tokens`` (n, S, D); ``rolloff_in``/``rolloff_out`` (n,) ratios; ``slope_in``
    (n,) dB/octave for a DiT that takes it (every pass sees it: it describes the input, like ``rolloff_in``).
    The guidance passes of all n windows go through one DiT call per step. A pass whose weight in the merge is 0
    is not run: at s_a = s_t = 1 ("official") only the full pass is (n rows, a third of the work), otherwise
    3n rows merged by :func:`combine_guidance`.
    """
    n = noise.shape[0]
    weights = guidance_weights(cfg_acoustic, cfg_text, form)
    active = [i for i, w in enumerate(weights) if w != 0.0]

    def merge(v: np.ndarray) -> np.ndarray:
        if len(active) == len(PASSES):  # the formula itself, so these scales give the same floats as always
            return combine_guidance(v, n, cfg_acoustic, cfg_text, form)
        return np.sum([np.float32(weights[i]) * v[k * n : (k + 1) * n] for k, i in enumerate(active)], axis=0)

    rows = len(active)
    lr_keep = np.repeat(np.array([PASSES[i][0] for i in active], dtype=np.float32), n)
    cross_keep = np.repeat(np.array([PASSES[i][1] for i in active], dtype=np.float32), n)
    lr_rows = np.concatenate([lr_latent] * rows)
    text_rows = np.concatenate([text_tokens] * rows)
    rin_rows = np.tile(rolloff_in.astype(np.float32), rows)
    rout_rows = np.tile(rolloff_out.astype(np.float32), rows)
    slope_rows = None if slope_in is None else np.tile(slope_in.astype(np.float32), rows)
    x: np.ndarray = noise.astype(np.float32).copy()
    times = np.linspace(1.0, 0.0, steps + 1, dtype=np.float64)
    for t, t_next in zip(times[:-1], times[1:]):
        t_rows = np.full(rows * n, t, dtype=np.float32)
        extra = () if slope_rows is None else (slope_rows,)  # a backend of a DiT without it keeps its 8 inputs
        v = backend.velocity(np.concatenate([x] * rows), t_rows, lr_rows, lr_keep, text_rows, cross_keep, rin_rows,
                             rout_rows, *extra)
        x = x + np.float32(t_next - t) * merge(v)
    return x
