"""Pure-torch reference sampler (Euler, rectified flow, SAGA-SR 3-pass CFG) used to prove bundle parity.

v = v0 + s_a (v1 - v0) + s_t (v2 - v1); pass 0: lr_keep = 0, cross_keep = 0; pass 1: lr_keep = 1,
cross_keep = 0; pass 2: both 1. t_i = 1 - i / N, x <- x + (t_{i+1} - t_i) v.
"""
from __future__ import annotations

import torch

from .sagasr import SagaSR


@torch.no_grad()
def reference_sample(model: SagaSR, noise: torch.Tensor, lr_latent: torch.Tensor, text_tokens: torch.Tensor,
                     rolloff_in: torch.Tensor, rolloff_out: torch.Tensor, steps: int, cfg_acoustic: float,
                     cfg_text: float, slope_in: torch.Tensor | None = None) -> torch.Tensor:
    """noise, lr_latent (n, C, T); text_tokens (n, S, D); roll-offs (n,) [; slope_in (n,) dB/octave for a model
    with the slope condition] -> x0 (n, C, T). One call per pass."""
    x = noise.float().clone()
    n = x.shape[0]
    ones, zeros = torch.ones(n), torch.zeros(n)
    for i in range(steps):
        t, t_next = 1.0 - i / steps, 1.0 - (i + 1) / steps
        tt = torch.full((n,), t)
        v0 = model.velocity(x, tt, lr_latent, zeros, text_tokens, zeros, rolloff_in, rolloff_out, slope_in)
        v1 = model.velocity(x, tt, lr_latent, ones, text_tokens, zeros, rolloff_in, rolloff_out, slope_in)
        v2 = model.velocity(x, tt, lr_latent, ones, text_tokens, ones, rolloff_in, rolloff_out, slope_in)
        x = x + (t_next - t) * (v0 + cfg_acoustic * (v1 - v0) + cfg_text * (v2 - v1))
    return x


@torch.no_grad()
def reference_restore(model: SagaSR, lr_audio: torch.Tensor, noise: torch.Tensor, captions: list[str],
                      rolloff_in: torch.Tensor, rolloff_out: torch.Tensor, steps: int, cfg_acoustic: float,
                      cfg_text: float, slope_in: torch.Tensor | None = None) -> torch.Tensor:
    """One window per row: LR audio (n, 1, L) -> restored audio (n, 1, L) (no low-band replacement)."""
    lr = model.encode_audio(lr_audio)
    tokens = model.encode_text(*model.tokenize(captions))
    x0 = reference_sample(model, noise, lr, tokens, rolloff_in, rolloff_out, steps, cfg_acoustic, cfg_text, slope_in)
    return model.decode_latent(x0)
