"""The clips one call to a lent GPU can carry: a corpus's training split, diverse first, within a byte budget.

``sagasr-train carry CORPUS -o OUT --max-mb 50``: the corpus build's training-split clips, one clip per group
(source piece or kit) in turn, the groups in an order shuffled by ``seed``, each copied as 16-bit FLAC to
``OUT/<its path>``, until the copies pass ``max_mb`` megabytes (the clip that passes it is kept).
``OUT/train.txt`` lists them in that order and ``OUT/captions.jsonl`` gives each its corpus caption, for
``--file-list`` and ``--captions``. The default model's training clips are this set of the seed-0 corpus
(``training/recipes/default_model_v3.sh``, stage 1; 108 clips, 50.5 MB).

``sagasr-train carry-parts FOLDER -o OUT --part-mb 53.5 35 --max-seconds 9``: a training set that one call cannot
carry (a ``sagasr-train mix`` folder: ``train.txt``, ``captions.jsonl``) split over several calls: its listed clips in
order, each as 16-bit FLAC cut to its first ``max_seconds``, into ``OUT/a/clips``, ``OUT/b/clips``, ... (a part takes
clips until it passes its budget), with ``OUT/train.txt`` and ``OUT/captions.jsonl`` of all of them
(``training/recipes/default_model_v3_gpu_continue.sh`` trains on the clips of the parts that arrived).
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from .captions import CaptionStore, write_listing


def carry_order(clips: list[dict], seed: int = 0) -> list[dict]:
    """The training-split entries of a corpus manifest's ``clips`` (each with ``path``, ``split``, ``group``) in
    carrying order: the first clip of every group, the groups shuffled by ``seed``, then every group's second, ..."""
    by_group: dict[str, list[dict]] = defaultdict(list)
    for clip in clips:
        if clip["split"] == "train":
            by_group[clip["group"]].append(clip)
    groups = sorted(by_group)
    np.random.default_rng(seed).shuffle(groups)
    rounds = max((len(members) for members in by_group.values()), default=0)
    return [by_group[g][k] for k in range(rounds) for g in groups if k < len(by_group[g])]


def carry_set(corpus: str | os.PathLike[str], out: str | os.PathLike[str], max_mb: float = 50.0,
              seed: int = 0) -> tuple[int, int]:
    """Copy ``corpus``'s clips in :func:`carry_order` to ``out`` as 16-bit FLAC until they pass ``max_mb`` MB
    (10**6 bytes); write ``out/train.txt`` and ``out/captions.jsonl``. Returns (clips, bytes)."""
    corpus, out = Path(corpus), Path(out)
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    total, kept = 0, []
    for clip in carry_order(manifest["clips"], seed):
        total += copy_16bit(corpus / clip["path"], out / clip["path"])
        kept.append(clip)
        if total > max_mb * 1e6:
            break
    write_listing(out, [(c["path"], c["caption"]) for c in kept])
    return len(kept), total


def copy_16bit(source: Path, target: Path, max_seconds: float | None = None) -> int:
    """Copy an audio file as 16-bit FLAC ``target`` (its first ``max_seconds`` only, if given). Returns its bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(source)) as f:
        frames = f.frames if max_seconds is None else min(f.frames, int(round(max_seconds * f.samplerate)))
        audio, rate = f.read(frames), f.samplerate
    with AudioFile(str(target), "w", rate, audio.shape[0], bit_depth=16) as f:
        f.write(audio)
    return target.stat().st_size


def part_names(count: int) -> list[str]:
    """The parts' folder names: a, b, ..., z (at most 26 parts)."""
    if not 1 <= count <= 26:
        raise ValueError(f"carry-parts: 1 to 26 parts, got {count}")
    return [chr(ord("a") + k) for k in range(count)]


def carry_parts(folder: str | os.PathLike[str], out: str | os.PathLike[str], part_mb: list[float],
                max_seconds: float | None = None) -> dict[str, tuple[int, int]]:
    """Copy the clips ``folder/train.txt`` lists, in order, as 16-bit FLAC (cut to ``max_seconds``) into
    ``out/<part>/<path>``, each part taking clips until it passes its ``part_mb`` MB (10**6 bytes); write
    ``out/train.txt`` and ``out/captions.jsonl`` of every clip copied. Returns {part: (clips, bytes)}; a clip left
    once the last part is full is an error naming how many did not fit."""
    folder, out = Path(folder), Path(out)
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"carry-parts: max_seconds must be > 0, got {max_seconds}")
    if not part_mb or any(not mb > 0 for mb in part_mb):
        raise ValueError(f"carry-parts: every part needs a budget > 0 MB, got {part_mb}")
    listed = [line.strip() for line in (folder / "train.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    captions = CaptionStore(folder / "captions.jsonl", folder)
    names = part_names(len(part_mb))
    sizes: dict[str, tuple[int, int]] = {}
    part, copied = 0, []
    for index, path in enumerate(listed):
        while part < len(names) and sizes.get(names[part], (0, 0))[1] > part_mb[part] * 1e6:
            part += 1
        if part == len(names):
            raise ValueError(f"carry-parts: {len(listed) - index} of {len(listed)} clips do not fit in "
                             f"{sum(part_mb):g} MB; give more or larger parts, or a lower max_seconds")
        size = copy_16bit(folder / path, out / names[part] / path, max_seconds)
        count, total = sizes.get(names[part], (0, 0))
        sizes[names[part]] = (count + 1, total + size)
        copied.append((path, captions.get(folder / path)))
    write_listing(out, copied)
    return sizes
