"""Move a training run between machines in pieces of at most 16 MiB (the GPU machine's transfer limit).

``pack_run(run_dir, out)`` writes what resuming and exporting need (``run.json``, ``base/``, ``checkpoint/``,
``state/latest`` and the state folder it names) as ``out/NNNNN.part`` pieces plus ``out/pieces.json``: every
file's relative path, size and SHA-256, and each piece's SHA-256. ``join_pieces(out, run_dir)`` verifies every
piece and file and rebuilds the run there (each file written atomically); ``sagasr-train diffusion/vae
--run-dir RUN_DIR`` then resumes from its latest state. Logs stay behind (they are not needed to resume).
``slim_run`` keeps only a run's trained weights (float16) for export; ``interpolate_weights`` mixes two such files.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from sagasr_stream.files import atomic_path, path_inside, sha256_file

from .checkpointing import latest_state

PIECE_BYTES = 16 * 1024 * 1024
INDEX = "pieces.json"
FORMAT = "sagasr-run-pieces"


def run_files(run_dir: str | os.PathLike[str], checkpoint_only: bool = False) -> list[str]:
    """Relative POSIX paths of the files a run needs to resume and export (``checkpoint_only``: to export),
    sorted."""
    run = Path(run_dir)
    if checkpoint_only:
        files = [run / "run.json", *(p for p in (run / "checkpoint").rglob("*") if p.is_file())]
        if not (run / "checkpoint" / "model.safetensors").is_file():
            raise FileNotFoundError(f"{run}: no checkpoint/model.safetensors to pack")
        return sorted(p.relative_to(run).as_posix() for p in files if p.is_file())
    state = latest_state(run)
    if state is None:
        raise FileNotFoundError(f"{run}: no complete training state (state/latest) to pack")
    folders = [run / "base", run / "checkpoint", state]
    files = [run / "run.json", run / "state" / "latest"]
    files += [p for folder in folders if folder.is_dir() for p in folder.rglob("*") if p.is_file()]
    return sorted(p.relative_to(run).as_posix() for p in files if p.is_file())


def _pieces_of(path: Path, piece_bytes: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        while True:
            chunk = f.read(piece_bytes)
            if not chunk:
                return
            yield chunk


def pack_run(run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], piece_bytes: int = PIECE_BYTES,
             checkpoint_only: bool = False) -> dict:
    """Split the run's resume/export files (``checkpoint_only``: its exportable checkpoint) into ``out_dir``
    (must be empty or absent); returns the index."""
    if piece_bytes <= 0:
        raise ValueError(f"piece_bytes must be positive, got {piece_bytes}")
    run, out = Path(run_dir), Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    files = run_files(run, checkpoint_only)  # a missing or empty run fails before the folder is made
    out.mkdir(parents=True, exist_ok=True)
    index: dict = {"format": FORMAT, "version": 1, "piece_bytes": piece_bytes, "files": [], "pieces": {}}
    n = 0
    for rel in files:
        entry: dict[str, Any] = {"path": rel, "size": (run / rel).stat().st_size, "pieces": []}
        digest = hashlib.sha256()  # of the whole file, taken while it is split (one read)
        for chunk in _pieces_of(run / rel, piece_bytes):
            name = f"{n:05d}.part"
            (out / name).write_bytes(chunk)
            index["pieces"][name] = hashlib.sha256(chunk).hexdigest()
            digest.update(chunk)
            entry["pieces"].append(name)
            n += 1
        entry["sha256"] = digest.hexdigest()
        index["files"].append(entry)
    (out / INDEX).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return index


def _safe_target(root: Path, rel: str) -> Path:
    """``root / rel`` for a relative path that stays inside ``root``; anything else is refused."""
    target = path_inside(root, rel) if rel else None
    if target is None or target == root.resolve():
        raise ValueError(f"{INDEX}: unsafe path {rel!r}")
    return target


def _read_index(pieces_dir: Path) -> dict:
    path = pieces_dir / INDEX
    if not path.is_file():
        raise FileNotFoundError(f"{pieces_dir}: no {INDEX}")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT or index.get("version") != 1:
        raise ValueError(f"{path}: not a {FORMAT} version 1 index")
    files, pieces = index.get("files"), index.get("pieces")
    if not isinstance(files, list) or not isinstance(pieces, dict):
        raise ValueError(f"{path}: damaged index ('files' must be a list, 'pieces' an object)")
    for i, entry in enumerate(files):
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str) and isinstance(entry.get("sha256"), str)
                and isinstance(entry.get("size"), int) and isinstance(entry.get("pieces"), list)
                and all(isinstance(name, str) for name in entry["pieces"])):
            raise ValueError(f"{path}: damaged index (files[{i}] needs path, sha256, size and a list of pieces)")
    return index


def _check_pieces(src: Path, index: dict) -> None:
    """Raise when a piece any file needs is missing from ``src`` or has another SHA-256 than the index's."""
    for entry in index["files"]:
        for name in entry["pieces"]:
            piece = src / PurePosixPath(name).name
            if not piece.is_file():
                raise FileNotFoundError(f"missing piece {piece.name} of {entry['path']} (nothing was written)")
            if sha256_file(piece) != index["pieces"].get(piece.name):
                raise ValueError(f"piece {piece.name} of {entry['path']} is damaged (SHA-256 mismatch; nothing was "
                                 "written)")


def _assemble(src: Path, index: dict, entry: dict, tmp: Path) -> None:
    """Write ``entry``'s pieces from ``src`` into ``tmp``, checking each piece and the whole file."""
    h = hashlib.sha256()
    with open(tmp, "xb") as f:  # a new file: never through a link planted at the name
        for name in entry["pieces"]:
            piece = src / PurePosixPath(name).name
            if not piece.is_file():
                raise FileNotFoundError(f"missing piece {piece.name} of {entry['path']}")
            data = piece.read_bytes()
            if hashlib.sha256(data).hexdigest() != index["pieces"].get(piece.name):
                raise ValueError(f"piece {piece.name} of {entry['path']} is damaged (SHA-256 mismatch)")
            f.write(data)
            h.update(data)
    if h.hexdigest() != entry["sha256"] or tmp.stat().st_size != entry["size"]:
        raise ValueError(f"{entry['path']}: reassembled file does not match its SHA-256/size")


def join_pieces(pieces_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str], overwrite: bool = False) -> list[Path]:
    """Verify ``pieces_dir`` against its index and rebuild the run in ``run_dir``. A file that already exists
    with the same content is kept; with other content it is an error unless ``overwrite``. Returns the files."""
    src, dest = Path(pieces_dir), Path(run_dir)
    index = _read_index(src)
    plan = [(entry, _safe_target(dest, entry["path"])) for entry in index["files"]]  # refuse before writing
    plan.sort(key=lambda item: item[0]["path"] == "state/latest")  # the pointer last: an interrupted join never
    # leaves state/latest naming a half-written state folder
    _check_pieces(src, index)  # a damaged or missing piece is found before any file of the run is replaced
    written, todo = [], []
    for entry, target in plan:
        if target.is_file() and sha256_file(target) == entry["sha256"]:
            written.append(target)
        elif target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists with other content (--overwrite replaces it)")
        else:
            todo.append((entry, target))
    for entry, target in todo:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target, target.with_name(target.name + ".partial")) as tmp:
            _assemble(src, index, entry, tmp)
        written.append(target)
    return written


def slim_run(run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """The smallest exportable copy of a diffusion run: ``out_dir/checkpoint/`` with the model's
    ``config.json`` and ``model.safetensors`` holding only the trained weights (``dit.*``, ``conditioner.*``)
    in float16. Export it with ``python -m sagasr_export --random-config MODEL.json
    --trained-weights out_dir/checkpoint/model.safetensors`` (the frozen parts come from the config, but for a run
    on another VAE, ``vae_weights`` or ``init_checkpoint`` in its run.json, whose VAE the file then carries). A 17 M
    parameter DiT travels as 34 MB instead of 76 MB. Returns the weights file."""
    import shutil

    run, out = Path(run_dir), Path(out_dir)
    source = run / "checkpoint" / "model.safetensors"
    if not source.is_file():
        raise FileNotFoundError(f"{run}: no checkpoint/model.safetensors")
    (out / "checkpoint").mkdir(parents=True, exist_ok=True)
    if (run / "checkpoint" / "config.json").is_file():
        shutil.copy2(run / "checkpoint" / "config.json", out / "checkpoint" / "config.json")
    frozen = _frozen_vae(run, source)
    return _write_trained_weights(_trained_weights(source), out / "checkpoint" / "model.safetensors", frozen=frozen)


def _frozen_vae(run: Path, checkpoint: Path) -> dict:
    """The run's VAE tensors (``autoencoder.*``, as stored) when it did not train on the VAE its model config
    builds (``vae_weights`` or ``init_checkpoint`` in run.json): export from the slim file would otherwise
    build a random one in its place, without a word. Empty for a run on the config's own VAE."""
    from safetensors.torch import load_file

    try:
        recorded = json.loads((run / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    if not (recorded.get("vae_weights") or recorded.get("init_checkpoint")):
        return {}
    return {k: v for k, v in load_file(str(checkpoint)).items() if k.startswith("autoencoder.")}


def _trained_weights(path: str | os.PathLike[str]) -> dict:
    """The trained tensors (``dit.*``, ``conditioner.*``) of a safetensors file, as stored."""
    from safetensors.torch import load_file

    from sagasr_export.model.checkpoint import TRAINED_PREFIXES

    return {k: v for k, v in load_file(str(path)).items() if k.startswith(TRAINED_PREFIXES)}


def _write_trained_weights(weights: dict, target: Path, frozen: dict | None = None, **metadata: str) -> Path:
    """Write ``weights`` as float16 safetensors ``target``, atomically (the format export's --trained-weights
    reads), with ``frozen`` tensors (a VAE the config does not build) as they are."""
    import torch
    from safetensors.torch import save_file

    target.parent.mkdir(parents=True, exist_ok=True)
    half = {k: v.to(torch.float16).contiguous() for k, v in weights.items()}
    half |= {k: v.contiguous() for k, v in (frozen or {}).items()}
    with atomic_path(target, target.with_name(f".{target.name}.partial")) as tmp:
        save_file(half, str(tmp), metadata={"format": "sagasr-trained-weights", "dtype": "float16", **metadata})
    return target


def grown_as_untrained(start: dict, end: dict) -> dict:
    """The zero-initialised additions (:data:`~sagasr_export.model.checkpoint.GROWN_PREFIXES`, e.g. the slope
    condition) that ``end`` holds and ``start`` (a model from before them) lacks, as they stand in ``start``'s
    function: the zeroed output layer zero (:data:`~sagasr_export.model.conditioners.ZEROED_LAYER`), the rest as
    ``end``'s, so that interpolating scales what the addition adds. {name: tensor}."""
    import torch

    from sagasr_export.model.checkpoint import GROWN_PREFIXES
    from sagasr_export.model.conditioners import ZEROED_LAYER

    if any(k.startswith(GROWN_PREFIXES) for k in start):
        return {}
    return {k: torch.zeros_like(v) if ZEROED_LAYER in k else v for k, v in end.items() if k.startswith(GROWN_PREFIXES)}


def interpolate_weights(start: str | os.PathLike[str], end: str | os.PathLike[str], alpha: float,
                        out: str | os.PathLike[str]) -> Path:
    """Weight-space interpolation of a fine-tune with the weights it started from (WiSE-FT, Wortsman et al. 2022):
    ``out = (1 - alpha) * start + alpha * end`` per trained tensor (``dit.*``, ``conditioner.*``), computed in
    float32 and stored in float16 as :func:`slim_run` stores them. ``start`` and ``end``: safetensors files of
    the same network (slim weights or a run's ``checkpoint/model.safetensors``; untrained parts are dropped), or
    ``start`` without the zero-initialised additions ``end`` grew (:func:`grown_as_untrained`). ``alpha`` in
    [0, 1]. Returns ``out``."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    a, b = _trained_weights(start), _trained_weights(end)
    a |= grown_as_untrained(a, b)
    if a.keys() != b.keys():
        raise ValueError(f"{start} and {end} hold other trained weights: {sorted(a.keys() ^ b.keys())[:4]}")
    if any(a[k].shape != b[k].shape for k in a):
        raise ValueError(f"{start} and {end} differ in shape: {[k for k in a if a[k].shape != b[k].shape][:4]}")
    mixed = {k: (1.0 - alpha) * a[k].float() + alpha * b[k].float() for k in a}
    return _write_trained_weights(mixed, Path(out), interpolated=json.dumps({"alpha": alpha}))
