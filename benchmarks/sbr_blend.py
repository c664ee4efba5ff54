"""How the SBR blend's share (``sbr_blend``, v3.4) and its level pull (``sbr_level``, v3.5) were chosen
(``sagasr_stream/replication.py``): the default model restored through the runtime at each setting, on clips of
the training split that no training stage used, or on a generalisation set (``benchmarks/generalisation.md``).
(The model card's first table, the full blend with the replica's level, is this script at commit 0ef3e85.)

    python benchmarks/sbr_blend.py --corpus CORPUS --used .gpu/corpus/clips --clips 40 --seconds 6
    python benchmarks/sbr_blend.py --corpus AVL --clips 30 --settings 0.25:0 0.25:9   # share:level (dB)
    python benchmarks/sbr_blend.py --corpus AVL --clips 30 --settings 0.25:9 --model BUNDLE   # another bundle

Clips as in ``benchmarks/band_ceiling.py`` (the first clip of each piece of ``CORPUS/train.txt`` that the model
was not trained on, the first ``--clips``), degraded with ``sagasr eval``'s draws (filters and resample at 4 / 8 /
12 kHz). Per setting and row: mean LSD, LSD-HF and envelope correlation (``sagasr_stream.evaluation.metrics``),
the share of clips on which the model's LSD is below the better of SBR and the noise fill, and the envelope
correlation minus SBR's. Share 0 is v3.3 (``sbr_blend="off"``); level 0 the pattern only (v3.4).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from band_ceiling import load_unseen_clips, unseen_clips_parser

from sagasr_stream import restore
from sagasr_stream.degradation import DEGRADATIONS, degrade
from sagasr_stream.evaluation.baseline import noise_fill, sbr_extend
from sagasr_stream.evaluation.metrics import quality
from sagasr_stream.evaluation.runner import row_rng
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import RestoreSettings

SR = 44100
CUTOFFS = (4000.0, 8000.0, 12000.0)
ROWS = [(kind, cutoff) for kind in DEGRADATIONS for cutoff in CUTOFFS]


def blend_settings(setting: str) -> RestoreSettings:
    """"share" or "share:level" -> the settings that restore with them (share 0: the blend off)."""
    share, _, level = setting.partition(":")
    if not float(share):
        return RestoreSettings(sbr_blend="off")
    return RestoreSettings(sbr_blend=float(share), sbr_level=float(level or 0) or "off")


def main() -> None:
    parser = unseen_clips_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=["0", "0.1", "0.2", "0.25", "0.3", "0.4", "0.5"],
                        help="sbr_blend shares, each optionally with its sbr_level in dB (share:level; default 0)")
    parser.add_argument("--json", type=Path, help="also write every clip's scores here")
    parser.add_argument("--model", type=Path, help="bundle folder to restore with (default: the embedded model)")
    args = parser.parse_args()
    clips = load_unseen_clips(args)
    restorers = {setting: Restorer.load(args.model, blend_settings(setting)) for setting in args.settings}
    scores: dict[tuple[str, str, float], list[list[float]]] = {}
    names, per_clip = list(clips), []
    for kind, cutoff in ROWS:
        for ci, ref in enumerate(clips.values()):
            rng = row_rng(0, ci, DEGRADATIONS.index(kind), CUTOFFS.index(cutoff))  # the evaluation's draws
            degraded = degrade(ref, kind, cutoff, rng)
            sbr = quality(sbr_extend(degraded, SR, cutoff), ref, SR, cutoff)
            noise = quality(noise_fill(degraded, SR, cutoff, seed=int(rng.integers(2**31))), ref, SR, cutoff)
            for setting, restorer in restorers.items():
                got = quality(restore(degraded, SR, restorer), ref, SR, cutoff)
                per_clip.append({"clip": names[ci], "degradation": kind, "cutoff_hz": cutoff, "setting": setting,
                                 **got, "sbr": sbr, "noise_fill": noise})
                scores.setdefault((setting, kind, cutoff), []).append(
                    [got["lsd"], got["lsd_hf"], got["env"], min(sbr["lsd"], noise["lsd"]),
                     min(sbr["lsd_hf"], noise["lsd_hf"]), sbr["env"]])
        print(f"{kind} {cutoff:.0f} Hz done", flush=True)
    if args.json:
        args.json.write_text(json.dumps(per_clip, indent=1))
    print(f"\n{len(clips)} clips x {args.seconds:g} s. Per row: "
          "LSD / LSD-HF, clips won by LSD / LSD-HF (below the better of SBR and noise fill), envelope correlation "
          "minus SBR's\n")
    print("| share:level | mean LSD | mean LSD-HF | " + " | ".join(f"{k} {c / 1000:g} kHz" for k, c in ROWS) + " |")
    print("|---" * (3 + len(ROWS)) + "|")
    for setting in args.settings:
        rows = [np.array(scores[(setting, kind, cutoff)]) for kind, cutoff in ROWS]
        cells = [f"{r[:, 0].mean():.3f} / {r[:, 1].mean():.3f}, {np.mean(r[:, 0] < r[:, 3]):.0%} / "
                 f"{np.mean(r[:, 1] < r[:, 4]):.0%}, {r[:, 2].mean() - r[:, 5].mean():+.3f}" for r in rows]
        means = np.mean([r[:, :2].mean(axis=0) for r in rows], axis=0)
        print(f"| {setting} | {means[0]:.4f} | {means[1]:.4f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
