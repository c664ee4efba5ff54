"""The clips one call to a lent GPU can carry: a corpus's training split, diverse first, within a byte budget.

``sagasr-train carry CORPUS -o OUT --max-mb 50``: the corpus build's training-split clips, one clip per group
(source piece or kit) in turn, the groups in an order shuffled by ``seed``, each copied as 16-bit FLAC to
``OUT/<its path>``, until the copies pass ``max_mb`` megabytes (the clip that passes it is kept).
``OUT/train.txt`` lists them in that order and ``OUT/captions.jsonl`` gives each its corpus caption, for
``--file-list`` and ``--captions``. The default model's training clips are this set of the seed-0 corpus
(``training/recipes/default_model_v3.sh``, stage 1; 108 clips, 50.5 MB).
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from sagasr_stream.files import atomic_write_text


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
        source, target = corpus / clip["path"], out / clip["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        with AudioFile(str(source)) as f:
            audio, rate = f.read(f.frames), f.samplerate
        with AudioFile(str(target), "w", rate, audio.shape[0], bit_depth=16) as f:
            f.write(audio)
        total += target.stat().st_size
        kept.append(clip)
        if total > max_mb * 1e6:
            break
    atomic_write_text(out / "train.txt", "".join(f"{c['path']}\n" for c in kept))
    atomic_write_text(out / "captions.jsonl", "".join(json.dumps({"path": c["path"], "caption": c["caption"]}) + "\n"
                                                      for c in kept))
    return len(kept), total
