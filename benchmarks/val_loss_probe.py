"""Does a flow loss at the default run's condition track what the choice sets measure? (thirty-ninth session)

    python benchmarks/val_loss_probe.py --model training/weights/v3-repeat/config.json \\
        --weights v3.9=training/weights/v3-repeat/model.safetensors --weights c1000=RUN/step-1000/.../model.safetensors \\
        --set ms7=MS7/clips:40 --set avl11=AVL11:30 [--windows 96] [--batch 16]

For each weights file and each set of clips: the mean flow loss of the DiT (on the latent channels it generates:
the envelopes of an mdct-env model) on fixed band-limited windows of the clips (the training recipe's degradation, targets untilted), at the condition the default run evaluates: t = 1 (one
step), no caption, the output roll-off unknown. The windows, the noise and the degradation are drawn from
``--seed`` alone, so every weights file sees the same pairs. A GPU run could stop on such a number without sending
its checkpoints back; this measures whether the number orders candidates as the choice sets do (model card, "more
data on a lent GPU").
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from pathlib import Path

import torch

INFERENCE_CONDITION = {"time_one_fraction": 1.0, "caption_dropout": 1.0, "rolloff_unknown_fraction": 1.0,
                       "ema_decay": 0.0}  # (the module keeps an EMA; the probe never updates it)


def set_files(text: str) -> tuple[str, Path, list[Path]]:
    """``NAME=FOLDER[:COUNT]`` -> (name, folder, its first COUNT audio files, sorted)."""
    name, _, rest = text.partition("=")
    folder, colon, count = rest.rpartition(":")
    if not (colon and count.isdigit()):
        folder, count = rest, "0"
    root = Path(folder)
    if not name or not root.is_dir():
        raise SystemExit(f"--set {text!r}: expected NAME=FOLDER[:COUNT] with an existing folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".flac", ".wav"))
    return name, root, files[: int(count)] if int(count) else files


def fixed_batches(root: Path, files: list[Path], window_samples: int, windows: int, batch: int,
                  seed: int) -> list[dict]:
    """``windows`` band-limited training pairs of ``files`` (untilted targets), in batches, drawn from ``seed``."""
    from torch.utils.data import default_collate

    from sagasr_training.config import DataConfig
    from sagasr_training.data import WindowDataset

    cfg = DataConfig(root=str(root), window_samples=window_samples, val_fraction=0.0, seed=seed, lr_dropout=0.0,
                     cross_dropout=0.0)  # every condition kept, as the runtime runs
    cfg = dataclasses.replace(cfg, degrade=dataclasses.replace(cfg.degrade, target_tilt_fraction=0.0))
    data = WindowDataset(cfg, "train", files=files)
    step = max(1, len(data) // windows)
    items = [data[i * step] for i in range(windows)]
    return [default_collate(items[i:i + batch]) for i in range(0, len(items), batch)]


def probe_loss(config: Path, weights: Path, batches: list[dict], seed: int) -> float:
    """Mean flow loss of ``weights`` over ``batches`` at the inference condition (fixed noise per batch), on the
    channels the DiT generates (an mdct-env model's excitation keeps its noise whatever the weights)."""
    from sagasr_export.model import build_model, load_config
    from sagasr_export.model.checkpoint import load_trained_weights

    from sagasr_training.lightning_module import DiffusionModule

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(load_config(str(config)))
        load_trained_weights(model, weights)
    module = DiffusionModule(model, dict(INFERENCE_CONDITION)).eval()
    losses = []
    with torch.no_grad():
        for i, b in enumerate(batches):
            ids, mask = model.tokenize(["" for _ in b["caption"]])
            b = {**b, "text_tokens": torch.zeros_like(model.encode_text(ids, mask))}
            out = module.loss(b, torch.Generator().manual_seed(seed + i))
            losses.append(float(out.get("generated", out["loss"])))
    return sum(losses) / len(losses)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="the model config (JSON) the weights belong to")
    ap.add_argument("--weights", action="append", required=True, metavar="NAME=SAFETENSORS")
    ap.add_argument("--set", dest="sets", action="append", required=True, metavar="NAME=FOLDER[:COUNT]")
    ap.add_argument("--windows", type=int, default=96, help="windows per set (96)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from sagasr_export.model import load_config

    window = int(load_config(str(args.model)).window_samples)
    sets = [set_files(t) for t in args.sets]
    batches = {name: fixed_batches(root, files, window, args.windows, args.batch, args.seed)
               for name, root, files in sets}
    print("| weights | " + " | ".join(name for name, _, _ in sets) + " |")
    print("|---|" + "---|" * len(sets))
    for text in args.weights:
        label, _, path = text.partition("=")
        row = [probe_loss(args.model, Path(path), batches[name], args.seed) for name, _, _ in sets]
        print(f"| {label} | " + " | ".join(f"{x:.5f}" for x in row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
