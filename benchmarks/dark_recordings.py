"""A set of dark recordings: unseen training-split clips of a corpus through a gentle low-pass of their own, so that
their top band lies 40-70 dB down but is there (model card, "Tried after v3.9 ... dark recordings").

    python benchmarks/dark_recordings.py --corpus CORPUS --used USED_CLIPS --out DARK
    sagasr eval DARK --split all -o OUT --degradations filters resample --cutoffs 8000 12000 --pngs 0

Each of ``--clips`` clips (drawn with ``--seed`` from the corpus's training split, none of those in ``--used``, the
first ``--seconds`` of each) is written once per ``--corners`` frequency, through a Butterworth low-pass of
``--order`` at it, peak 0.5, 24-bit FLAC at the clip's rate: ``NAME_lpCORNER.flac``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile
from scipy.signal import butter, sosfilt


def unseen_clips(corpus: Path, used: Path) -> list[str]:
    """File names of the corpus's training-split clips that are not in the folder ``used``."""
    train = [line.strip().split("/")[-1] for line in (corpus / "train.txt").read_text().splitlines() if line.strip()]
    taken = {p.name for p in used.iterdir()}
    return [name for name in train if name not in taken]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, required=True, help="a corpus folder (train.txt, clips/)")
    p.add_argument("--used", type=Path, required=True, help="the clips training used (left out)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--seed", type=int, default=31)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--order", type=int, default=4)
    p.add_argument("--corners", type=float, nargs="+", default=[2000.0, 4000.0], metavar="HZ")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = np.random.default_rng(args.seed).choice(unseen_clips(args.corpus, args.used), args.clips, replace=False)
    for name in names:
        with AudioFile(str(args.corpus / "clips" / name)) as f:
            rate = int(f.samplerate)
            audio = f.read(min(f.frames, int(args.seconds * rate)))
        for corner in args.corners:
            dark = sosfilt(butter(args.order, corner, fs=rate, output="sos"), audio, axis=-1)
            dark = (0.5 * dark / max(1e-9, float(np.abs(dark).max()))).astype(np.float32)
            target = args.out / f"{Path(name).stem}_lp{corner:g}.flac"
            with AudioFile(str(target), "w", rate, dark.shape[0], bit_depth=24) as f:
                f.write(dark)
    print(f"{len(names) * len(args.corners)} clips in {args.out}")


if __name__ == "__main__":
    main()
