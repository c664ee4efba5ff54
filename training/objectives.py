"""Rectified-flow objective (SPEC section 1): x_t = (1 - t) x0 + t noise, target v = noise - x0, t ~ logit-normal
(optionally a share pinned to t = 1, :func:`pin_times`)."""
from __future__ import annotations

import torch


def logit_normal(shape: tuple[int, ...], generator: torch.Generator | None = None, mean: float = 0.0,
                 std: float = 1.0, device: torch.device | str = "cpu") -> torch.Tensor:
    """t = sigmoid(N(mean, std)) in (0, 1), float32 of ``shape``."""
    z = torch.randn(shape, generator=generator, device="cpu") * std + mean
    return torch.sigmoid(z).to(device)


def flow_pair(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x0, noise (B, C, T), t (B,) -> (x_t, target v = noise - x0)."""
    tt = t.to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
    return (1 - tt) * x0 + tt * noise, noise - x0


def flow_loss(v_pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error in float32 -> scalar."""
    return torch.mean((v_pred.float() - target.float()) ** 2)


def pin_times(t: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    """(B,) times with a ``fraction`` of them (drawn from ``gen``) set to exactly 1: pure noise, the time of the
    sampler's first Euler step and, at 1 step, its only one. Logit-normal draws (mean 0, std 1) almost never come
    near it (P(t > 0.95) = 0.2 %), so without this the one-step default evaluates the model where it never trained."""
    if fraction <= 0.0:
        return t
    pin = torch.rand(t.shape, generator=gen).to(t.device) < fraction
    return torch.where(pin, torch.ones_like(t), t)


# The spread LSD adds to every frame of a restored band whatever its envelope, in natural-log power: the fine
# structure within the bands (7.9 dB rms, measured on the tuning split and the selection clips at 4 / 8 / 12 kHz
# after the runtime's chain: LSD-HF 12.75 dB against 10.0 dB for the 1/6-octave band levels per frame).
FINE_STRUCTURE_NEPERS = 1.8


def one_step_band_lsd(v_pred: torch.Tensor, target: torch.Tensor, t: torch.Tensor, above: torch.Tensor,
                      width: torch.Tensor, inv_scale: torch.Tensor,
                      floor: float = FINE_STRUCTURE_NEPERS) -> torch.Tensor | None:
    """An LSD-shaped loss of the one-step pairs on the envelope of the band they restore, float32 scalar.

    ``v_pred``, ``target``: (B, S K, T) velocities of an ``mdct-env`` latent's envelope channels (S stacked MDCT
    frames of K log band powers, channel s K + k); ``t``: (B,); ``above``: (B, K) bool, the bands above each pair's
    cutoff; ``width``: (K,) band widths (bins); ``inv_scale``: (S K,) 1 / the latent scale (latent units -> natural-log
    power). Per pair at t = 1 (where the one-step sampler's x0 error is its velocity error) and MDCT frame, with e
    the x0 error in log power: sqrt(the width-weighted mean of e^2 over the bands above the cutoff + floor^2) - floor,
    averaged. As LSD does, each frame counts by its root mean square: errors much larger than ``floor`` count by
    their size, not its square, so the rare frames far off (an unpredictably dark or bright clip) do not pull every
    other frame's band towards them, as the squared flow loss does. None when no pair is at t = 1 with a band above
    its cutoff.
    """
    keep = (t == 1) & above.any(dim=1)
    if not bool(keep.any()):
        return None
    bands = width.shape[0]
    error = (v_pred[keep].float() - target[keep].float()) * inv_scale.view(1, -1, 1).to(v_pred.device)
    error = error.reshape(error.shape[0], -1, bands, error.shape[-1])  # (B', S, K, T)
    weight = (above[keep].float() * width.view(1, -1).to(v_pred.device)).view(-1, 1, bands, 1)
    frame_mse = (weight * error ** 2).sum(dim=2) / weight.sum(dim=2)  # (B', S, T)
    return torch.mean(torch.sqrt(frame_mse + floor ** 2) - floor)
