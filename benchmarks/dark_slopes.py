"""How fast a band-limited input's spectrum falls below its band edge: ordinary music against dark recordings.

The measurement behind the darkness of the SBR cap tried after v3.9 (model card, "Tried after v3.9 ... the cap
weighted by the darkness of the signal so far"):

    python benchmarks/dark_slopes.py --clips CLIPS --list LIST [--n 27] [--draws 6] -o OUT.json

(the model card's numbers: ``--list benchmarks/dark_slopes_clips.txt``, 27 of the 108 clips training used, in
``--clips``, the folder the choice sets take as ``--used``).

Each clip (the first ``--n`` names of ``LIST``, files in ``CLIPS``, mixed to mono), and its dark versions (through a
4th-order Butterworth low-pass at each of ``--corners``), is band-limited at 4, 8 and 12 kHz by ``--draws`` random
filters of the training recipe and by a plain resample. Per 65536-sample window (hop 32768, the default model's):
the slope (dB/octave) over the two octaves below the edge of the signal so far (its mean power spectrum up to the
window's end, edge as the runtime's :func:`~sagasr_stream.bandlimit.band_limit_of` finds it), the same for the
window alone at the nominal cutoff, and the DiT's slope condition (``condition``:
:func:`~sagasr_stream.replication.window_slope` at the window's own edge, at the cutoff where it finds none, as
training measures it). Prints per cutoff and degradation ordinary music's steepest and 1st percentile and the share
of windows past -24 / -30 / -36 dB/octave (``--thresholds``), ordinary against dark (``--key``: which measure), and
how often the sign of "past -24" switches between neighbouring windows of one input; the rows go to OUT.
"""
from __future__ import annotations

import argparse
import json
from itertools import groupby
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile
from scipy.signal import butter, sosfilt

from sagasr_stream.bandlimit import band_limit_of
from sagasr_stream.degradation import random_band_limit, resample_through
from sagasr_stream.dsp import N_FFT, _hann
from sagasr_stream.replication import slope_below_edge, window_slope

SR, WINDOW, HOP = 44100, 65536, 32768
CUTOFFS = (4000, 8000, 12000)


def frame_powers(y: np.ndarray) -> np.ndarray:
    """(frames, bins) power of side-by-side Hann frames of N_FFT samples (the band limit tracker's frames)."""
    n = len(y) // N_FFT
    return np.abs(np.fft.rfft(y[: n * N_FFT].reshape(n, N_FFT) * _hann(N_FFT), axis=-1)) ** 2


def window_slopes(y: np.ndarray, cutoff_hz: float) -> list[tuple[float, float, float]]:
    """Per window: (slope of the signal so far below its detected edge, slope of the window below the cutoff, the
    window's slope condition)."""
    power = frame_powers(y)
    so_far = np.cumsum(power, axis=0)
    rows = []
    for k in range(max(1, (len(y) - WINDOW) // HOP + 1)):
        start, end = k * HOP // N_FFT, min(len(power), (k * HOP + WINDOW) // N_FFT)
        limit = band_limit_of(so_far[end - 1], end, so_far[end - 1], end)
        if limit is not None:
            cutoff_bin = int(round(cutoff_hz * N_FFT / SR))
            own = slope_below_edge(power[start:end].mean(axis=0), cutoff_bin, SR)
            condition = window_slope(y[k * HOP : k * HOP + WINDOW], SR, fallback_edge=cutoff_bin)
            rows.append((slope_below_edge(so_far[end - 1] / end, limit.edge_bin, SR), own, condition))
    return rows


def measure(clips: Path, names: list[str], corners: list[float], draws: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for name in names:
        with AudioFile(str(clips / name)) as f:
            x = f.read(f.frames).mean(axis=0).astype(np.float64)
        versions = {"ordinary": x} | {f"dark{c:g}": sosfilt(butter(4, c, fs=SR, output="sos"), x) for c in corners}
        for version, audio in versions.items():
            for cutoff in CUTOFFS:
                inputs = [("filters", random_band_limit(audio, rng, SR, (cutoff, cutoff))[0]) for _ in range(draws)]
                inputs.append(("resample", resample_through(audio, SR, 2 * cutoff)))
                for draw, (kind, y) in enumerate(inputs):
                    for k, (so_far, own, condition) in enumerate(window_slopes(y, cutoff)):
                        rows.append(dict(clip=name, version=version, cutoff=cutoff, kind=kind, draw=draw, window=k,
                                         so_far=so_far, own=own, condition=condition))
    return rows


def switches(rows: list[dict], key: str) -> int:
    """Times "past -24 dB/octave" changes between neighbouring windows of one band-limited input."""
    count = 0
    for _, group in groupby(rows, key=lambda r: (r["clip"], r["version"], r["cutoff"], r["draw"])):
        past = [r[key] < -24 for r in group]
        count += sum(a != b for a, b in zip(past, past[1:]))
    return count


def summary(rows: list[dict], key: str = "so_far", thresholds: tuple[float, ...] = (-24, -30, -36)) -> None:
    print(f"measure: {key}")
    for cutoff in CUTOFFS:
        for kind in ("filters", "resample"):
            sel = [r for r in rows if r["cutoff"] == cutoff and r["kind"] == kind]
            ordinary = np.array([r[key] for r in sel if r["version"] == "ordinary"])
            dark = np.array([r[key] for r in sel if r["version"] != "ordinary"])
            shares = " ".join(f"past {t}: {(ordinary < t).mean():.3f} / {(dark < t).mean():.2f}"
                              for t in thresholds)
            print(f"{cutoff} Hz {kind}: ordinary steepest {ordinary.min():.1f}, 1st percentile "
                  f"{np.percentile(ordinary, 1):.1f}; dark median {np.median(dark):.1f}; ordinary / dark {shares}")
    for version in ("ordinary", "dark"):
        sel = [r for r in rows if (r["version"] == "ordinary") == (version == "ordinary")]
        print(f"{version}: switches of the gate at -24, window alone {switches(sel, 'own')}, signal so far "
              f"{switches(sel, 'so_far')}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=Path, required=True, help="folder of the clips")
    p.add_argument("--list", type=Path, required=True, help="file names, one per line")
    p.add_argument("--n", type=int, default=27, help="first N names of the list")
    p.add_argument("--corners", type=float, nargs="+", default=[2000.0, 4000.0], metavar="HZ")
    p.add_argument("--draws", type=int, default=6, help="random filters per clip and cutoff")
    p.add_argument("--seed", type=int, default=34)
    p.add_argument("--key", choices=("so_far", "own", "condition"), default="so_far", help="the measure summarised")
    p.add_argument("--thresholds", type=float, nargs="+", default=[-24.0, -30.0, -36.0], metavar="DB_PER_OCTAVE")
    p.add_argument("--rows", type=Path, help="summarise these rows (an earlier OUT) instead of measuring again")
    p.add_argument("-o", "--out", type=Path, required=True)
    args = p.parse_args()
    if args.rows is not None:
        rows = json.loads(args.rows.read_text())
    else:
        names = [line.strip() for line in args.list.read_text().splitlines() if line.strip()][: args.n]
        rows = measure(args.clips, names, args.corners, args.draws, args.seed)
        args.out.write_text(json.dumps(rows))
    summary(rows, args.key, tuple(args.thresholds))


if __name__ == "__main__":
    main()
