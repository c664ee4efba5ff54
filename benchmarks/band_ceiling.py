"""How the band ceiling (``sagasr_stream/band_ceiling.py``, v3.3) was chosen: the default model's restored band,
held down per STFT frame by each variant of the rule, on clips of the training split that no training stage used.

    python benchmarks/band_ceiling.py --corpus CORPUS --used .gpu/corpus/clips --clips 40 --seconds 6

Clips: ``CORPUS/train.txt`` without the clips the model was trained on (``--used``: a folder of them), the first
clip of each piece in list order, the first ``--clips``. Each is degraded (filters and resample at 4 / 8 / 12 kHz,
the evaluation's draws) and restored once with ``band_ceiling="off"``; each variant then scales the output's STFT
above the cutoff per frame, in windows of 128 frames with hop 64 (the runtime's window and half overlap), the
gains (dB) of overlapping windows averaged. Prints mean LSD / LSD-HF over the six rows and the worst change of
one clip and row; the shipped rule is the runtime's own :func:`~sagasr_stream.band_ceiling.ceiling_gains_db`.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import numpy as np

from sagasr_stream import restore
from sagasr_stream.band_ceiling import ceiling_gains_db
from sagasr_stream.degradation import degrade
from sagasr_stream.dsp import stft
from sagasr_stream.evaluation.references import load_clips
from sagasr_stream.evaluation.runner import row_rng
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import RestoreSettings

SR = 44100
WINDOW, HOP = 128, 64  # STFT frames: the default model's window (65536 samples) and its half overlap
EVAL_CUTOFFS = [4000.0, 8000.0, 12000.0]  # Hz: the evaluation's cutoffs
ROWS = [(kind, cutoff) for kind in ("filters", "resample") for cutoff in EVAL_CUTOFFS]
GainsFn = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (below power, above power) of one window -> gains dB


def pick_clips(corpus: Path, used: Path | None, count: int) -> list[Path]:
    seen_pieces, picked = set(), []
    trained = {p.name for p in used.iterdir()} if used else set()
    for line in (corpus / "train.txt").read_text().split():
        name = Path(line).name
        if name not in trained and name[:6] not in seen_pieces:
            seen_pieces.add(name[:6])
            picked.append(corpus / line)
    return picked[:count]


def power(x: np.ndarray) -> np.ndarray:
    return np.abs(stft(np.asarray(x, np.float64))) ** 2


def lsd_pair(ref: np.ndarray, out: np.ndarray, cutoff_bin: int) -> np.ndarray:
    d = np.log10(ref + 1e-10) - np.log10(out + 1e-10)
    return np.array([np.mean(np.sqrt(np.mean(d**2, 0))), np.mean(np.sqrt(np.mean(d[cutoff_bin:] ** 2, 0)))])


def windowed(gains: GainsFn, below: np.ndarray, above: np.ndarray) -> np.ndarray:
    total, count = np.zeros(below.size), np.zeros(below.size)
    for start in range(0, max(1, below.size - HOP), HOP):
        part = slice(start, start + WINDOW)
        total[part] += gains(below[part], above[part])
        count[part] += 1
    return total / np.maximum(count, 1)


def db(p: np.ndarray) -> np.ndarray:
    return 10 * np.log10(p + 1e-20)


def every_frame(margin: float, loud_range: float | None) -> GainsFn:
    """Every frame held to the median ratio (of all frames, or of those within ``loud_range`` of the loudest)."""
    def gains(below: np.ndarray, above: np.ndarray) -> np.ndarray:
        ratio = db(above) - db(below)
        chosen = np.ones(below.size, bool) if loud_range is None else db(below) >= db(below).max() - loud_range
        return np.minimum(0.0, np.median(ratio[chosen]) + margin - ratio)
    return gains


def quiet_only_loudest(margin: float) -> GainsFn:
    """Only frames below the loud range (30 dB under the loudest frame) held; the loud ones left alone."""
    def gains(below: np.ndarray, above: np.ndarray) -> np.ndarray:
        g = every_frame(margin, 30.0)(below, above)
        return np.where(db(below) >= db(below).max() - 30.0, 0.0, g)
    return gains


VARIANTS: dict[str, GainsFn] = {
    **{f"every frame, all frames' median, margin {m:g} dB": every_frame(m, None) for m in (3, 6, 10)},
    **{f"every frame, loud frames' median, margin {m:g} dB": every_frame(m, 30.0) for m in (8, 10, 12, 15, 20)},
    "quiet frames only, loud level the loudest frame, margin 10 dB": quiet_only_loudest(10.0),
    "quiet frames only, loud level the 95th percentile, margin 10 dB (shipped)":
        lambda below, above: ceiling_gains_db(below, above, 10.0),
}


def unseen_clips_parser(description: str, cutoffs: list[float] | None = None) -> argparse.ArgumentParser:
    """The arguments of the benchmarks on unseen training-split clips: --corpus, --used, --clips, --seconds, and
    with ``cutoffs`` --cutoffs (Hz, that default)."""
    parser = argparse.ArgumentParser(description=description)
    if cutoffs is not None:
        parser.add_argument("--cutoffs", type=float, nargs="+", default=cutoffs)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--used", type=Path, help="folder of the clips the model was trained on (none: a set no "
                        "training saw, such as the generalisation sets of benchmarks/generalisation.md)")
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=6.0)
    return parser


def load_unseen_clips(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The clips :func:`pick_clips` chooses, ``args.seconds`` long, at 44.1 kHz: name -> (samples,)."""
    return load_clips([str(p) for p in pick_clips(args.corpus, args.used, args.clips)], args.seconds, None, SR)


def main() -> None:
    args = unseen_clips_parser(__doc__.split("\n\n")[0]).parse_args()
    clips = load_unseen_clips(args)
    restorer = Restorer.load(None, RestoreSettings(band_ceiling="off"))
    base, scores, worst = np.zeros(2), {name: np.zeros(2) for name in VARIANTS}, {name: 0.0 for name in VARIANTS}
    for di, (kind, cutoff) in enumerate(ROWS):
        for ci, ref in enumerate(clips.values()):
            degraded = degrade(ref, kind, cutoff, row_rng(0, ci, di // 3, di % 3))
            pr, pi, po = power(ref), power(degraded), power(restore(degraded, SR, restorer))
            c = int(np.ceil(cutoff / (SR / 2) * (pr.shape[0] - 1)))
            plain = lsd_pair(pr, po, c)
            base += plain
            for name, gains in VARIANTS.items():
                held = po.copy()
                held[c:] *= 10 ** (windowed(gains, pi[c // 2 : c].sum(0), po[c:].sum(0)) / 10)
                got = lsd_pair(pr, held, c)
                scores[name] += got
                worst[name] = max(worst[name], got[1] - plain[1])
        print(f"{kind} {cutoff:.0f} Hz done", flush=True)
    n = len(ROWS) * len(clips)
    print(f"\n{len(clips)} clips x {args.seconds:g} s; mean of the six rows: LSD, LSD-HF, worst clip and row (LSD-HF)\n")
    print(f"| none (band_ceiling off) | {base[0] / n:.4f} | {base[1] / n:.4f} | |")
    for name in VARIANTS:
        print(f"| {name} | {scores[name][0] / n:.4f} | {scores[name][1] / n:.4f} | {worst[name]:+.3f} |")


if __name__ == "__main__":
    main()
