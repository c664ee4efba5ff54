"""Learning-rate schedules. SAT 0.0.19's ``InverseLR`` passes ``verbose`` to ``LRScheduler`` and raises on
torch >= 2.7; this is the same schedule written against the current API."""
from __future__ import annotations

import torch
from torch.optim.lr_scheduler import LRScheduler


class InverseLR(LRScheduler):
    """lr = base_lr * warmup_factor * max(final_lr/base_lr, (1 + step / inv_gamma) ** -power),
    warmup_factor = 1 - warmup ** (step + 1) (SAT / k-diffusion definition)."""

    def __init__(self, optimizer: torch.optim.Optimizer, inv_gamma: float = 1e6, power: float = 0.5,
                 warmup: float = 0.99, final_lr: float = 0.0, last_epoch: int = -1) -> None:
        if not 0.0 <= warmup < 1.0:
            raise ValueError("warmup must be in [0, 1)")
        if inv_gamma <= 0:
            raise ValueError("inv_gamma must be > 0")
        self.inv_gamma, self.power, self.warmup, self.final_lr = inv_gamma, power, warmup, final_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:  # LRScheduler's type (its base_lrs may hold tensors)
        return self._closed_form(self.last_epoch)

    def _closed_form(self, step: int) -> list[float | torch.Tensor]:
        warm = 1.0 - self.warmup ** (step + 1)
        decay = (1.0 + step / self.inv_gamma) ** -self.power
        return [warm * max(self.final_lr, base * decay) for base in self.base_lrs]
