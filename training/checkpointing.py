"""Training state without pickles: tensors in safetensors, structure and scalars in JSON.

A state folder ``<run>/state/step-<N>/`` holds ``trainable.safetensors`` (the trained weights),
``ema.safetensors``, ``optimizer.safetensors`` + ``state.json`` (optimizer structure, scheduler, step, config).
``<run>/state/latest`` (a text file) names the newest complete folder; folders are written to a temporary name
and renamed, so an interrupted save never leaves a half state that resume would pick up.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file

from sagasr_stream.files import atomic_folder, atomic_write_text


def optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state_dict -> (tensors "state.<param>.<key>", JSON-able rest)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    meta_state: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        meta_state[str(pid)] = {}
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"state.{pid}.{k}"] = v.detach().cpu().contiguous()
                meta_state[str(pid)][k] = "__tensor__"
            else:
                meta_state[str(pid)][k] = v
    return tensors, {"state": meta_state, "param_groups": sd["param_groups"]}


def optimizer_from_flat(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state = {}
    for pid, st in meta["state"].items():
        state[int(pid)] = {k: (tensors[f"state.{pid}.{k}"] if v == "__tensor__" else v) for k, v in st.items()}
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_state(run_dir: str | os.PathLike[str], step: int, trainable: dict[str, torch.Tensor],
               ema: dict[str, torch.Tensor] | None, optimizer: torch.optim.Optimizer, info: dict[str, Any],
               keep: int = 2) -> Path:
    """Write ``state/step-<step>`` atomically, point ``state/latest`` at it, keep the newest ``keep``."""
    base = Path(run_dir) / "state"
    base.mkdir(parents=True, exist_ok=True)
    final = base / f"step-{step:08d}"
    with atomic_folder(final) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in trainable.items()}, str(tmp / "trainable.safetensors"))
        if ema is not None:
            save_file(ema, str(tmp / "ema.safetensors"))
        opt_tensors, opt_meta = optimizer_to_flat(optimizer)
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "state.json").write_text(json.dumps({"step": step, "optimizer": opt_meta, **info}, indent=1),
                                        encoding="utf-8")
    atomic_write_text(base / "latest", final.name)
    # the newest ``keep`` up to this step stay, this one always: a run started afresh (resume off) in an older
    # run's folder must not prune the state it just wrote because the older run's steps number higher
    earlier = sorted(p for p in base.glob("step-*") if p.name < final.name) if keep > 0 else []
    for old in earlier[:max(0, len(earlier) - (keep - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def replace_folder(folder: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """``write(tmp_folder)`` beside ``folder``, then swap it in (:func:`~sagasr_stream.files.atomic_folder`): a
    reader, or an interrupted save, never sees half a folder. Returns ``folder``."""
    with atomic_folder(folder) as tmp:
        write(tmp)
    return Path(folder)


def keep_checkpoint(run_dir: str | os.PathLike[str], step: int) -> Path:
    """Copy the run's ``checkpoint/`` and ``run.json`` to ``kept/step-<step>/`` (zero-padded as the state folders),
    a folder that ``sagasr-train slim`` takes as a run. Written whole or not at all. Returns that folder."""
    run = Path(run_dir)

    def copy(tmp: Path) -> None:
        shutil.copytree(run / "checkpoint", tmp / "checkpoint")
        if (run / "run.json").is_file():
            shutil.copy2(run / "run.json", tmp / "run.json")

    return replace_folder(run / "kept" / f"step-{step:08d}", copy)


def latest_state(run_dir: str | os.PathLike[str]) -> Path | None:
    """The newest complete state folder of a run, or None when the run has none (no ``state/latest``). A
    ``state/latest`` that names no complete state folder is an error: resuming must not silently start over."""
    p = Path(run_dir) / "state" / "latest"
    if not p.is_file():
        return None
    name = p.read_text(encoding="utf-8").strip()
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"{p} must name a state folder beside it (one plain folder name), got {name!r}")
    folder = p.parent / name
    if not (folder / "state.json").is_file():
        raise FileNotFoundError(f"{p} names {folder.name}, which is not a complete training state (no state.json); "
                                "restore that folder, or start afresh with --no-resume")
    return folder


def load_state(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """-> {"info": state.json dict, "trainable", "ema" (or None), "optimizer_tensors"}."""
    folder = Path(folder)
    if not (folder / "state.json").is_file():
        raise FileNotFoundError(f"{folder} is not a training state folder (no state.json)")
    ema = folder / "ema.safetensors"

    def read(path: Path, loader: Any) -> Any:
        try:
            return loader(path)
        except Exception as exc:  # safetensors' and json's own error types: a damaged file, named
            raise ValueError(f"{path} is damaged ({type(exc).__name__}: {exc}); the run's older states: "
                             f"{', '.join(older_states(folder)) or 'none'} (point state/latest at one, or start "
                             "afresh with --no-resume)") from None

    return {"info": read(folder / "state.json", lambda p: json.loads(p.read_text(encoding="utf-8"))),
            "trainable": read(folder / "trainable.safetensors", lambda p: load_file(str(p))),
            "ema": read(ema, lambda p: load_file(str(p))) if ema.is_file() else None,
            "optimizer_tensors": read(folder / "optimizer.safetensors", lambda p: load_file(str(p)))}


def older_states(folder: Path) -> list[str]:
    """Names of the complete state folders beside ``folder`` before it (``step-*`` with a state.json)."""
    return sorted(p.name for p in folder.parent.glob("step-*")
                  if p.name < folder.name and (p / "state.json").is_file())
