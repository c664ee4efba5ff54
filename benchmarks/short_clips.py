"""Short files (one-shot samples, cut excerpts): the default model against the baselines by clip length.

    python benchmarks/short_clips.py --corpus CORPUS --used .gpu/corpus/clips --clips 20 --seconds 6
    python benchmarks/short_clips.py --corpus AVL12 --clips 20 --seconds 6

The clips of ``benchmarks/band_ceiling.py`` (their first ``--seconds``); from each, per length, the loudest of eight
excerpts at seeded random starts (something sounds in it), degraded by the evaluation's recipe at 4, 8 and 12 kHz
(filters, resample) and restored alone, as a file of that length. Mean LSD / LSD-HF of the input, SBR, the noise fill
and the model; the margin (LSD-HF, % below the better baseline) and the share of clip-rows where the model's LSD-HF is
below both baselines. A window is 1.49 s: shorter files are one zero-padded window.
"""
from __future__ import annotations

import numpy as np

from sagasr_stream import restore
from sagasr_stream.degradation import DEGRADATIONS, degrade
from sagasr_stream.evaluation.baseline import noise_fill, sbr_extend
from sagasr_stream.evaluation.metrics import lsd, lsd_hf
from sagasr_stream.restorer import Restorer

from band_ceiling import EVAL_CUTOFFS, SR, load_unseen_clips, unseen_clips_parser

SYSTEMS = ("input", "SBR", "noise fill", "model")


def loudest_excerpt(x: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    starts = rng.integers(0, max(1, x.size - samples), 8)
    best = max(starts, key=lambda s: float(np.sum(x[s : s + samples] ** 2)))
    return x[best : best + samples]


def main() -> None:
    parser = unseen_clips_parser(__doc__.split("\n\n")[0], EVAL_CUTOFFS)
    parser.add_argument("--lengths", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0, 3.0])
    args = parser.parse_args()
    clips = load_unseen_clips(args)
    restorer = Restorer.load(None)
    print(f"{len(clips)} clips; mean LSD / LSD-HF over clips, cutoffs {args.cutoffs} and both degradations\n")
    print("| seconds | " + " | ".join(SYSTEMS) + " | margin LSD-HF % | model below both (LSD-HF) |")
    print("|---|" + "---|" * (len(SYSTEMS) + 2))
    for seconds in args.lengths:
        scores = []  # (clip-rows, systems, 2)
        for ci, clip in enumerate(clips.values()):
            reference = loudest_excerpt(clip, int(seconds * SR), np.random.default_rng(ci))
            for di, kind in enumerate(DEGRADATIONS):
                for cutoff in args.cutoffs:
                    x = degrade(reference, kind, cutoff, np.random.default_rng([ci, di, int(cutoff)]))
                    outputs = (x, sbr_extend(x, SR, cutoff), noise_fill(x, SR, cutoff), restore(x, SR, restorer))
                    scores.append([(lsd(y, reference, SR), lsd_hf(y, reference, SR, cutoff)) for y in outputs])
        s = np.array(scores)
        mean = s.mean(axis=0)
        margin = 100 * (1 - mean[3, 1] / min(mean[1, 1], mean[2, 1]))
        wins = np.mean(s[:, 3, 1] < np.minimum(s[:, 1, 1], s[:, 2, 1]))
        print(f"| {seconds:g} | " + " | ".join(f"{m[0]:.3f} / {m[1]:.3f}" for m in mean)
              + f" | {margin:+.1f} | {100 * wins:.0f} % |", flush=True)


if __name__ == "__main__":
    main()
