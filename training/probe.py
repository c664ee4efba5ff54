"""A held-out loss at the default run's condition, to choose among a run's checkpoints without the runtime.

    sagasr-train probe --model training/weights/v3-repeat/config.json \\
        --weights v3.9=training/weights/v3-repeat/model.safetensors --weights c1000=STEP/checkpoint/model.safetensors \\
        --set ms7=MS7/clips:40 --set avl11=AVL11:30 [--windows 96] [--batch 16] [--json OUT.json]

For each weights file and each set of clips: the mean flow loss of the DiT on the latent channels it generates (the
envelopes of an mdct-env model: the excitation keeps its noise whatever the weights), on fixed band-limited windows
of the clips (the training degradation, untilted targets, every condition kept), at the condition the default run
evaluates: t = 1 (one step), no caption, the output roll-off unknown. Windows, degradation and noise are drawn from
the seed alone, so every weights file sees the same pairs. On nine candidates of three GPU runs the sums ranked them
as the choice sets' mean LSD did but for one adjacent pair, in seconds per candidate where the choice sets take
minutes; a small gain here is not one there (a CPU continuation 6.8 % lower here: choice sets -0.27 %, and +0.15 %
without the runtime's chain after the DiT), so it chooses candidates, it does not judge them (model card, "more data
on a lent GPU, ...").

``--training-condition CONFIG`` scores the same windows under a training config's own draws instead (its times,
hidden roll-offs, tilted targets and dropped conditions; captions stay empty): whether a run lowers the objective it
optimises, on windows it did not train on (a lent GPU's runs raised theirs past step 1000, model card).
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

from .audio_files import named_folder, scan_audio
from .config import DataConfig, load_train_config

# the training options under which DiffusionModule.loss is the default run's one step (the EMA is never updated)
INFERENCE_CONDITION = {"time_one_fraction": 1.0, "caption_dropout": 1.0, "rolloff_unknown_fraction": 1.0,
                       "ema_decay": 0.0}


@dataclasses.dataclass(frozen=True)
class ProbeSet:
    """``NAME=FOLDER[:COUNT]``: the first COUNT audio files of FOLDER (sorted; all of them without COUNT)."""

    name: str
    folder: Path
    count: int = 0

    @classmethod
    def parse(cls, text: str) -> "ProbeSet":
        name, folder, count = named_folder(text)
        if not name or not folder:
            raise ValueError(f"probe set {text!r}: expected NAME=FOLDER[:COUNT]")
        return cls(name, Path(folder), count or 0)

    def files(self) -> list[Path]:
        if not self.folder.is_dir():
            raise FileNotFoundError(f"probe set {self.name}: {self.folder} is not a folder")
        files = scan_audio(self.folder)
        if not files:
            raise ValueError(f"probe set {self.name}: no audio files under {self.folder}")
        return files[: self.count] if self.count else files


@dataclasses.dataclass(frozen=True)
class Condition:
    """The draws the loss is taken under: :class:`DiffusionModule` options and the windows' data config (its
    degradation, target tilts and condition dropouts)."""

    options: dict[str, Any]
    data: DataConfig

    @classmethod
    def inference(cls) -> "Condition":
        """The default run's one step: t = 1, no caption, roll-off unknown, every condition kept, untilted targets."""
        data = DataConfig(root="", lr_dropout=0.0, cross_dropout=0.0)
        return cls(dict(INFERENCE_CONDITION), dataclasses.replace(
            data, degrade=dataclasses.replace(data.degrade, target_tilt_fraction=0.0)))

    @classmethod
    def of_training(cls, config: str | os.PathLike[str]) -> "Condition":
        """A training config's (JSON) own draws; the EMA is never updated."""
        cfg = load_train_config(config)
        options = {k: getattr(cfg, k) for k in ("time_one_fraction", "caption_dropout", "rolloff_unknown_fraction",
                                                "logit_mean", "logit_std")}
        return cls({**options, "ema_decay": 0.0}, cfg.data)


def fixed_batches(probe_set: ProbeSet, window_samples: int, windows: int, batch: int, seed: int,
                  condition: Condition | None = None) -> list[dict[str, Any]]:
    """``windows`` band-limited pairs of the set's files, spread evenly over them, in batches of ``batch``
    (:class:`~sagasr_training.data.WindowDataset` items: ``hr``, ``lr`` (B, 1, window_samples) float32, conditions),
    drawn as ``condition``'s data config says (default: :meth:`Condition.inference`)."""
    from .data import WindowDataset, collate

    data_config = (condition or Condition.inference()).data
    cfg = dataclasses.replace(data_config, root=str(probe_set.folder), window_samples=window_samples,
                              val_fraction=0.0, seed=seed, file_list=None, captions=None, text_tokens=None,
                              latent_cache=None)
    data = WindowDataset(cfg, "train", files=probe_set.files())
    step = max(1, len(data) // windows)  # fewer windows than asked: the indices wrap, with other degradation draws
    items = [data[i * step] for i in range(windows)]
    return [collate(items[i:i + batch]) for i in range(0, len(items), batch)]


METRICS = ("generated", "band_lsd")


def probe_loss(model: Any, batches: list[dict[str, Any]], seed: int, condition: Condition | None = None,
               metric: str = "generated") -> float:
    """Mean loss of ``model`` (a SagaSR) over ``batches`` under ``condition``'s options (default: the default run's
    one step), the draws of batch i from ``seed + i``. ``metric``: "generated", the squared flow loss on the
    channels the DiT generates (all of them where the model does not report it), or "band_lsd", the LSD-shaped loss
    of the one-step pairs on the band above each cutoff (:func:`~sagasr_training.objectives.one_step_band_lsd`;
    mdct-env models; batches without a pair at t = 1 are left out)."""
    if metric not in METRICS:
        raise ValueError(f"probe metric must be one of {', '.join(METRICS)}, got {metric!r}")
    import torch

    from .lightning_module import DiffusionModule

    module = DiffusionModule(model, dict((condition or Condition.inference()).options)).eval()
    losses = []
    with torch.no_grad():
        ids, mask = model.tokenize([""])
        empty = torch.zeros_like(model.encode_text(ids, mask))  # (1, S, D): the shape only (captions are dropped)
        for i, b in enumerate(batches):
            b = {**b, "text_tokens": empty.expand(len(b["index"]), -1, -1)}
            out = module.loss(b, torch.Generator().manual_seed(seed + i))
            if metric == "generated":
                losses.append(float(out.get("generated", out["loss"])))
            elif "band_lsd" in out:
                losses.append(float(out["band_lsd"]))
    if not losses:
        raise ValueError(f"probe metric {metric!r}: no batch reports it (band_lsd needs an mdct-env model and pairs "
                         "at t = 1)")
    return sum(losses) / len(losses)


def probe(config: str | os.PathLike[str], weights: dict[str, str | os.PathLike[str]], sets: list[ProbeSet],
          windows: int = 96, batch: int = 16, seed: int = 0, condition: Condition | None = None,
          metric: str = "generated") -> dict[str, dict[str, float]]:
    """{weights name: {set name: loss}} for every weights file: trained tensors (as ``--init-weights`` takes) on the
    model ``config``, or a checkpoint folder (``config.json`` + ``model.safetensors``, such as a run's kept steps);
    under ``condition`` (default: :meth:`Condition.inference`), by ``metric`` (:func:`probe_loss`)."""
    from sagasr_export.model import build_model, load_config
    from sagasr_export.model.checkpoint import load_checkpoint, load_trained_weights

    model_config = load_config(str(config))
    batches = {s.name: fixed_batches(s, model_config.window_samples, windows, batch, seed, condition) for s in sets}
    table: dict[str, dict[str, float]] = {}
    for name, path in weights.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if Path(path).is_dir():
                model = load_checkpoint(path)
            else:
                model = build_model(model_config)
                load_trained_weights(model, path)
        table[name] = {s.name: probe_loss(model, batches[s.name], seed, condition, metric) for s in sets}
    return table


def markdown(table: dict[str, dict[str, float]]) -> str:
    """The probe table as Markdown: a row per weights file, a column per set and their sum."""
    sets = list(next(iter(table.values())))
    lines = ["| weights | " + " | ".join(sets) + " | sum |", "|---|" + "---|" * (len(sets) + 1)]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[s]:.5f}" for s in sets) + f" | {sum(row.values()):.5f} |")
    return "\n".join(lines) + "\n"
