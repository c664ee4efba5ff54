"""Pre-encoded training pairs: the frozen VAE and text encoder run once, the DiT trains on the cache.

On a CPU the frozen encoders cost far more than the small DiT's step (two VAE encodes of 65536 samples per
window against one DiT call on 32 frames), so a cache is what makes CPU training of the default model
practical. Item ``i`` of the cache is item ``i`` of :class:`~sagasr_training.data.WindowDataset` (same window,
same low-pass draw), encoded; only the condition dropouts are drawn again per global sample index, so every
epoch trains every pass state of SPEC section 1.

File: one safetensors file with ``x0``, ``lr_latent`` (N, C, T) float32, ``text_tokens`` (N, S, D) float16,
``rolloff_in``, ``rolloff_out`` (N,) float32, ``target_tilted`` (N,) bool, and metadata (model name, latent shape, the data config).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset

from sagasr_stream.files import atomic_path

from .data import DataConfig, WindowDataset, collate

CACHE_KEYS = ("x0", "lr_latent", "text_tokens", "rolloff_in", "rolloff_out")


@torch.no_grad()
def encode_items(model: Any, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """WindowDataset items -> cached tensors (see module doc), in item order."""
    batch = collate(items)
    hr_lr = model.encode_audio(torch.cat([batch["hr"], batch["lr"]])).float()
    x0, lr_latent = hr_lr.chunk(2)
    ids, mask = model.tokenize(batch["caption"])
    tokens = model.encode_text(ids, mask)
    return {"x0": x0, "lr_latent": lr_latent, "text_tokens": tokens.half(),
            "rolloff_in": batch["rolloff_in"].float(), "rolloff_out": batch["rolloff_out"].float(),
            "target_tilted": batch["target_tilted"].bool()}


def build_latent_cache(model: Any, data: DataConfig, out: str | Path, num_items: int, batch_size: int = 8,
                       progress: bool = True) -> Path:
    """Encode items ``0 .. num_items-1`` of the train split into ``out`` (written atomically). Returns ``out``."""
    if num_items <= 0:
        raise ValueError(f"num_items must be positive, got {num_items}")
    out = Path(out)
    dataset = WindowDataset(data, "train")
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in CACHE_KEYS}
    starts = range(0, num_items, batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="encoding windows", unit="batch")
    for s in starts:
        enc = encode_items(model, [dataset[i] for i in range(s, min(s + batch_size, num_items))])
        for k in CACHE_KEYS:
            parts[k].append(enc[k])
    tensors = {k: torch.cat(v).contiguous() for k, v in parts.items()}
    meta = {"format": "sagasr-latent-cache/1", "model": model.config.name, "num_items": str(num_items),
            "latent_shape": json.dumps(list(tensors["x0"].shape[1:])),
            "data": json.dumps({"root": str(data.root), "seed": data.seed, "val_fraction": data.val_fraction,
                                "window_samples": data.window_samples})}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return out


@torch.no_grad()
def latent_stats(model: Any, data: DataConfig, num_items: int, batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (C,) float64 of the raw VAE posterior mean over HR windows ``0 .. num_items-1``
    of the train split (over windows and frames). ``latent_shift = mean``, ``latent_scale = 1 / std`` give the
    flow zero-mean unit-variance latents in every channel."""
    if num_items <= 0:
        raise ValueError(f"num_items must be positive, got {num_items}")
    dataset = WindowDataset(data, "train")
    model.eval()
    total = total_sq = torch.zeros((), dtype=torch.float64)  # sums over windows and frames: (C,) after one batch
    count = 0
    for s in range(0, num_items, batch_size):
        hr = collate([dataset[i] for i in range(s, min(s + batch_size, num_items))])["hr"]
        z = model.autoencoder.encoder(hr).chunk(2, dim=1)[0].double()  # (B, C, T), before shift and scale
        total, total_sq, count = total + z.sum(dim=(0, 2)), total_sq + (z * z).sum(dim=(0, 2)), count + z.shape[0] * z.shape[2]
    mean = (total / count).numpy()
    return mean, np.sqrt(np.maximum((total_sq / count).numpy() - mean**2, 0.0))


@torch.no_grad()
def check_cache_fits(path: str | Path, model: Any, window_samples: int) -> None:
    """Raise ValueError naming the cache when its latents (C, T) or text tokens (width D) are not what ``model``
    makes of a ``window_samples`` window (a cache encoded by another model would fail deep inside the DiT)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        latent = tuple(f.get_slice("x0").get_shape()[1:])
        text_width = f.get_slice("text_tokens").get_shape()[-1]
    model_latent = tuple(model.encode_audio(torch.zeros(1, 1, window_samples)).shape[1:])
    if latent != model_latent or text_width != model.text_encoder.dim:
        raise ValueError(f"latent cache {path} was encoded by another model: latents {latent} and text width "
                         f"{text_width}, this model's {model_latent} and {model.text_encoder.dim}")


class LatentCacheDataset(Dataset):
    """Global sample index -> cached item ``index % N`` with fresh dropouts (``lr_keep``, ``cross_keep``).

    Item keys as the cache plus ``lr_keep``, ``cross_keep`` () float32 and ``index`` int64; ``split="val"``
    keeps every condition (as :class:`WindowDataset` does)."""

    def __init__(self, path: str | Path, cfg: DataConfig, split: str = "train") -> None:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"latent cache {path} is not a file")
        tensors = load_file(str(path))
        missing = [k for k in CACHE_KEYS if k not in tensors]
        if missing:
            raise ValueError(f"latent cache {path} lacks {missing}")
        self.tensors = {k: tensors[k] for k in CACHE_KEYS}
        n = self.tensors["x0"].shape[0]  # caches written before the flag existed: every target natural
        self.tensors["target_tilted"] = tensors.get("target_tilted", torch.zeros(n, dtype=torch.bool))
        self.cfg, self.split = cfg, split
        n_val = min(n - 1, int(round(n * cfg.val_fraction)))  # the last items are held out
        if split == "val":  # with none held out, validate on the last item rather than on nothing
            self.items = list(range(n - max(n_val, 1), n))
        else:
            self.items = list(range(n - n_val))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        cfg, n = self.cfg, len(self.items)
        item = self.items[int(index) % n]
        rng = np.random.default_rng([cfg.seed, 3, int(index)])
        train = self.split == "train"
        out: dict[str, Any] = {k: v[item] for k, v in self.tensors.items()}
        out["text_tokens"] = out["text_tokens"].float()
        out["lr_keep"] = torch.tensor(float(rng.random() >= cfg.lr_dropout) if train else 1.0)
        out["cross_keep"] = torch.tensor(float(rng.random() >= cfg.cross_dropout) if train else 1.0)
        out["index"] = torch.tensor(int(index))
        out["caption"] = ""
        return out
