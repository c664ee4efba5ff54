"""The Lightning driver shared by ``sagasr-train vae`` and ``sagasr-train diffusion``.

A run folder holds: ``run.json`` (the resolved config), ``base/`` (the model's initial weights incl. the frozen
parts, a ``sagasr_export`` checkpoint: resume rebuilds the exact same frozen VAE/text encoder from it),
``state/`` (safetensors training state), ``checkpoint/`` (EMA weights, exportable), ``logs/`` (CSV, TensorBoard).
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from sagasr_stream.files import atomic_write_text

from .audio_files import checked_clips, corpus_audio
from .checkpointing import latest_state, load_state, replace_folder
from .config import VAE_PARTS, DataConfig, TrainConfig, load_train_config, to_json  # noqa: F401 (re-exported)
from .data import StepBatchSampler, WindowDataset, collate, worker_init

if TYPE_CHECKING:
    from lightning.fabric.plugins.precision.precision import _PRECISION_INPUT


def model_config(cfg: TrainConfig) -> Any:
    """The sagasr_export config of the run (window length and rate flow into the data config)."""
    from sagasr_export.model import load_config, named_config

    name = cfg.model
    return load_config(name) if name.endswith(".json") or os.sep in name else named_config(name)


def _precision(cfg: TrainConfig) -> _PRECISION_INPUT:
    if cfg.precision != "auto":
        return cast("_PRECISION_INPUT", cfg.precision)  # as given: Lightning's Trainer refuses a wrong one by name
    return "bf16-mixed" if torch.cuda.is_available() and cfg.accelerator in ("auto", "gpu", "cuda") else "32-true"


def _loaders(cfg: TrainConfig, start: int, trainer: Any, pairs: bool = True) -> tuple[Any, Any]:
    from torch.utils.data import DataLoader

    if cfg.data.bank_versions:
        return _bank_loaders(cfg, start, trainer)
    if cfg.data.latent_cache:
        from .latent_cache import LatentCacheDataset

        train: Any = LatentCacheDataset(cfg.data.latent_cache, cfg.data, "train")
        val: Any = LatentCacheDataset(cfg.data.latent_cache, cfg.data, "val")
    else:
        train, val = WindowDataset(cfg.data, "train"), WindowDataset(cfg.data, "val")
    rank, world = trainer.global_rank, trainer.world_size
    micro_start = start * cfg.accumulate
    n = (cfg.max_steps - start) * cfg.accumulate
    kw: dict[str, Any] = dict(collate_fn=collate, num_workers=cfg.data.num_workers, worker_init_fn=worker_init,
                              persistent_workers=False, pin_memory=torch.cuda.is_available())
    tl = DataLoader(train, batch_sampler=StepBatchSampler(cfg.batch_size, n, micro_start, rank, world), **kw)
    vl = DataLoader(val, batch_sampler=StepBatchSampler(cfg.batch_size, max(1, cfg.val_batches), 0, rank, world,
                                                        wrap=len(val)), **kw)
    return tl, vl


def _bank_loaders(cfg: TrainConfig, start: int, trainer: Any) -> tuple[Any, Any]:
    """Loaders over an in-memory :class:`~sagasr_training.pair_bank.PairBank` on this rank's device; the
    validation loader draws from the same clips with its own seed stream and every condition kept."""
    import copy

    from torch.utils.data import DataLoader

    from .pair_bank import PairBank, identity_collate

    device = trainer.strategy.root_device
    train = PairBank(cfg.data, cfg.data.bank_versions, device, "train", cfg.data.bank_workers)
    val = copy.copy(train)
    val.split = "val"
    rank, world = trainer.global_rank, trainer.world_size
    n = (cfg.max_steps - start) * cfg.accumulate
    tl = DataLoader(train, batch_sampler=StepBatchSampler(cfg.batch_size, n, start * cfg.accumulate, rank, world),
                    collate_fn=identity_collate)
    vl = DataLoader(val, batch_sampler=StepBatchSampler(cfg.batch_size, max(1, cfg.val_batches), 0, rank, world),
                    collate_fn=identity_collate)
    return tl, vl


def _check_audio(cfg: TrainConfig) -> None:
    """Check every audio file of a run on audio before anything is built or written (one error names each damaged
    file: :func:`~sagasr_training.audio_files.checked_clips`). A latent-cache run reads no audio; a pair bank
    checks the clips of its token file when it is built."""
    if cfg.data.latent_cache or cfg.data.bank_versions or not cfg.data.root:
        return
    root = Path(cfg.data.root)
    checked_clips(corpus_audio(root, cfg.data.file_list), root)


def _count_batches_from(trainer: Any, micro_batches: int) -> None:
    """Validate at the global multiples of ``val_every``, as an uninterrupted run does: with
    ``check_val_every_n_epoch=None`` Lightning counts ``val_check_interval`` on its loop's total batch count, which a
    fresh trainer starts at 0, i.e. at the resumed step (a run resumed at step 3 with ``val_every`` 2 validated after
    step 5); here it starts at the micro-batches already trained. Only the validation check reads that count (the
    step counter, the schedule and the logs use the optimizer steps)."""
    total = trainer.fit_loop.epoch_loop.batch_progress.total
    total.ready = total.started = total.processed = total.completed = micro_batches


def _fresh_model(cfg: TrainConfig, mcfg: Any) -> Any:
    """The model a new diffusion run starts from: ``init_checkpoint`` or fresh weights, then ``vae_weights``."""
    from sagasr_export.model.checkpoint import load_checkpoint
    from sagasr_export.model import build_model

    from .vae import load_autoencoder_weights

    model = load_checkpoint(cfg.init_checkpoint) if cfg.init_checkpoint else build_model(mcfg)
    if cfg.init_weights:
        from sagasr_export.model.checkpoint import load_trained_weights

        load_trained_weights(model, cfg.init_weights)
    if cfg.vae_weights:
        load_autoencoder_weights(model, cfg.vae_weights)
    return model


def _audio_run_model(cfg: TrainConfig) -> Any:
    """For the commands that read audio through a fresh run's frozen VAE: the data config prepared for the
    model (rate, window, input level; no latent cache), validated, and the model (seeded by ``cfg.seed``)."""
    mcfg = model_config(cfg)
    cfg.data.sample_rate, cfg.data.window_samples = mcfg.sample_rate, mcfg.window_samples
    cfg.data.degrade = dataclasses.replace(cfg.data.degrade, input_peak=float(getattr(mcfg, "input_peak", 0.5)))
    cfg.data.latent_cache = None
    cfg.validate()
    torch.manual_seed(cfg.seed)
    return _fresh_model(cfg, mcfg)


def cache_latents(cfg: TrainConfig, out: str | Path, num_items: int, batch_size: int = 8) -> Path:
    """Encode ``num_items`` training windows of ``cfg.data`` with the run's frozen VAE and text encoder into
    ``out`` (see :mod:`sagasr_training.latent_cache`); train on it with ``data.latent_cache`` and the same
    ``vae_weights``/``init_checkpoint``."""
    from .latent_cache import build_latent_cache

    model = _audio_run_model(cfg)
    return build_latent_cache(model, cfg.data, out, num_items, batch_size, cfg.progress)


def text_tokens(cfg: TrainConfig, out: str | Path) -> Path:
    """Encode every training file's caption with the run's frozen text encoder into ``out``
    (:func:`~sagasr_training.pair_bank.write_text_tokens`); use it as ``data.text_tokens``."""
    from .pair_bank import write_text_tokens

    return write_text_tokens(_audio_run_model(cfg), cfg.data, out)


def write_scaled_model_config(cfg: TrainConfig, out: str | Path, num_items: int = 64) -> dict[str, list[float]]:
    """Measure the per-channel mean and std of the run's VAE latents
    (:func:`~sagasr_training.latent_cache.latent_stats`) and write the run's model config with
    ``latent_shift = mean`` and ``latent_scale = 1 / std`` to ``out`` (JSON, for ``--model``). Returns both."""
    import json as _json

    from .latent_cache import latent_stats

    model = _audio_run_model(cfg)
    mcfg = model.config
    mean, std = latent_stats(model, cfg.data, num_items)
    if not (std > 0).all():
        raise ValueError(f"VAE latent channel(s) {list(np.flatnonzero(std <= 0))} are constant: is the VAE trained?")
    scaled = mcfg.to_dict()
    scaled["latent_shift"] = [round(float(x), 7) for x in mean]
    scaled["latent_scale"] = [round(float(1.0 / x), 7) for x in std]
    for c in range(mcfg.generated_channels, mcfg.vae.latent_dim):  # not generated: they stay the sampler's noise
        scaled["latent_shift"][c], scaled["latent_scale"][c] = 0.0, 1.0
    scaled["$comment"] = (f"{mcfg.name} with per-channel latent_shift = mean and latent_scale = 1 / std of the VAE "
                          f"latents over {num_items} training windows")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(_json.dumps(scaled, indent=1) + "\n", encoding="utf-8")
    return {"latent_shift": scaled["latent_shift"], "latent_scale": scaled["latent_scale"]}


FIXED_ON_RESUME = ("model", "init_checkpoint", "init_weights", "vae_weights", "train_only")  # what base/ and the state hold


def _read_run_json(path: Path) -> dict[str, Any]:
    """A run's recorded config; a damaged file is an error naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is damaged ({exc}); restore it, or start afresh with --no-resume") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is damaged (not a JSON object); restore it, or start afresh with --no-resume")
    return data


def _resumed_model_config(run_dir: Path) -> Any:
    """The model config a run was saved with (``base/`` or ``checkpoint/config.json``), or None: a resume takes
    its rate, window and input level from the network it trains, not from a model JSON path that may not exist
    here (a run unpacked on another machine)."""
    from sagasr_export.model import load_config

    for path in (run_dir / "base" / "config.json", run_dir / "checkpoint" / "config.json"):
        if path.is_file():
            return load_config(str(path))
    return None


def _changed_settings(recorded: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """``key old -> new`` for every setting (dotted for nested ones) that differs from the recorded run.json;
    the run folder's own path and the resume switch are left out."""
    out = []
    for key, value in now.items():
        if key in ("run_dir", "resume") and not prefix:
            continue
        old = recorded.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out += _changed_settings(old, value, f"{prefix}{key}.")
        elif key in recorded and old != value:
            out.append(f"{prefix}{key} {old!r} -> {value!r}")
    return out


def _refuse_to_replace_checkpoint(run_dir: Path) -> None:
    """A run folder with a trained checkpoint but no state to resume (``pack --checkpoint-only``, a cleared
    ``state/``): a fresh run would replace that checkpoint at its first save, so it is an error."""
    record = run_dir / "checkpoint" / "training.json"
    if not record.is_file():
        return
    try:
        step = json.loads(record.read_text(encoding="utf-8")).get("step", "?")
    except (ValueError, UnicodeDecodeError, AttributeError):
        step = "?"
    raise ValueError(f"{run_dir} holds a checkpoint of step {step} but no training state to resume (state/latest; "
                     "pack --checkpoint-only brings none): a fresh run would replace it. Train in another --run-dir, "
                     "or pass --no-resume to start afresh here")


def run(kind: str, cfg: TrainConfig) -> Path:
    """Train (``kind`` "diffusion" or "vae") until ``cfg.max_steps``; resumes from the run's latest state."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback, TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from sagasr_export.model.checkpoint import load_checkpoint, save_checkpoint
    from sagasr_export.model import build_autoencoder

    run_dir = Path(cfg.run_dir)
    state_dir = latest_state(run_dir) if cfg.resume else None
    if cfg.resume and state_dir is None:
        _refuse_to_replace_checkpoint(run_dir)
    recorded: dict[str, Any] = {}
    if state_dir is not None and (run_dir / "run.json").is_file():  # before base/ is touched
        recorded = _read_run_json(run_dir / "run.json")
        done = recorded.get("kind")
        if done not in (None, kind):
            raise ValueError(f"{run_dir} holds a {done} run; train the {kind} in another --run-dir "
                             "(or start this folder afresh with --no-resume)")
        now, defaults = to_json(cfg), to_json(TrainConfig())
        changed = [key for key in FIXED_ON_RESUME
                   if key in recorded and now.get(key) != defaults.get(key) and recorded[key] != now.get(key)]
        if changed:  # the network and its frozen parts come from base/: these would be recorded, not used
            raise ValueError(f"{run_dir} resumes a run whose {', '.join(changed)} "
                             f"{'was' if len(changed) == 1 else 'were'} " + ", ".join(
                                 f"{recorded[k]!r} (given {now.get(k)!r})" for k in changed)
                             + ": a resume keeps its network; start another --run-dir (or --no-resume)")
        for key in FIXED_ON_RESUME:  # not given: the run's own, so that run.json keeps naming its network
            if key in recorded and now.get(key) == defaults.get(key):
                setattr(cfg, key, recorded[key])
    mcfg = _resumed_model_config(run_dir) if state_dir is not None else None
    mcfg = mcfg or model_config(cfg)
    cfg.data.sample_rate, cfg.data.window_samples = mcfg.sample_rate, mcfg.window_samples
    cfg.data.degrade = dataclasses.replace(cfg.data.degrade, input_peak=float(getattr(mcfg, "input_peak", 0.5)))
    cfg.validate()
    changed_settings = _changed_settings(recorded, {"kind": kind, **to_json(cfg)}) if recorded else []
    if changed_settings:  # applied from the resumed step (README): said, so that a forgotten flag is seen
        print(f"{run_dir}: resuming with settings other than its last start's: {', '.join(changed_settings)}",
              file=sys.stderr)
    _check_audio(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = load_state(state_dir) if state_dir else None
    start = int(resume["info"]["step"]) if resume else 0
    if start >= cfg.max_steps:
        print(f"{run_dir}: already at step {start} >= max_steps {cfg.max_steps}; nothing to do")
        return run_dir / "checkpoint"
    opt = {k: getattr(cfg, k) for k in ("lr", "betas", "weight_decay", "inv_gamma", "power", "warmup", "ema_decay",
                                         "ema_warmup", "seed", "save_every", "keep_checkpoints", "logit_mean",
                                         "logit_std", "kl_weight", "l1_weight", "lsd_weight", "vae_parts",
                                         "activation_checkpointing",
                                         "rolloff_unknown_fraction", "caption_dropout", "time_one_fraction",
                                         "grown_lr_scale", "train_only", "band_lsd_weight")}
    opt["run_dir"] = str(run_dir)
    torch.manual_seed(cfg.seed)
    base = run_dir / "base"
    is_rank0 = int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0
    if kind == "diffusion":
        from .lightning_module import DiffusionModule

        if resume is not None and (base / "model.safetensors").is_file():
            model = load_checkpoint(base)  # the exact frozen parts of the interrupted run
        else:  # every rank builds the same weights (same seed); DDP also broadcasts rank 0's at start
            model = _fresh_model(cfg, mcfg)
            if is_rank0:
                replace_folder(base, lambda d: save_checkpoint(model, d))
        if cfg.data.latent_cache:
            from .latent_cache import check_cache_fits

            check_cache_fits(cfg.data.latent_cache, model, cfg.data.window_samples)
        module: Any = DiffusionModule(model.train(), opt, resume)
    elif kind == "vae":
        if cfg.data.latent_cache:
            raise ValueError("data.latent_cache is for diffusion runs; a VAE trains on audio (data.root)")
        from safetensors.torch import load_file

        from .vae import VAEModule

        ae = build_autoencoder(mcfg)
        if resume is not None and (base / "autoencoder.safetensors").is_file():
            ae.load_state_dict(load_file(str(base / "autoencoder.safetensors")))
        else:
            if cfg.vae_weights:  # a fine-tune: every rank starts from the same trained weights
                from sagasr_export.model.checkpoint import load_vae_weights

                load_vae_weights(ae, cfg.vae_weights)
            if is_rank0:
                from safetensors.torch import save_file

                replace_folder(base, lambda d: save_file({k: v.contiguous() for k, v in ae.state_dict().items()},
                                                      str(d / "autoencoder.safetensors")))
        module = VAEModule(ae, mcfg.to_dict(), opt, resume)
    else:
        raise ValueError(f"unknown training kind {kind!r}")
    if is_rank0:
        atomic_write_text(run_dir / "run.json", json.dumps({"kind": kind, **to_json(cfg)}, indent=1) + "\n")
    loggers = [CSVLogger(str(run_dir), name="logs", version=f"from-{start:08d}"),
               TensorBoardLogger(str(run_dir), name="tb", version=f"from-{start:08d}")]
    callbacks: list[Callback] = [TQDMProgressBar(refresh_rate=max(1, cfg.log_every))] if cfg.progress else []
    trainer = L.Trainer(
        accelerator=cfg.accelerator, devices=cfg.devices, num_nodes=cfg.num_nodes, strategy=cfg.strategy,
        precision=_precision(cfg), max_steps=cfg.max_steps - start, max_epochs=1,
        max_time=None if cfg.max_minutes is None else datetime.timedelta(minutes=cfg.max_minutes),
        accumulate_grad_batches=cfg.accumulate, gradient_clip_val=cfg.grad_clip or None,
        logger=loggers, callbacks=callbacks, enable_progress_bar=cfg.progress, enable_checkpointing=False,
        enable_model_summary=False, log_every_n_steps=max(1, cfg.log_every), num_sanity_val_steps=0,
        val_check_interval=max(1, min(cfg.val_every, cfg.max_steps)) * cfg.accumulate,
        check_val_every_n_epoch=None,  # counted on the loop's total batches: _count_batches_from
        limit_val_batches=cfg.val_batches if cfg.val_every > 0 else 0,  # val_every 0: never, as save_every 0
        use_distributed_sampler=False, deterministic=False,
        default_root_dir=str(run_dir))
    _count_batches_from(trainer, start * cfg.accumulate)
    module.make_loaders = lambda: _loaders(cfg, start, trainer)
    loaders: dict[str, Any] = {}

    def train_dataloader() -> Any:
        loaders["t"], loaders["v"] = module.make_loaders()
        return loaders["t"]

    def val_dataloader() -> Any:
        if "v" not in loaders:
            loaders["t"], loaders["v"] = module.make_loaders()
        return loaders["v"]

    module.train_dataloader = train_dataloader
    module.val_dataloader = val_dataloader
    trainer.fit(module)
    return run_dir / "checkpoint"
