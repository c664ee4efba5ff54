"""Build isolated drum hits from the Hydrogen kits: every instrument's loudest layer, alone, as a sample library
holds it (a choice set for isolated percussion; ``avl_one_shots.py`` builds the check on which no choice is made).

    apt-get install hydrogen-drumkits
    python benchmarks/hydrogen_one_shots.py --out HHITS
    sagasr eval HHITS/clips --split all -o eval-hhits --degradations filters resample --cutoffs 4000 8000 12000 --pngs 0

Each kit under /usr/share/hydrogen/data/drumkits but The Black Pearl 1.0 (its author's kit is AVL's Black Pearl,
the check's) and the guitar strums: each instrument's layer with the highest velocity range, mixed to mono, at its
own rate when that is 44.1 kHz (files at other rates are left out, as the corpus builder leaves them), cut from 5 ms
before it first passes -60 dB of its peak to 10 ms after it last does (at most 2.5 s), peak -3 dBFS, kept when it
lasts 0.25 s or more (what the evaluation scores) and passes the corpus's top-band check. Writes ``HHITS/clips/hhitNNN.flac`` (24-bit) and ``HHITS/clips.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Iterator

import numpy as np
from avl_one_shots import PEAK_DBFS, SR, trim_hit
from pedalboard.io import AudioFile

from sagasr_training.corpus.audio import load_mono
from sagasr_training.corpus.bandwidth import measure
from sagasr_training.corpus.config import DEFAULT_KIT_ROOTS
from sagasr_training.corpus.drums import Kit, KitError, discover_kits, parse_kit

LEFT_OUT = ("The Black Pearl 1.0",)
MIN_SECONDS = 0.25  # what `sagasr eval` scores


def drum_kits(left_out: tuple[str, ...] = LEFT_OUT) -> Iterator[Kit]:
    """The installed Hydrogen kits that parse, but the guitar strums and those whose folder is named in ``left_out``."""
    for xml in discover_kits(list(DEFAULT_KIT_ROOTS)):
        try:
            kit = parse_kit(xml)
        except KitError:
            continue
        if kit.folder.name not in left_out and not kit.is_strums:
            yield kit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    (args.out / "clips").mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    for kit in drum_kits():
        for inst in kit.instruments:
            layer = max(inst.layers, key=lambda lay: (lay.max_velocity, lay.min_velocity))
            if not layer.path.is_file():
                continue
            audio, rate = load_mono(layer.path, SR, keep_rate=True)
            if rate != SR or not np.abs(audio).max() > 0:
                continue
            clip = trim_hit(audio)
            clip = clip * (10 ** (PEAK_DBFS / 20) / np.abs(clip).max())
            if clip.size < MIN_SECONDS * SR or not measure(clip, SR).ok:
                continue
            path = f"clips/hhit{len(records):03d}.flac"
            with AudioFile(str(args.out / path), "w", SR, 1, bit_depth=24) as f:
                f.write(clip.astype(np.float32)[None])
            records.append({"path": path, "kit": kit.folder.name, "instrument": inst.name, "role": inst.role,
                            "seconds": round(clip.size / SR, 3)})
    (args.out / "clips.json").write_text(json.dumps(records, indent=1))
    print(f"{len(records)} clips in {args.out}")


if __name__ == "__main__":
    main()
