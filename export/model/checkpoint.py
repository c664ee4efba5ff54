"""Checkpoints: a folder with ``model.safetensors`` + ``config.json`` (+ ``vocab.txt`` or ``tokenizer.json``).

The frozen text encoder's weights and HF config travel in the checkpoint, so :func:`load_checkpoint` needs no
download and no original text-encoder folder. Also: loading Stable Audio Open 1.0 weights (VAE, DiT and the
``seconds_start``/``seconds_total`` number conditioners -> roll-off in/out) from a user's local safetensors.
Safetensors only, never pickles.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .conditioners import TextEncoder
from .sagasr import SagaSR, SagaSRConfig, load_config

WEIGHTS, CONFIG = "model.safetensors", "config.json"
TEXT_SOURCE_KEY = "sagasr_text_source"  # text.hf_config key: where the text encoder's weights came from


def save_checkpoint(model: SagaSR, folder: str | os.PathLike[str]) -> Path:
    """Write ``model.safetensors`` (all weights incl. the text encoder), ``config.json`` and the tokenizer file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state, seen = {}, set()
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        if v.data_ptr() in seen:  # tied weights (T5 shared embedding): safetensors refuses shared storage
            v = v.clone()
        seen.add(v.data_ptr())
        state[k] = v
    save_file(state, str(folder / WEIGHTS), metadata={"format": "sagasr-checkpoint"})
    model.text_encoder.write_tokenizer(folder)
    config = model.config.to_dict()
    hf = model.text_encoder.model.config.to_dict()
    keep = {k: v for k, v in hf.items() if isinstance(v, (int, float, str, bool, type(None))) and not k.startswith("_")}
    source = model.config.text.path or (model.config.text.hf_config or {}).get(TEXT_SOURCE_KEY)
    if source:  # where the encoder's weights came from (e.g. "minilm"), for the bundle's manifest
        keep[TEXT_SOURCE_KEY] = source
    config["text"].update(path=None, hf_config=keep, vocab=None, tokenizer_file=None)
    (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return folder


def load_checkpoint(folder: str | os.PathLike[str], strict: bool = True) -> SagaSR:
    """Folder written by :func:`save_checkpoint` -> :class:`SagaSR` in eval mode."""
    folder = Path(folder)
    for name in (WEIGHTS, CONFIG):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"checkpoint {folder}: missing {name}")
    with safe_open(str(folder / WEIGHTS), "pt") as f:
        if (f.metadata() or {}).get("format") == "sagasr-trained-weights":  # sagasr-train slim: no VAE, no text
            raise ValueError(f"checkpoint {folder}: {WEIGHTS} holds only the trained weights (sagasr-train slim): "
                             f"export them with --random-config MODEL.json --trained-weights {folder / WEIGHTS} "
                             "(sagasr-train: --init-weights)")
    data = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    text = data.setdefault("text", {})
    if text.get("kind", "bert") == "bert" and not text.get("vocab"):
        text["vocab"] = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    if text.get("kind") == "t5":
        text["tokenizer_file"] = str(folder / "tokenizer.json")
    config = load_config(data)
    model = SagaSR(config)
    weights = load_file(str(folder / WEIGHTS))
    check_shapes(model, weights, f"checkpoint {folder}")
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if "position_ids" not in k]
    if strict and (missing or unexpected):
        raise ValueError(f"checkpoint {folder}: missing keys {missing[:8]}, unexpected keys {unexpected[:8]}")
    return model.eval()


def check_shapes(module: torch.nn.Module, weights: dict[str, torch.Tensor], what: str) -> None:
    """Raise ValueError naming ``what`` and the first tensors whose shape differs from ``module``'s (torch's
    load_state_dict raises a RuntimeError for them even when not strict): weights of another model size."""
    own = module.state_dict()
    wrong = [f"{k} {tuple(v.shape)} (the model's {tuple(own[k].shape)})" for k, v in weights.items()
             if k in own and own[k].shape != v.shape]
    if wrong:
        raise ValueError(f"{what} does not fit this model (another size?): {len(wrong)} tensor(s) of another shape, "
                         f"e.g. {'; '.join(wrong[:3])}")


# --- Stable Audio Open -------------------------------------------------------------------------------------
SAO_PREFIXES = (
    ("pretransform.model.", "autoencoder."),
    ("model.model.", "dit."),
    ("conditioner.conditioners.seconds_start.", "conditioner.rolloff_in."),
    ("conditioner.conditioners.seconds_total.", "conditioner.rolloff_out."),
)


def load_vae_weights(autoencoder: torch.nn.Module, path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Load a VAE run's ``autoencoder.safetensors`` (or its checkpoint folder) into ``autoencoder``; every weight
    must fit. Returns the loaded tensors."""
    p = Path(path)
    if p.is_dir():
        p = p / "autoencoder.safetensors"
    if not p.is_file():
        raise FileNotFoundError(f"no VAE weights at {p}")
    weights = load_file(str(p))
    check_shapes(autoencoder, weights, f"VAE weights {p}")
    missing, unexpected = autoencoder.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ValueError(f"VAE weights {p} do not fit this model's VAE: missing {missing[:4]}, unexpected {unexpected[:4]}")
    return weights


TRAINED_PREFIXES = ("dit.", "conditioner.")
FROZEN_IN_SLIM = ("autoencoder.",)  # in a slim file only when the run did not use the config's own VAE
GROWN_PREFIXES = ("conditioner.slope_in.",)  # zero-initialised additions a file from before them may lack


def load_trained_weights(model: SagaSR, path: str | os.PathLike[str]) -> int:
    """Load a file of the trained weights only (``dit.*``, ``conditioner.*``, any float dtype; written by
    ``sagasr-train slim``) into ``model``, whose frozen parts (VAE, text encoder) come from elsewhere, except
    ``autoencoder.*`` tensors the file holds (a run on another VAE than its config's). Every trained weight of
    the model must be in the file, with its shape, except a zero-initialised addition (:data:`GROWN_PREFIXES`,
    e.g. the slope condition) that the file's model did not have: it keeps its initial weights, so the model starts
    as the file's. Returns the number of tensors loaded."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no trained weights at {p}")
    weights = load_file(str(p))
    state = model.state_dict()
    own = {k: v for k, v in state.items() if k.startswith(TRAINED_PREFIXES)}
    own |= {k: v for k, v in state.items() if k.startswith(FROZEN_IN_SLIM) and k in weights}  # a run's own VAE
    grown = not any(k.startswith(GROWN_PREFIXES) for k in weights)
    missing = sorted(k for k in own if k not in weights and not (grown and k.startswith(GROWN_PREFIXES)))
    unexpected = sorted(k for k in weights if k not in own)
    wrong = sorted(k for k in set(own) & set(weights) if own[k].shape != weights[k].shape)
    if missing or unexpected or wrong:
        raise ValueError(f"{p} does not fit this model: missing {missing[:4]}, unexpected {unexpected[:4]}, "
                         f"wrong shape {wrong[:4]}")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in weights.items()}, strict=False)
    return len(weights)


def replace_vae_decoder(model: SagaSR, path: str | os.PathLike[str]) -> None:
    """Put the decoder of a decoder-only VAE fine-tune (``sagasr-train vae --vae-parts decoder``) into ``model``.
    Its encoder must equal ``model``'s exactly: the DiT was trained on that encoder's latents."""
    before = {k: v.clone() for k, v in model.autoencoder.encoder.state_dict().items()}
    weights = load_vae_weights(model.autoencoder, path)
    changed = [k for k, v in before.items() if not torch.equal(v, weights[f"encoder.{k}"].to(v.dtype))]
    if changed:
        model.autoencoder.encoder.load_state_dict(before)
        raise ValueError(f"{path}: its VAE encoder differs from the checkpoint's ({len(changed)} tensors, e.g. "
                         f"{changed[0]}): only a decoder fine-tune keeps the DiT's latent space")


def _norm_g(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).norm(dim=1).view(-1, *([1] * (v.ndim - 1)))


def _fit(name: str, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor | None:
    """Adapt a Stable Audio Open tensor to our shape, or None if impossible.

    - DiT input width C -> 2C (LR latent concatenated): copy into the first C input channels, zero the rest,
      so the initial model ignores the LR latent and behaves as SAO.
    - Stereo -> mono VAE: the first encoder conv sums its two input channels (mono fed as L = R); the last
      decoder conv averages its two output channels.
    """
    if src.shape == dst.shape:
        return src
    if name.endswith("preprocess_conv.weight") and src.ndim == 3 and src.shape[0] <= dst.shape[0]:
        out = torch.zeros_like(dst)  # (2C, 2C, 1): the SAO block in the corner, zero elsewhere
        out[: src.shape[0], : src.shape[1]] = src
        return out
    if src.ndim == dst.ndim and src.ndim >= 2 and src.shape[0] == dst.shape[0] and src.shape[1] < dst.shape[1]:
        out = torch.zeros_like(dst)
        out[:, : src.shape[1]] = src
        return out
    if src.ndim == 3 and dst.ndim == 3 and src.shape[1] == 2 and dst.shape[1] == 1 and src.shape[0] == dst.shape[0]:
        return src.sum(dim=1, keepdim=True)
    if src.shape[0] == 2 and dst.shape[0] == 1 and src.shape[1:] == dst.shape[1:]:
        return src.mean(dim=0, keepdim=True)
    return None


def load_stable_audio_open(model: SagaSR, path: str | os.PathLike[str], parts: tuple[str, ...] = ("autoencoder", "dit", "conditioner")) -> dict[str, Any]:
    """Load SAO 1.0 weights (a local ``model.safetensors``) into ``model``; returns a report
    {"loaded", "adapted", "skipped", "missing"}. Raises ValueError when nothing matches."""
    source = load_file(str(path))
    target = model.state_dict()
    # weight-normed convs whose channel count changes (stereo -> mono): fold g * v / |v| first, adapt, re-split
    folded: dict[str, torch.Tensor] = {}
    for key in list(source):
        if key.endswith(".weight_v") and key[:-1] + "g" in source:
            base = key[: -len(".weight_v")]
            folded[base] = source[base + ".weight_g"] * source[key] / _norm_g(source[key])
    new: dict[str, torch.Tensor] = {}
    report: dict[str, Any] = {"loaded": 0, "adapted": [], "skipped": [], "missing": []}
    for key, value in source.items():
        mapped = next((ours + key[len(sao):] for sao, ours in SAO_PREFIXES if key.startswith(sao)), None)
        if mapped is None or not mapped.startswith(parts) or mapped not in target:
            report["skipped"].append(key)
            continue
        dst = target[mapped]
        if key.endswith((".weight_v", ".weight_g")) and value.shape != dst.shape:
            base = key[: -len(".weight_v")]
            w = _fit(mapped, folded[base], torch.empty(target[mapped[:-1] + "v"].shape))
            if w is None:
                report["skipped"].append(key)
                continue
            new[mapped] = w if key.endswith("_v") else _norm_g(w)
            report["adapted"].append(mapped)
            continue
        fitted = _fit(mapped, value, dst)
        if fitted is None:
            report["skipped"].append(key)
            continue
        if fitted is not value:
            report["adapted"].append(mapped)
        new[mapped] = fitted.to(dst.dtype)
    if not new:
        raise ValueError(f"{path}: no Stable Audio Open weights matched this model (wrong file or config?)")
    model.load_state_dict(new, strict=False)
    report["loaded"] = len(new)
    report["missing"] = [k for k in target if k.startswith(parts) and k not in new]
    return report


def config_of(folder: str | os.PathLike[str]) -> SagaSRConfig:
    """The config of a checkpoint folder, without loading weights."""
    return load_config(json.loads((Path(folder) / CONFIG).read_text(encoding="utf-8")))
