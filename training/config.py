"""A training run's configuration: :class:`TrainConfig` (with its :class:`DataConfig` and
:class:`~sagasr_training.degrade.DegradeConfig`), read from JSON and command-line flags.

Each field is declared once, with its default, help text and unit (:func:`sagasr_stream.options.option`);
``sagasr-train`` derives its flags from these fields (:mod:`sagasr_stream.cli.fields`). No torch here, so the
command line parses without it.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from sagasr_stream.json_types import type_problem
from sagasr_stream.options import option

from .degrade import DegradeConfig

VAE_PARTS = ("all", "decoder")


def int_or_auto(text: str) -> int | str:
    """A count, or the word "auto" (``--devices``)."""
    return text if text == "auto" else int(text)


@dataclass
class DataConfig:
    """Where the audio is and how windows are cut. ``window_samples`` comes from the model config."""

    root: str = option("", flag="--data", help="folder of training audio (recursive)")
    captions: str | None = option(None, help="caption cache (JSON lines)")
    latent_cache: str | None = option(None, help="pre-encoded pairs (diffusion; see cache-latents)")
    text_tokens: str | None = option(None, help="precomputed caption tokens (see text-tokens); pair bank only")
    caption_variants: bool = option(False, help="text-tokens: also encode shorter phrasings of each caption "
                                    "(sagasr_training.captions.caption_variants); the pair bank draws one per item")
    bank_versions: int = option(0, unit="versions", help="> 0: in-memory pair bank on the training device with "
                                "this many band-limited versions per clip (sagasr_training.pair_bank)")
    bank_workers: int = option(1, unit="processes", help="processes that read and band-limit the bank's clips")
    file_list: str | None = option(None, help="only these files: a text file of paths relative to --data, "
                                   "e.g. train.txt")
    sample_rate: int = option(44100, unit="Hz", command_line=False, help="set from the model config")
    window_samples: int = option(65536, unit="samples", command_line=False, help="set from the model config")
    val_fraction: float = option(0.02, help="share of the files held out for validation, in [0, 1)")
    silence_db: float = option(-60.0, unit="dB", help="windows whose HR peak is below this are skipped")
    lr_dropout: float = option(0.1, help="P(lr_keep = 0): share of items without the LR latent condition")
    cross_dropout: float = option(0.1, help="P(cross_keep = 0): share of items without text and roll-off, "
                                  "independent of --lr-dropout")
    seed: int = option(0, flag="--data-seed", help="seed of the windows and low-pass draws")
    num_workers: int = option(0, flag="--workers", unit="processes", help="data loader workers")
    degrade: DegradeConfig = option(default_factory=DegradeConfig, flag="--degrade-",
                                    help="the training low-pass ranges (flags --degrade-...)")

    def validate(self) -> "DataConfig":
        if self.latent_cache is not None:
            if not Path(self.latent_cache).is_file():
                raise ValueError(f"data.latent_cache {self.latent_cache!r} is not a file")
        elif not self.root or not Path(self.root).is_dir():
            raise ValueError(f"data.root {self.root!r} is not a folder")
        if self.window_samples <= 0:
            raise ValueError("data.window_samples must be positive")
        for key in ("val_fraction", "lr_dropout", "cross_dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ValueError(f"data.{key} must be in [0, 1)")
        if self.file_list is not None and not Path(self.file_list).is_file():
            raise ValueError(f"data.file_list {self.file_list!r} is not a file")
        if self.seed < 0 or self.num_workers < 0:
            raise ValueError(f"data.seed and data.num_workers must be >= 0, got {self.seed} and {self.num_workers}")
        if self.bank_versions < 0 or self.bank_workers < 1:
            raise ValueError("data.bank_versions must be >= 0 and data.bank_workers >= 1")
        if self.bank_versions and (self.text_tokens is None or not Path(self.text_tokens).is_file()):
            raise ValueError(f"data.bank_versions needs data.text_tokens, a file (got {self.text_tokens!r})")
        if self.captions is not None and not Path(self.captions).is_file():
            raise ValueError(f"data.captions {self.captions!r} is not a file")
        self.degrade.validate(self.sample_rate)
        return self


@dataclass
class TrainConfig:
    """Everything a run needs; JSON ``{"model": ..., "data": {...}, ...}`` (unknown keys are errors)."""

    model: str = option("small", help="model config: tiny, small, full or a JSON path (sagasr_export)")
    run_dir: str = option("runs/sagasr", help="run folder (run.json, base/, state/, checkpoint/, logs/)")
    data: DataConfig = option(default_factory=DataConfig, flag="--", help="the training data")
    init_checkpoint: str | None = option(None, help="sagasr_export checkpoint folder to start from")
    init_weights: str | None = option(None, help="trained weights to start from (sagasr-train slim's "
                                      "model.safetensors: dit.*, conditioner.*)")
    vae_weights: str | None = option(None, help="VAE run checkpoint folder or autoencoder.safetensors: the frozen "
                                     "VAE of a diffusion run, or the starting weights of a VAE fine-tune")
    max_steps: int = option(26000, unit="steps", help="optimizer steps of the run")
    batch_size: int = option(8, unit="items", help="items per device and micro-batch")
    accumulate: int = option(1, unit="micro-batches", help="gradient accumulation per step")
    lr: float = option(1e-5, help="learning rate (AdamW)")
    betas: tuple[float, float] = option((0.9, 0.999), help="AdamW betas")
    weight_decay: float = option(1e-3, help="AdamW weight decay")
    inv_gamma: float = option(1e6, help="inverse-decay warm-up schedule: inv_gamma")
    power: float = option(0.5, help="inverse-decay warm-up schedule: power")
    warmup: float = option(0.99, help="inverse-decay warm-up schedule: warmup")
    ema_decay: float = option(0.999, help="EMA decay of the exported weights")
    ema_warmup: bool = option(True, help="EMA: ramp the decay up over the first steps; off for a fine-tune, whose "
                              "average then starts from the initial weights")
    grad_clip: float = option(1.0, help="gradient norm clip")
    train_only: tuple[str, ...] | None = option(None, help="diffusion: train only the weights whose names start with "
                                                "these prefixes (e.g. conditioner.slope_in. to teach a grown condition "
                                                "while the rest stays as loaded); default: the DiT and the conditioner")
    grown_lr_scale: float = option(1.0, help="learning-rate multiplier of the zero-initialised parts a run adds to "
                                   "the weights it starts from (the slope condition of dit.slope_condition): they "
                                   "start at zero and have to catch up")
    logit_mean: float = option(0.0, help="logit-normal time sampling: mean")
    logit_std: float = option(1.0, help="logit-normal time sampling: standard deviation")
    kl_weight: float = option(1e-4, help="VAE: weight of the KL loss")
    l1_weight: float = option(0.1, help="VAE: weight of the L1 loss")
    lsd_weight: float = option(0.0, help="VAE: weight of the log-spectral distance loss (the eval metric)")
    rolloff_unknown_fraction: float = option(
        0.0, help="diffusion: share of the natural (untilted) pairs whose target roll-off is fed as unknown "
                  "(sagasr_stream.settings.ROLLOFF_UNKNOWN), so the model also learns to choose the output roll-off "
                  "from the input; tilted targets always give theirs")
    caption_dropout: float = option(
        0.0, help="diffusion: share of the pairs trained without their caption (zero text tokens) but with their "
                  "roll-offs, as the runtime runs an empty caption; independent of data.cross_dropout, which drops "
                  "text and roll-offs together (the guidance's null)")
    time_one_fraction: float = option(
        0.0, help="diffusion: share of the pairs trained at t = 1 exactly (pure noise), where the sampler's first "
                  "step, at 1 step its only one, evaluates the model; the rest keep the logit-normal times")
    band_lsd_weight: float = option(
        0.0, help="diffusion, mdct-env: weight of an LSD-shaped loss on the one-step pairs (t = 1): per MDCT frame "
                  "the root mean square of the envelope's log-power error over the bands above the pair's cutoff, "
                  "the fine structure's spread added (sagasr_training.objectives.one_step_band_lsd; logged as "
                  "'band_lsd')")
    vae_parts: str = option("all", choices=VAE_PARTS, help="VAE: train all of it or the decoder only (encoder "
                            "frozen: the latent space of an existing DiT stays valid)")
    seed: int = option(0, help="seed of the model's initialisation and the noise")
    save_every: int = option(1000, unit="steps", help="save state and checkpoint every this many steps (0: only "
                             "at the end)")
    keep_checkpoints: bool = option(False, help="also keep each saved EMA checkpoint as RUN/kept/step-N (checkpoint/ "
                                    "and run.json: `sagasr-train slim RUN/kept/step-N` takes it), to choose among "
                                    "them after the run; the run's checkpoint/ is still replaced at each save")
    val_every: int = option(1000, unit="steps", help="validate every this many steps (0: never)")
    val_batches: int = option(4, unit="batches", help="batches per validation")
    log_every: int = option(10, unit="steps", help="log every this many steps")
    accelerator: str = option("auto", help="Lightning accelerator: auto, cpu, gpu, ...")
    devices: int | str = option("auto", parse=int_or_auto, help="devices per node, or auto")
    num_nodes: int = option(1, help="machines")
    strategy: str = option("auto", help="auto, ddp, ddp_find_unused_parameters_true, fsdp, ...")
    precision: str = option("auto", help="auto (bf16-mixed on CUDA, 32-true on CPU), 32-true, bf16-mixed, 16-mixed")
    activation_checkpointing: bool = option(False, help="recompute activations in the backward pass (less memory)")
    progress: bool = option(True, help="progress bar")
    max_minutes: float | None = option(None, unit="minutes", help="stop (saving state and checkpoint) after this "
                                       "much training time")
    resume: bool = option(True, help="continue from run_dir/state/latest if present")

    def validate(self) -> "TrainConfig":
        check_finite_numbers(self)
        if not all(0.0 <= beta < 1.0 for beta in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {list(self.betas)}")
        for key in ("max_steps", "batch_size", "accumulate", "num_nodes"):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key} must be positive")
        if isinstance(self.devices, int) and not (self.devices >= 1 or self.devices == -1):
            raise ValueError(f"devices must be a count >= 1, -1 (all) or 'auto', got {self.devices}")
        if self.lr <= 0:
            raise ValueError("lr must be positive")
        if self.grown_lr_scale <= 0:
            raise ValueError(f"grown_lr_scale must be positive, got {self.grown_lr_scale}")
        if self.grad_clip < 0:  # a negative norm would flip every gradient: ascent, not descent
            raise ValueError(f"grad_clip must be >= 0 (0: no clipping), got {self.grad_clip}")
        for key in ("save_every", "val_every"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0 (0: {'only at the end' if key == 'save_every' else 'never'}), "
                                 f"got {getattr(self, key)}")
        if self.val_batches < 0:
            raise ValueError(f"val_batches must be >= 0 (0: no validation), got {self.val_batches}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError(f"max_minutes must be positive, got {self.max_minutes}")
        if self.vae_parts not in VAE_PARTS:
            raise ValueError(f"vae_parts must be one of {VAE_PARTS}, got {self.vae_parts!r}")
        for key in ("kl_weight", "l1_weight", "lsd_weight", "band_lsd_weight"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0")
        for key in ("rolloff_unknown_fraction", "caption_dropout", "time_one_fraction"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"{key} must be in [0, 1], got {getattr(self, key)}")
        self.data.validate()
        return self


def check_finite_numbers(config: Any, where: str = "") -> None:
    """Raise ValueError naming the key of any float in ``config`` (a dataclass, nested ones and tuples included)
    that is NaN or infinite: ``--lr inf`` or ``--logit-mean nan`` trained to NaN weights and exited 0."""
    for f in fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            check_finite_numbers(value, f"{where}{f.name}.")
            continue
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{where}{f.name} must be a finite number, got {value!r}")


def _build(cls: type, data: Any, where: str) -> dict[str, Any]:
    """The keyword arguments of ``cls`` from a JSON object; unknown keys and values of the wrong type (a string
    for a number, "false" for false) are errors naming the key (``where``: its prefix, "" at the top)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where.rstrip('.') or 'the config'} must be a JSON object, got {data!r}")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names - {"$comment"} - ({"kind"} if cls is TrainConfig else set())  # run.json's verb
    if unknown:
        raise ValueError(f"unknown key(s) in {where.rstrip('.') or 'config'}: {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    out = {}
    for k, v in data.items():
        if k not in names:
            continue
        if v == "" and typing.get_args(hints[k]) in ((str, type(None)), (type(None), str)):
            v = None  # `--captions ''`: clears a path the config file sets
        problem = None if dataclasses.is_dataclass(hints[k]) else type_problem(v, hints[k])
        if problem:
            raise ValueError(f"{where}{k} must be {problem}, got {v!r}")
        out[k] = tuple(v) if isinstance(v, list) else v
    return out


def load_train_config(source: str | os.PathLike[str] | dict[str, Any] | None = None, **overrides: Any) -> TrainConfig:
    """JSON file or dict, then ``overrides`` (None values ignored; dotted keys such as "data.root" or
    "data.degrade.cutoff_min_hz" allowed) -> the config (call ``.validate()`` to check it)."""
    raw: dict[str, Any] = {}
    if isinstance(source, dict):
        raw = json.loads(json.dumps(source))
    elif source:
        try:
            raw = json.loads(Path(source).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{source}: a training config is a JSON object, got {type(raw).__name__}")
    for k, v in overrides.items():
        if v is None:
            continue
        *heads, tail = k.split(".")
        target = raw
        for head in heads:
            target = target.setdefault(head, {})
        target[tail] = v
    data = _build(DataConfig, raw.pop("data", None) or {}, "data.")
    deg = _build(DegradeConfig, data.pop("degrade", None) or {}, "data.degrade.")
    dcfg = DataConfig(**data, degrade=DegradeConfig(**deg))
    top = _build(TrainConfig, raw, "")
    return TrainConfig(**top, data=dcfg)


def to_json(cfg: TrainConfig) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(cfg)))
