"""Where the band edge lies against a known cutoff, at the cut's knee and at its steep start (``dsp._steep_start``).

    python benchmarks/edge_steep_start.py --corpus CORPUS --used FL/clips --clips 20

The first ``--clips`` clips of the corpus's training split that are not among ``--used`` (the unseen clips of the
choice sets), every 7th, their first 6 s as a mono mix, each through a plain resample and three filters (Bessel
order 2, Butterworth order 3, elliptic order 10; zero-phase, then the resample, as the evaluation's filters draw) at
each ``--cutoffs``; the whole clip's edge (:func:`~sagasr_stream.dsp.band_edge_hz`) as a fraction of the cutoff, at
the knee (``dsp.EDGE_START_DB`` = inf) and as the runtime reads it: median, 5th percentile and lowest. No model runs.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from sagasr_stream import dsp
from sagasr_stream.degradation import LowPassSpec, band_limit, resample_through

SR = 44100
KINDS = ("resample", "bessel-2", "butter-3", "ellip-10")


def unseen_clips(corpus: Path, used: Path | None, count: int) -> list[Path]:
    """Every 7th training-split clip of ``corpus`` not in the folder ``used``, the first ``count`` of them."""
    taken = {path.name for path in used.glob("*.flac")} if used else set()
    names = [line.strip() for line in (corpus / "train.txt").read_text().splitlines() if line.strip()]
    return [corpus / name for name in names if Path(name).name not in taken][::7][:count]


def degraded(x: np.ndarray, kind: str, cutoff: float) -> np.ndarray:
    """``x`` (samples,) float64 through a plain resample or a filter ``family-order`` at ``cutoff`` Hz."""
    if kind == "resample":
        return resample_through(x, SR, 2 * cutoff)
    family, order = kind.split("-")
    return band_limit(x, SR, LowPassSpec(family, int(order), cutoff))


def knee_and_start(x: np.ndarray) -> tuple[float, float]:
    """The edge of ``x`` (Hz) at the knee and at the steep start."""
    start = float(dsp.band_edge_hz(x))
    saved = dsp.EDGE_START_DB
    try:
        dsp.EDGE_START_DB = np.inf
        return float(dsp.band_edge_hz(x)), start
    finally:
        dsp.EDGE_START_DB = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--used", type=Path, help="a folder of clips to leave out (the model's training clips)")
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[4000.0, 8000.0, 12000.0])
    args = parser.parse_args()
    ratios: dict[tuple[float, str], list[tuple[float, float]]] = {}
    for path in unseen_clips(args.corpus, args.used, args.clips):
        with AudioFile(str(path)) as f:
            x = f.read(min(f.frames, int(args.seconds * f.samplerate))).mean(axis=0).astype(np.float64)
        for cutoff in args.cutoffs:
            for kind in KINDS:
                knee, start = knee_and_start(degraded(x, kind, cutoff))
                ratios.setdefault((cutoff, kind), []).append((knee / cutoff, start / cutoff))
    print("| cutoff | degradation | clips | median: knee -> start | 5th percentile | lowest |")
    print("|---|---|---|---|---|---|")
    for (cutoff, kind), rows in sorted(ratios.items()):
        r = np.array(rows)
        median, low, least = np.median(r, axis=0), np.percentile(r, 5, axis=0), r.min(axis=0)
        print(f"| {cutoff / 1000:g} kHz | {kind} | {len(r)} | {median[0]:.3f} -> {median[1]:.3f} | "
              f"{low[0]:.3f} -> {low[1]:.3f} | {least[0]:.3f} -> {least[1]:.3f} |")


if __name__ == "__main__":
    main()
