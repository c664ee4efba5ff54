"""Rectified-flow objective (SPEC section 1): x_t = (1 - t) x0 + t noise, target v = noise - x0, t ~ logit-normal."""
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
