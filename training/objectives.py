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
