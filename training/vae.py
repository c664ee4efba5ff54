"""Oobleck VAE training (the small default model needs its own VAE): multi-resolution STFT + KL (+ L1).

The autoencoder is ``sagasr_export.model.build_autoencoder(config)`` so its weights load straight into
``SagaSR.autoencoder``. Output: ``<run>/checkpoint/autoencoder.safetensors`` (EMA weights, keys as in
``SagaSR.autoencoder.state_dict()``) + ``config.json`` (the model config it was built from).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from sagasr_export.model import Autoencoder, SagaSR
from sagasr_export.model.checkpoint import load_vae_weights

from .lightning_module import StepModule


def stft_mag(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    """(B, L) -> |STFT| (B, F, frames), hop n_fft/4, Hann."""
    win = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    return torch.stft(x, n_fft, hop_length=n_fft // 4, window=win, return_complex=True).abs()


def mrstft_loss(pred: torch.Tensor, target: torch.Tensor, ffts: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64),
                eps: float = 1e-7) -> torch.Tensor:
    """Mean over resolutions of spectral convergence + L1 of log magnitudes. pred/target (B, 1, L) -> scalar."""
    p, t = pred.float().flatten(0, 1), target.float().flatten(0, 1)
    total = p.new_zeros(())
    for n in ffts:
        mp, mt = stft_mag(p, n), stft_mag(t, n)
        sc = torch.linalg.norm(mt - mp) / (torch.linalg.norm(mt) + eps)
        mag = torch.mean(torch.abs(torch.log(mp + eps) - torch.log(mt + eps)))
        total = total + sc + mag
    return total / len(ffts)


def lsd_loss(pred: torch.Tensor, target: torch.Tensor, n_fft: int = 2048, eps: float = 1e-8) -> torch.Tensor:
    """Log-spectral distance as ``sagasr eval`` scores it (log10 power + ``eps``, per-frame RMS over bins, mean
    over frames; hop n_fft/4). pred/target (B, 1, L) -> scalar; differentiable."""
    p, t = pred.float().flatten(0, 1), target.float().flatten(0, 1)
    diff = torch.log10(stft_mag(p, n_fft).pow(2) + eps) - torch.log10(stft_mag(t, n_fft).pow(2) + eps)
    return torch.sqrt(diff.pow(2).mean(dim=1) + 1e-12).mean()


class VAEModule(StepModule):
    """Trains ``autoencoder`` (all of it, or the decoder only with ``opt["vae_parts"] == "decoder"``) on the HR
    windows of the batch (hr (B, 1, L))."""

    def __init__(self, autoencoder: Autoencoder, model_config: dict[str, Any], opt: dict[str, Any],
                 resume: dict[str, Any] | None = None) -> None:
        super().__init__(opt, resume)
        self.autoencoder = autoencoder
        self.model_config = model_config
        self.setup_trained()

    @property
    def decoder_only(self) -> bool:
        return self.opt.get("vae_parts", "all") == "decoder"

    def trained(self) -> dict[str, nn.Parameter]:
        params = dict(self.autoencoder.named_parameters())
        if self.decoder_only:
            return {k: p for k, p in params.items() if k.startswith("decoder.")}
        return params

    def loss(self, batch: dict[str, Any], gen: torch.Generator) -> dict[str, torch.Tensor]:
        x = batch["hr"]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.decoder_only):
            h = self.autoencoder.encoder(x)
        mean, scale = h.chunk(2, dim=1)
        stdev = nn.functional.softplus(scale) + 1e-4  # SAT VAEBottleneck parameterisation
        z = mean + stdev * torch.randn(mean.shape, generator=gen).to(mean.device, mean.dtype)
        kl = (mean.pow(2) + stdev.pow(2) - torch.log(stdev.pow(2)) - 1).sum(1).mean()
        y = self.autoencoder.decoder(z)
        stft = mrstft_loss(y, x)
        l1 = torch.mean(torch.abs(y.float() - x.float()))
        loss = stft + self.opt.get("l1_weight", 0.1) * l1 + self.opt.get("kl_weight", 1e-4) * kl
        parts = {"mrstft": stft.detach(), "l1": l1.detach(), "kl": kl.detach()}
        if self.opt.get("lsd_weight", 0.0) > 0:
            lsd = lsd_loss(y, x)
            loss = loss + self.opt["lsd_weight"] * lsd
            parts["lsd"] = lsd.detach()
        return {"loss": loss, **parts}

    def export(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.autoencoder.state_dict().items()}
        if self.ema is not None:
            for k, v in self.ema.state_dict().items():
                state[k] = v.to(state[k].dtype)
        save_file(state, str(folder / "autoencoder.safetensors"))
        (folder / "config.json").write_text(json.dumps(self.model_config, indent=1) + "\n", encoding="utf-8")


def load_autoencoder_weights(model: SagaSR, path: str | Path) -> None:
    """Load a VAE run's weights into ``model.autoencoder`` (see :func:`sagasr_export.model.checkpoint.load_vae_weights`)."""
    load_vae_weights(model.autoencoder, path)
