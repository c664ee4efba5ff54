"""Exponential moving average of a module's parameters (float32 shadow copies)."""
from __future__ import annotations

import torch
from torch import nn


class EMA:
    """shadow <- decay * shadow + (1 - decay) * param, with warm-up decay min(decay, (1 + n) / (10 + n)).

    ``warmup`` False: the full decay from the first update, so the average starts from the initial weights and
    leaves them slowly (a fine-tune of trained weights, whose first steps are the noisiest)."""

    def __init__(self, named_params: dict[str, nn.Parameter], decay: float = 0.999, warmup: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError("ema decay must be in [0, 1)")
        self.decay, self.updates, self.warmup = decay, 0, warmup
        self.shadow = {k: p.detach().float().clone() for k, p in named_params.items()}

    @torch.no_grad()
    def update(self, named_params: dict[str, nn.Parameter]) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates)) if self.warmup else self.decay
        for k, p in named_params.items():
            s = self.shadow[k]
            if s.device != p.device:
                s = self.shadow[k] = s.to(p.device)
            s.mul_(d).add_(p.detach().float(), alpha=1 - d)
        self.updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.shadow.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor], updates: int) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise ValueError(f"EMA state lacks {sorted(missing)[:5]}")
        for k in self.shadow:
            self.shadow[k] = state[k].float().to(self.shadow[k].device).clone()
        self.updates = updates

    @torch.no_grad()
    def copy_to(self, named_params: dict[str, nn.Parameter]) -> None:
        for k, p in named_params.items():
            p.copy_(self.shadow[k].to(p.device, p.dtype))
