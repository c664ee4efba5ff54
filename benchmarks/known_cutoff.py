"""The default model at low cutoffs with the cutoff given (``band_limit_hz`` / ``sagasr restore --band-limit``).

    python benchmarks/known_cutoff.py --corpus AVL11 --clips 15 --seconds 6
    python benchmarks/known_cutoff.py --corpus CORPUS --used .gpu/corpus/clips --clips 15 --seconds 6

At 2 and 3 kHz the band edge is often not found (model card, "Other cutoffs"). The clips of
``benchmarks/band_ceiling.py``, degraded by the evaluation's recipe (filters, resample; draws seeded by the clip's
index), scored by LSD: the input, SBR and the noise fill at the true cutoff, the model as it reads the edge itself,
and the model told the cutoff.
"""
from __future__ import annotations

import numpy as np

from sagasr_stream import restore
from sagasr_stream.degradation import DEGRADATIONS, degrade
from sagasr_stream.evaluation.baseline import noise_fill, sbr_extend
from sagasr_stream.evaluation.metrics import lsd
from sagasr_stream.restorer import Restorer

from band_ceiling import SR, load_unseen_clips, unseen_clips_parser


def main() -> None:
    parser = unseen_clips_parser(__doc__.split("\n\n")[0], [2000.0, 3000.0])
    args = parser.parse_args()
    clips = load_unseen_clips(args)
    plain = Restorer.load(None)
    print(f"{len(clips)} clips x {args.seconds:g} s; mean LSD\n")
    print("| degradation | cutoff | input | SBR | noise fill | model | model told the cutoff |")
    print("|---|---|---|---|---|---|---|")
    for cutoff in args.cutoffs:
        told = Restorer(plain.model, band_limit_hz=cutoff)
        for kind in DEGRADATIONS:
            scores = []
            for ci, reference in enumerate(clips.values()):
                x = degrade(reference, kind, cutoff, np.random.default_rng(ci))
                outputs = (x, sbr_extend(x, SR, cutoff), noise_fill(x, SR, cutoff), restore(x, SR, plain),
                           restore(x, SR, told))
                scores.append([lsd(y, reference, SR) for y in outputs])
            print(f"| {kind} | {cutoff / 1000:g} kHz | " + " | ".join(f"{v:.3f}" for v in np.mean(scores, axis=0))
                  + " |", flush=True)


if __name__ == "__main__":
    main()
