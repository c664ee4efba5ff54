"""Does the way a caption is phrased matter? LSD-HF with no caption, the clip's full caption, its shortest phrasing
(``sagasr_training.captions.caption_variants``: "drums" for a drum kit, the first instrument otherwise) and a
contradicting one (``sagasr_stream.evaluation.guidance.contradicting_caption``), each beside how much it changes
the band against no caption.

Clips are degraded as `sagasr eval --guidance` degrades them (:func:`sagasr_stream.evaluation.runner.guidance_rng`,
seed 0).

    python benchmarks/caption_phrasing.py CLIPS... --captions captions.jsonl [--clip-seconds 6] [--model BUNDLE]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sagasr_stream import restore
from sagasr_stream.degradation import degrade
from sagasr_stream.evaluation.guidance import contradicting_caption, high_band_change
from sagasr_stream.evaluation.metrics import lsd_hf
from sagasr_stream.evaluation.references import load_clips
from sagasr_stream.evaluation.runner import guidance_rng
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import RestoreSettings
from sagasr_training.captions import caption_variants

SR = 44100


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--captions", required=True, help='JSON lines {"path": file name, "caption": text}')
    p.add_argument("--clip-seconds", type=float)
    p.add_argument("--model", help="bundle folder (default: the embedded model)")
    p.add_argument("--cutoff", type=float, default=8000.0)
    p.add_argument("--degradation", default="filters")
    args = p.parse_args()
    captions = {Path(row["path"]).stem: row["caption"]
                for row in map(json.loads, Path(args.captions).read_text().splitlines()) if row}
    clips = load_clips(args.clips, args.clip_seconds, None, SR)
    model = Restorer.load(args.model).model
    phrasings = {
        "none": lambda c: "",
        "full": lambda c: c,
        "shortest": lambda c: min(caption_variants(c), key=len),
        "contradicting": contradicting_caption,
    }
    scores: dict[str, list[float]] = {k: [] for k in phrasings}
    changes: dict[str, list[float]] = {k: [] for k in phrasings}
    for ci, (name, ref) in enumerate(clips.items()):
        if name not in captions:
            continue
        degraded = degrade(ref, args.degradation, args.cutoff, guidance_rng(0, ci))
        plain = None
        for label, phrase in phrasings.items():
            out = restore(degraded.copy(), SR, Restorer(model, RestoreSettings(caption=phrase(captions[name]))))
            plain = out if plain is None else plain
            scores[label].append(lsd_hf(out, ref, SR, args.cutoff))
            changes[label].append(high_band_change(out, plain, SR, args.cutoff))
    print(f"{len(scores['none'])} clips, {args.degradation} at {args.cutoff:g} Hz\n")
    print("| caption | LSD-HF | change of the band against no caption |")
    print("|---|---|---|")
    for label in phrasings:
        print(f"| {label} | {np.mean(scores[label]):.4f} | {np.mean(changes[label]):.3f} |")


if __name__ == "__main__":
    main()
