"""A DC offset under band-limited input: how far it moves the restored band, and what it does to LSD-HF.

    python benchmarks/dc_offset.py --corpus AVL11 --clips 10 --seconds 6
    python benchmarks/dc_offset.py --corpus CORPUS --used .gpu/corpus/clips --clips 10 --seconds 6

Clips as in ``benchmarks/band_ceiling.py``, degraded with ``sagasr eval``'s draws (filters and resample at 4 / 8 /
12 kHz) and rounded to 16 bits, so that an offset of 2**-k added and taken away again is exact. Per offset (dBFS):
the restored band's (above the cutoff) magnitude difference from the band restored without the offset, relative to
its energy (dB, the mean over clips and rows), and the mean LSD-HF with and without it against the reference.
"""
from __future__ import annotations

import numpy as np
from band_ceiling import EVAL_CUTOFFS, SR, load_unseen_clips, unseen_clips_parser

from sagasr_stream import restore
from sagasr_stream.degradation import DEGRADATIONS, degrade
from sagasr_stream.dsp import N_FFT, float64_stft
from sagasr_stream.evaluation.metrics import lsd_hf
from sagasr_stream.evaluation.runner import row_rng
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import RestoreSettings

OFFSETS = (2.0**-10, 2.0**-5, 2.0**-3)  # -60, -30, -18 dBFS


def band_difference_db(estimate: np.ndarray, reference: np.ndarray, cutoff_hz: float) -> float:
    """Energy of the magnitude difference above ``cutoff_hz`` relative to ``reference``'s there (dB)."""
    first = int(np.ceil(cutoff_hz / (SR / N_FFT)))
    a, b = (np.abs(float64_stft(np.asarray(y, dtype=np.float64)))[first:] for y in (estimate, reference))
    return float(10 * np.log10(max(np.sum((a - b) ** 2), 1e-30) / np.sum(b**2)))


def main() -> None:
    args = unseen_clips_parser(__doc__.split("\n\n")[0], EVAL_CUTOFFS).parse_args()
    clips = load_unseen_clips(args)
    restorer = Restorer.load(None, RestoreSettings())
    moved = {offset: [] for offset in OFFSETS}
    scores = {offset: [] for offset in (0.0, *OFFSETS)}
    for ci, ref in enumerate(clips.values()):
        for di, kind in enumerate(DEGRADATIONS):
            for fi, cutoff in enumerate(args.cutoffs):
                x = degrade(ref, kind, cutoff, row_rng(0, ci, di, fi))
                x = (np.round(x * 32768) / 32768).astype(np.float32)
                plain = restore(x, SR, restorer)
                scores[0.0].append(lsd_hf(plain, ref, SR, cutoff))
                for offset in OFFSETS:
                    shifted = restore(x + np.float32(offset), SR, restorer) - np.float32(offset)
                    moved[offset].append(band_difference_db(shifted, plain, cutoff))
                    scores[offset].append(lsd_hf(shifted, ref, SR, cutoff))
    print(f"{len(clips)} clips x {args.seconds:g} s, {len(DEGRADATIONS) * len(args.cutoffs)} rows each\n")
    print("| offset | band moved (dB, mean / worst) | LSD-HF without / with the offset |")
    print("|---|---|---|")
    for offset in OFFSETS:
        print(f"| {20 * np.log10(offset):.0f} dBFS | {np.mean(moved[offset]):.1f} / {np.max(moved[offset]):.1f} | "
              f"{np.mean(scores[0.0]):.4f} / {np.mean(scores[offset]):.4f} |")


if __name__ == "__main__":
    main()
