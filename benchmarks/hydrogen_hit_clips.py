"""Training clips of isolated drum hits: one instrument of a Hydrogen kit per 10 s clip, its hits alone at random
velocity layers, levels and gaps, with a caption (the data of a fine-tune tried after v3.9, model card, "Tried after
v3.9 ... isolated hits in training, at half the data"; and 40 of them, ``--clips 40``, of v3.10's, "v3.10").

    apt-get install hydrogen-drumkits
    python benchmarks/hydrogen_hit_clips.py --out HITCLIPS --clips 200
    sagasr-train mix MIX m=MIX3H h=HITCLIPS    # with stage 2m's data (training/recipes/default_model_v3.sh)

Kits: those of the corpus's training split, so not BJA_Pacific (its validation kit, whose hits judge the try), not
The Black Pearl 1.0 (its author's kit is AVL's Black Pearl, a check) and not the guitar strums; instruments drawn with
weight 3 for hi-hats, rides and crashes (the hits the model restores too dark), 0.7 for kicks and toms, else 1. Each
hit: a velocity layer drawn for a velocity of 0.3-1, scaled by 0.3-1, then a gap of 0.2-1 of its length (at least
0.12 s) plus 0-1.5 s; each clip's peak -20..-1 dBFS, kept when it passes the corpus's top-band check. Writes
``OUT/clips/hitNNN_00.flac`` (24-bit), ``OUT/train.txt``, ``OUT/captions.jsonl`` ("<instrument> hits alone on the
<kit> kit") and ``OUT/clips.json``.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from hydrogen_one_shots import drum_kits

from sagasr_training.corpus.audio import load_mono
from sagasr_training.corpus.bandwidth import measure
from sagasr_training.corpus.drums import KitInstrument, choose_layer

SR = 44100
CLIP_SECONDS = 10
LEFT_OUT = ("The Black Pearl 1.0", "BJA_Pacific")
ROLE_WEIGHT = {"hihat_closed": 3.0, "hihat_open": 3.0, "ride": 3.0, "crash": 3.0, "tom": 0.7, "kick": 0.7}


def instruments() -> list[tuple[str, KitInstrument]]:
    """(kit folder name, instrument) of every training kit's instrument whose sample files are all there."""
    return [(kit.folder.name, inst) for kit in drum_kits(LEFT_OUT) for inst in kit.instruments
            if inst.layers and all(layer.path.is_file() for layer in inst.layers)]


def hits_clip(inst: KitInstrument, rng: np.random.Generator, samples: dict[Path, np.ndarray | None]) -> np.ndarray | None:
    """(CLIP_SECONDS * SR,) float64: the instrument's hits alone, or None when a layer is not at 44.1 kHz."""
    clip = np.zeros(CLIP_SECONDS * SR)
    t = rng.uniform(0.0, 0.5)
    while t < CLIP_SECONDS - 0.2:
        layer = choose_layer(inst, float(rng.uniform(0.3, 1.0)))
        if layer.path not in samples:
            audio, rate = load_mono(layer.path, SR, keep_rate=True)
            samples[layer.path] = audio if rate == SR else None
        sample = samples[layer.path]
        if sample is None:
            return None
        start = int(t * SR)
        piece = sample[: clip.size - start]
        clip[start : start + piece.size] += piece * layer.gain * rng.uniform(0.3, 1.0)
        t += max(piece.size / SR * rng.uniform(0.2, 1.0), 0.12) + rng.uniform(0.0, 1.5)
    peak = np.abs(clip).max()
    return clip * (10 ** (rng.uniform(-20, -1) / 20) / peak) if peak > 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--seed", type=int, default=30)
    args = parser.parse_args()
    (args.out / "clips").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    pool = instruments()
    weights = np.array([ROLE_WEIGHT.get(inst.role, 1.0) for _, inst in pool])
    samples: dict[Path, np.ndarray | None] = {}
    records: list[dict] = []
    for _ in range(20 * args.clips):
        if len(records) == args.clips:
            break
        kit, inst = pool[rng.choice(len(pool), p=weights / weights.sum())]
        clip = hits_clip(inst, rng, samples)
        if clip is None or not measure(clip, SR).ok:
            continue
        path = f"clips/hit{len(records):03d}_00.flac"
        with AudioFile(str(args.out / path), "w", SR, 1, bit_depth=24) as f:
            f.write(clip.astype(np.float32)[None])
        records.append({"path": path, "kit": kit, "instrument": inst.name, "role": inst.role,
                        "caption": f"{inst.name} hits alone on the {kit} kit"})
    (args.out / "train.txt").write_text("".join(r["path"] + "\n" for r in records))
    (args.out / "captions.jsonl").write_text(
        "".join(json.dumps({"path": r["path"], "caption": r["caption"]}) + "\n" for r in records))
    (args.out / "clips.json").write_text(json.dumps(records, indent=1) + "\n")
    print(f"{len(records)} clips from {len(pool)} instruments:", dict(Counter(r["role"] for r in records)))


if __name__ == "__main__":
    main()
