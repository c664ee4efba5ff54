"""What the band edge detector's steep-cut rules change, edge by edge: a steep cut into a falling stop band
(``dsp.EDGE_STEEP_DROP_DB``, ``dsp._steep_cut``) and a steep cut under a shelf (``dsp.EDGE_SHELF_DB``,
``dsp._under_a_shelf``).

    python benchmarks/edge_steep_cut.py CORPUS/clips MS7/clips AVL11/clips HITS/clips --cutoffs 2000 3000 4000 5000 6000

For every audio file under the folders (mono mix): its windows as they are (65536 samples, hop 32768; a shorter
file is one window) with the rules and without them (``EDGE_STEEP_DROP_DB`` = inf: the detector before), counted where the
edge moves; the deepest drop of a candidate cut that only the floor test turns down in a full-band window (how close
full-band material comes to the rule); and the file's first window resampled at each cutoff (``resample_through``,
deterministic): how many read at 1.5 x the cutoff or more (full band, or a shelf's end) without the rules, with the
first alone (``EDGE_SHELF_DB`` = inf) and with both, and how many read below 0.85 x with both. No model runs: edges
only.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile
from scipy import ndimage

from sagasr_stream import dsp
from sagasr_stream.degradation import resample_through

SR = 44100
WINDOW, HOP = 65536, 32768
SUFFIXES = {".flac", ".wav", ".aif", ".aiff"}


def edge_bin(x: np.ndarray, steep: bool, shelf: bool = True) -> int:
    saved = dsp.EDGE_STEEP_DROP_DB, dsp.EDGE_SHELF_DB
    dsp.EDGE_STEEP_DROP_DB = saved[0] if steep else float("inf")
    dsp.EDGE_SHELF_DB = saved[1] if shelf else float("inf")
    try:
        return dsp.band_edge_from_power(dsp.interior_power(x))
    finally:
        dsp.EDGE_STEEP_DROP_DB, dsp.EDGE_SHELF_DB = saved


def deepest_turned_down_drop(x: np.ndarray) -> float:
    """The largest band-to-just-above drop (dB) of a candidate that passes every test of ``dsp._cut_in`` but the
    floor test, under a filled octave (the rule's own condition); -inf if none."""
    power = dsp.without_dc_bins(dsp.interior_power(x))
    peak = power.max()
    if not peak > 0:
        return -np.inf
    level = 10 * np.log10(power + peak * 10 ** (-dsp.EDGE_DYNAMIC_RANGE_DB / 10))
    envelope = ndimage.median_filter(ndimage.maximum_filter1d(level, 9), 31, mode="nearest")
    span, deepest = dsp.EDGE_SPAN, -np.inf
    for k in range(int((power.size - 1) / (1 + span)), 16, -1):
        lo = slice(int(k * (1 - span)), max(int(k * (1 - span / 3)), int(k * (1 - span)) + 1))
        hi = slice(int(np.ceil(k * (1 + span / 3))), int(k * (1 + span)) + 1)
        band, above = float(np.median(envelope[lo])), float(np.median(envelope[hi]))
        if band - above < dsp.EDGE_DROP_DB or band - above <= deepest:
            continue
        if above <= float(np.percentile(envelope[hi.start :], 90)) + 6.0:
            continue  # a cut already without the rule
        if float(envelope[k // 2 : lo.start + 1].min()) < band - dsp.EDGE_ISLAND_DB:
            continue
        if float(np.percentile(level[k // 2 : lo.stop], 25)) < band - dsp.EDGE_STEEP_FILL_DB:
            continue
        deepest = band - above
    return deepest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--cutoffs", nargs="+", type=float, default=[2000, 3000, 4000, 5000, 6000])
    args = p.parse_args()
    files = sorted(f for folder in args.folders for f in folder.rglob("*") if f.suffix.lower() in SUFFIXES)
    windows = moved = 0
    deepest: list[tuple[float, str]] = []
    reads = {c: np.zeros(4, int) for c in args.cutoffs}  # >= 1.5 x: before, steep cut alone, both; < 0.85 x: both
    for path in files:
        with AudioFile(str(path)) as f:
            if f.samplerate != SR:
                continue
            x = f.read(f.frames).mean(axis=0).astype(np.float64)
        starts = range(0, max(1, x.size - WINDOW + 1), HOP) if x.size > WINDOW else [0]
        for start in starts:
            w = x[start : start + WINDOW]
            before = edge_bin(w, False)
            windows += 1
            moved += edge_bin(w, True) != before
            if before == dsp.N_FFT // 2:  # a full-band window
                deepest.append((deepest_turned_down_drop(w), path.name))
        for cutoff in args.cutoffs:
            y = resample_through(x[:WINDOW], SR, 2 * cutoff)
            before, steep, both = (edge_bin(y, *rules) * SR / dsp.N_FFT / cutoff
                                   for rules in ((False, False), (True, False), (True, True)))
            reads[cutoff] += [before >= 1.5, steep >= 1.5, both >= 1.5, both < 0.85]
    deepest.sort(reverse=True)
    print(f"{len(files)} files, {windows} windows as they are; edge moved by the rules in {moved}")
    print(f"deepest drops only the floor test turns down in the {len(deepest)} full-band ones (dB): "
          + ", ".join(f"{d:.1f} {name}" for d, name in deepest[:5] if np.isfinite(d)))
    print("\n| cutoff | read at >= 1.5 x before | steep cut alone | both rules | both: below 0.85 x |\n|---|---|---|---|---|")
    for cutoff, (before, steep, both, low) in reads.items():
        print(f"| {cutoff / 1000:g} kHz | {before} | {steep} | {both} | {low} |")


if __name__ == "__main__":
    main()
