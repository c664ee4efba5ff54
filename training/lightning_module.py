"""Lightning modules: SAGA-SR diffusion (DiT + conditioner trained; VAE and text encoder frozen) and the VAE.

Shared machinery (:class:`StepModule`): AdamW + :class:`InverseLR`, EMA of the trained weights, per-step
deterministic randomness (noise/t seeded by the batch's first global sample index), safetensors training state
every ``save_every`` optimizer steps and at the end, exact resume (the step counter continues from the state;
the data sampler starts at that step).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import numpy as np
import torch
from torch import nn

from sagasr_stream.settings import ROLLOFF_UNKNOWN

from .checkpointing import keep_checkpoint, load_state, optimizer_from_flat, replace_folder, save_state
from .ema import EMA
from .objectives import flow_loss, flow_pair, logit_normal, one_step_band_lsd, pin_times
from .schedulers import InverseLR

if TYPE_CHECKING:
    from sagasr_export.model import SagaSR


class StepModule(L.LightningModule):
    """Base: subclasses define ``trained()`` (name -> parameter), ``loss(batch, generator)`` and ``export(dir)``.

    ``opt``: dict with lr, betas, weight_decay, inv_gamma, power, warmup, ema_decay, seed, save_every, run_dir."""

    def __init__(self, opt: dict[str, Any], resume: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.opt = opt
        self.resume = resume
        self.start_step = int(resume["info"]["step"]) if resume else 0
        self.ema: EMA | None = None
        self.last_saved = -1

    # --- to define -------------------------------------------------------------------------------------
    def trained(self) -> dict[str, nn.Parameter]:
        raise NotImplementedError

    def loss(self, batch: dict[str, Any], gen: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def export(self, folder: Path) -> None:
        raise NotImplementedError

    # --- common ----------------------------------------------------------------------------------------
    def _optimizer(self) -> torch.optim.Optimizer:
        """The run's optimizer (:meth:`configure_optimizers` makes one), torch's own (not Lightning's wrapper)."""
        optim = self.optimizers(use_pl_optimizer=False)
        if isinstance(optim, list):
            raise RuntimeError(f"expected the one optimizer of configure_optimizers, the trainer holds {len(optim)}")
        return optim

    def _scheduler(self) -> InverseLR:
        """The run's learning-rate schedule (:meth:`configure_optimizers` makes one :class:`InverseLR`)."""
        sched = self.lr_schedulers()
        if not isinstance(sched, InverseLR):
            raise RuntimeError(f"expected the InverseLR of configure_optimizers, the trainer holds {sched!r}")
        return sched

    @property
    def step(self) -> int:
        """Optimizer steps done since the run began (across resumes)."""
        return self.start_step + int(self.global_step)

    def setup_trained(self) -> None:
        """Load resumed weights and create the EMA (call at the end of the subclass ``__init__``)."""
        if self.resume:
            params = self.trained()
            missing = set(params) - set(self.resume["trainable"])
            if missing:
                raise ValueError(f"resume state lacks weights {sorted(missing)[:5]}")
            with torch.no_grad():
                for k, p in params.items():
                    p.copy_(self.resume["trainable"][k])
        self.ema = EMA(self.trained(), self.opt["ema_decay"], bool(self.opt.get("ema_warmup", True)))
        if self.resume and self.resume["ema"] is not None:
            self.ema.load_state_dict(self.resume["ema"], int(self.resume["info"].get("ema_updates", self.start_step)))

    def generator(self, batch: dict[str, Any], salt: int) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(int(self.opt["seed"]) * 1_000_003 + int(batch["index"][0]) * 7 + salt)
        return g

    def param_groups(self) -> list[dict[str, Any]]:
        """The optimizer's parameter groups: every trained weight, at ``lr``; with a ``grown_lr_scale`` other than
        1, the zero-initialised additions (:data:`~sagasr_export.model.checkpoint.GROWN_PREFIXES`) in a second
        group at that multiple (each group's ``lr_scale``)."""
        from sagasr_export.model.checkpoint import GROWN_PREFIXES

        lr, scale = float(self.opt["lr"]), float(self.opt.get("grown_lr_scale", 1.0))
        trained = self.trained()
        grown = [p for k, p in trained.items() if k.startswith(GROWN_PREFIXES)] if scale != 1.0 else []
        rest = [p for k, p in trained.items() if not (grown and k.startswith(GROWN_PREFIXES))]
        groups = [{"params": rest, "lr": lr, "lr_scale": 1.0}, {"params": grown, "lr": lr * scale, "lr_scale": scale}]
        return [group for group in groups if group["params"]]  # (train_only may leave only the grown ones)

    def configure_optimizers(self) -> Any:
        o = self.opt
        groups = self.param_groups()
        optim = torch.optim.AdamW(groups, lr=o["lr"], betas=tuple(o["betas"]), weight_decay=o["weight_decay"])
        sched = InverseLR(optim, inv_gamma=o["inv_gamma"], power=o["power"], warmup=o["warmup"])
        if self.resume:
            info = self.resume["info"]
            saved = len(info["optimizer"]["param_groups"])
            if saved != len(groups):
                raise ValueError(f"the resumed state has {saved} parameter group(s), this run {len(groups)}: resume "
                                 "with the grown_lr_scale the run was started with (1, or another value)")
            optimizer_from_flat(optim, self.resume["optimizer_tensors"], info["optimizer"])
            sched.load_state_dict(info["scheduler"])
            # the config's settings, not those stored with the state: a resume with another lr (or betas, weight
            # decay, schedule) trains with it, as with every other setting; the same command resumes exactly
            sched.inv_gamma, sched.power, sched.warmup = o["inv_gamma"], o["power"], o["warmup"]
            scales = [float(g["lr_scale"]) for g in groups]
            sched.base_lrs = [float(o["lr"]) * scale for scale in scales]
            sched._last_lr = sched.get_lr()
            for g, lr, base, scale in zip(optim.param_groups, sched.get_last_lr(), sched.base_lrs, scales):
                g.update(lr=lr, initial_lr=base, lr_scale=scale, betas=tuple(o["betas"]),
                         weight_decay=o["weight_decay"])
        return {"optimizer": optim, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self.loss(batch, self.generator(batch, 0))
        bs = len(batch["index"])
        for k, v in out.items():
            self.log(f"train/{k}", v.detach(), prog_bar=(k == "loss"), batch_size=bs, sync_dist=False)
        self.log("train/lr", self._optimizer().param_groups[0]["lr"], batch_size=bs)
        self.log("train/step", float(self.step), batch_size=bs)
        if not torch.isfinite(out["loss"]):  # stop before the step: the weights and the last saved state stay finite
            raise FloatingPointError(f"the training loss is {out['loss'].item()} at step {self.step}: the run "
                                     "diverged (a lower --lr?); its last saved state is kept")
        return out["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self.loss(batch, self.generator(batch, 1))
        for k, v in out.items():
            self.log(f"val/{k}", v.detach(), batch_size=len(batch["index"]), sync_dist=True)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        accum = self.trainer.accumulate_grad_batches
        if (batch_idx + 1) % accum == 0 and self.ema is not None:
            self.ema.update(self.trained())
            every = int(self.opt["save_every"])
            if every > 0 and self.step % every == 0:
                self.save()

    def on_train_end(self) -> None:
        if self.last_saved != self.step:
            self.save()

    def save(self) -> None:
        """Training state (all ranks reach here; rank 0 writes) + an exportable checkpoint of the EMA weights."""
        self.last_saved = self.step
        bad = [name for name, p in self.trained().items() if not torch.isfinite(p).all()]
        if bad:  # a diverged step: keep the last saved state and checkpoint as they are
            raise FloatingPointError(f"{len(bad)} trained tensor(s) are not finite at step {self.step} (e.g. "
                                     f"{bad[0]}): the run diverged (a lower --lr?); its last saved state is kept")
        if self.trainer.global_rank != 0:
            return
        optim, sched = self._optimizer(), self._scheduler()
        info = {"scheduler": {k: v for k, v in sched.state_dict().items() if k != "_get_lr_called_within_step"},
                "ema_updates": self.ema.updates if self.ema else 0, "opt": self.opt}
        run = Path(self.opt["run_dir"])

        def checkpoint(folder: Path) -> None:
            self.export(folder)
            (folder / "training.json").write_text(json.dumps({"step": self.step, "ema": True}) + "\n")

        # the checkpoint first, swapped in whole: a state at step N (which resume, or "nothing to do", trusts)
        # always comes with the step-N checkpoint, never with a torn or older one
        replace_folder(run / "checkpoint", checkpoint)
        if self.opt.get("keep_checkpoints"):
            keep_checkpoint(run, self.step)
        save_state(run, self.step, {k: p for k, p in self.trained().items()},
                   self.ema.state_dict() if self.ema else None, optim, info)


class DiffusionModule(StepModule):
    """SAGA-SR latent rectified flow. Batch: see :class:`sagasr_training.data.WindowDataset`."""

    def __init__(self, model: SagaSR, opt: dict[str, Any], resume: dict[str, Any] | None = None) -> None:
        super().__init__(opt, resume)
        self.model = model
        for part in (model.autoencoder, model.text_encoder):
            part.requires_grad_(False)
            part.eval()
        self.model.use_checkpointing = bool(opt.get("activation_checkpointing", False))
        self.band_geometry = envelope_band_geometry(model) if model.config.vae.kind == "mdct-env" else None
        if float(opt.get("band_lsd_weight", 0.0)) and self.band_geometry is None:
            raise ValueError(f"band_lsd_weight needs an mdct-env model (log band powers in its latent), this one's "
                             f"VAE is {model.config.vae.kind!r}")
        only = tuple(opt.get("train_only") or ())
        if only:  # the rest stays as loaded: no gradient, no optimizer state, no EMA
            names = dict(self.all_trainable())
            unmatched = [prefix for prefix in only if not any(k.startswith(prefix) for k in names)]
            if unmatched:
                raise ValueError(f"train_only: no trained weight of this model starts with {unmatched} "
                                 "(names such as 'dit.' or 'conditioner.slope_in.')")
            for k, p in names.items():
                p.requires_grad_(k.startswith(only))
        self.setup_trained()

    def all_trainable(self) -> dict[str, nn.Parameter]:
        """Every weight a diffusion run may train: the DiT's and the conditioner's, by their model names."""
        out = {f"dit.{k}": p for k, p in self.model.dit.named_parameters()}
        out.update({f"conditioner.{k}": p for k, p in self.model.conditioner.named_parameters()})
        return out

    def trained(self) -> dict[str, nn.Parameter]:
        """The weights this run trains: :meth:`all_trainable`, or those of them under ``train_only``."""
        only = tuple(self.opt.get("train_only") or ())
        return {k: p for k, p in self.all_trainable().items() if not only or k.startswith(only)}

    def on_train_epoch_start(self) -> None:
        self.model.autoencoder.eval()

    def loss(self, batch: dict[str, Any], gen: torch.Generator) -> dict[str, torch.Tensor]:
        m = self.model
        if "x0" in batch:  # pre-encoded (sagasr_training.latent_cache)
            x0, lr_lat, tokens = batch["x0"], batch["lr_latent"], batch["text_tokens"]
        else:
            with torch.no_grad():
                hr, lr = batch["hr"], batch["lr"]
                both = m.encode_audio(torch.cat([hr, lr])).float()
                x0, lr_lat = both.chunk(2)
                if "text_tokens" in batch:  # precomputed (sagasr_training.pair_bank)
                    tokens = batch["text_tokens"]
                else:
                    ids, mask = m.tokenize(batch["caption"])
                    tokens = m.encode_text(ids.to(hr.device), mask.to(hr.device))
        b = x0.shape[0]
        t = logit_normal((b,), gen, self.opt.get("logit_mean", 0.0), self.opt.get("logit_std", 1.0), device=x0.device)
        if x0.device.type == "cpu":
            noise = torch.randn(x0.shape, generator=gen)
        else:  # drawn on the device (a CPU draw of a large batch costs more than the step); same seed
            dev_gen = torch.Generator(device=x0.device).manual_seed(int(gen.initial_seed()))
            noise = torch.randn(x0.shape, generator=dev_gen, device=x0.device)
        rolloff_out = hide_rolloffs(batch["rolloff_out"], float(self.opt.get("rolloff_unknown_fraction", 0.0)), gen,
                                    batch.get("target_tilted"))
        tokens = drop_captions(tokens, float(self.opt.get("caption_dropout", 0.0)), gen)
        t = pin_times(t, float(self.opt.get("time_one_fraction", 0.0)), gen)  # drawn last: other draws unchanged
        x_t, target = flow_pair(x0, noise, t)
        slope_in = input_slopes(batch, m.config.sample_rate) if m.config.dit.slope_condition else None
        v = m.velocity(x_t, t, lr_lat, batch["lr_keep"], tokens, batch["cross_keep"], batch["rolloff_in"], rolloff_out,
                       slope_in)
        out = {"loss": flow_loss(v, target)}
        c = m.config.generated_channels
        if c < v.shape[1]:  # mdct-env: the excitation's share of the loss is its noise, whatever the weights
            out["generated"] = flow_loss(v[:, :c], target[:, :c])
        if self.band_geometry is not None and "cutoff_hz" in batch:
            lower_hz, width, inv_scale = self.band_geometry
            above = batch["cutoff_hz"].view(-1, 1).to(lower_hz.device) <= lower_hz.view(1, -1)
            band_lsd = one_step_band_lsd(v[:, :c], target[:, :c], t, above.to(v.device), width, inv_scale)
            weight = float(self.opt.get("band_lsd_weight", 0.0))
            if band_lsd is not None:
                out["band_lsd"] = band_lsd
                if weight:
                    out["loss"] = out["loss"] + weight * band_lsd
        return out

    def export(self, folder: Path) -> None:
        """EMA weights into a copy of the model -> ``sagasr_export.model.checkpoint.save_checkpoint`` folder."""
        from sagasr_export.model.checkpoint import save_checkpoint

        params = self.trained()
        backup = {k: p.detach().clone() for k, p in params.items()}
        if self.ema is not None:
            self.ema.copy_to(params)
        try:
            save_checkpoint(self.model, folder)
        finally:
            with torch.no_grad():
                for k, p in params.items():
                    p.copy_(backup[k])


def envelope_band_geometry(model: SagaSR) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An ``mdct-env`` model's envelope bands: (K,) lower edges (Hz), (K,) widths (MDCT bins), and (S K,) 1 / the
    latent scale of its envelope channels (latent units -> natural-log power), float32."""
    from sagasr_export.model.mdct import band_edges

    cfg = model.config
    edges = torch.tensor(band_edges(cfg.vae.hop), dtype=torch.float32)
    channels = cfg.generated_channels
    scale = torch.as_tensor(cfg.latent_scale, dtype=torch.float32).flatten()
    scale = scale.expand(channels) if scale.numel() == 1 else scale[:channels]
    return edges[:-1] * (cfg.sample_rate / 2 / cfg.vae.hop), edges[1:] - edges[:-1], 1.0 / scale


def input_slopes(batch: dict[str, Any], sample_rate: int) -> torch.Tensor:
    """(B,) float32 slope of each input window below its band edge, dB/octave (the ``slope_in`` condition), measured
    on ``batch["lr"]`` (B, 1, L) as the runtime measures it (:func:`~sagasr_stream.replication.window_slope`): at the
    edge the window's own search finds, or, where that finds none (a dark window can sink below any drop: the runtime
    then takes the edge of the signal so far), at the band limit's cutoff ``batch["cutoff_hz"]`` (B,)."""
    from sagasr_stream.dsp import N_FFT
    from sagasr_stream.replication import window_slope

    if "lr" not in batch or "cutoff_hz" not in batch:
        raise ValueError("dit.slope_condition measures each input window's slope on its audio; a latent cache "
                         "(data.latent_cache) holds none: train on audio (data.root, or data.bank_versions)")
    lr = batch["lr"][:, 0].detach().cpu().double().numpy()
    cutoffs = np.rint(batch["cutoff_hz"].detach().cpu().double().numpy() * N_FFT / sample_rate).astype(int)
    slopes = [window_slope(row, sample_rate, fallback_edge=int(cutoff)) for row, cutoff in zip(lr, cutoffs)]
    return torch.tensor(slopes, dtype=torch.float32, device=batch["lr"].device)


def hide_rolloffs(rolloff_out: torch.Tensor, fraction: float, gen: torch.Generator,
                  target_tilted: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) target roll-off ratios with a ``fraction`` of them (drawn from ``gen``) set to
    :data:`sagasr_stream.settings.ROLLOFF_UNKNOWN`: the model learns the output roll-off the input implies.

    Only natural targets are hidden: where ``target_tilted`` (B,) bool is set, the target's band was tilted to
    vary its roll-off for the guidance, and "unknown" must mean the recording's own roll-off, not an average
    over the training tilts (which would make "model" darker than real recordings)."""
    if fraction <= 0.0:
        return rolloff_out
    hide = torch.rand(rolloff_out.shape, generator=gen).to(rolloff_out.device) < fraction
    if target_tilted is not None:
        hide = hide & ~target_tilted.to(device=hide.device, dtype=torch.bool)
    return torch.where(hide, torch.full_like(rolloff_out, ROLLOFF_UNKNOWN), rolloff_out)


def drop_captions(tokens: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    """(B, S, D) text tokens with a ``fraction`` of the rows (drawn from ``gen``) zeroed: what the runtime feeds
    for an empty caption (:meth:`sagasr_stream.model.SagaSRModel.text_tokens`), while the roll-off tokens stay.
    Without it the default, caption-less run is a condition that training never showed the model."""
    if fraction <= 0.0:
        return tokens
    keep = torch.rand(tokens.shape[0], generator=gen).to(tokens.device) >= fraction
    return tokens * keep.to(tokens.dtype)[:, None, None]


def load_resume(folder: str | Path | None) -> dict[str, Any] | None:
    return load_state(folder) if folder else None
