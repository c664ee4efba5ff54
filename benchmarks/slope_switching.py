"""How often the slope condition's darkness crosses the gate between neighbouring windows of one input.

The measurement behind the runtime's mean slope so far (model card, "Tried after v3.9 ... the slope condition behind
a gate"):

    python benchmarks/slope_switching.py --clips CLIPS --list benchmarks/dark_slopes_clips.txt -o OUT.json

Each clip (the first ``--n`` names of ``LIST`` in ``CLIPS``, mixed to mono) and its dark versions (a 4th-order
Butterworth low-pass at 2 and at 4 kHz) is band-limited at 4, 8 and 12 kHz by six random filters of the training
recipe and by a plain resample. Per 65536-sample window (hop 32768): the slope condition as training measures it
(``condition``: :func:`~sagasr_stream.replication.window_slope` at the window's own edge, the cutoff where it finds
none), at the edge the runtime gives the window (``runtime``: its own, lowered to the signal's so far where the window
holds nothing more above that), over the octave from a quarter to half of that edge (``lower``: under a filter's
skirt), and each of them averaged over the windows so far (the runtime's feed since the
thirty-fifth session). Prints, per measure and version, the switches across ``--gate`` dB/octave between neighbouring
windows, the mean change of a gate ``[gate, gate - 6]`` between them and the share of windows past the gate.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile
from scipy.signal import butter, sosfilt

from sagasr_stream.bandlimit import band_limit_of
from sagasr_stream.degradation import random_band_limit, resample_through
from sagasr_stream.dsp import N_FFT, band_edge_from_power, interior_power
from sagasr_stream.quantization import rounding_floor
from sagasr_stream.replication import slope_below_edge, spectral_slope_db_per_octave, window_slope

from dark_slopes import CUTOFFS, HOP, SR, WINDOW, frame_powers

MEASURES = ("condition", "runtime", "lower")


def window_measures(y: np.ndarray, cutoff_hz: float) -> list[tuple[float, float, float]]:
    """Per window of ``y``: (the condition as training measures it, the slope at the runtime's edge, the slope over
    the octave from a quarter to half of that edge: below a filter's skirt, not below a dark recording's fall)."""
    power = frame_powers(y)
    so_far = np.cumsum(power, axis=0)
    rows = []
    for k in range(max(1, (len(y) - WINDOW) // HOP + 1)):
        start, end = k * HOP // N_FFT, min(len(power), (k * HOP + WINDOW) // N_FFT)
        history = so_far[start - 1] if start > 0 else np.zeros_like(so_far[0])
        limit = band_limit_of(so_far[end - 1], end, history, start)
        window = y[k * HOP : k * HOP + WINDOW]
        own_power = interior_power(window)
        edge = band_edge_from_power(own_power, rounding_floor(window))
        if limit is not None:
            edge = limit.window_edge(edge, own_power)
        inside = 0 < edge < own_power.size - 1
        runtime = slope_below_edge(own_power, edge, SR) if inside else 0.0
        freqs = np.arange(own_power.size) * SR / N_FFT
        lower = spectral_slope_db_per_octave(own_power, freqs, freqs[edge] / 4, freqs[edge] / 2) if inside else 0.0
        rows.append((window_slope(window, SR, fallback_edge=int(round(cutoff_hz * N_FFT / SR))), runtime, lower))
    return rows


def band_limited_inputs(clips: Path, names: list[str], seed: int) -> Iterator[tuple[dict, np.ndarray, np.ndarray]]:
    """Each input in order: ({clip, version, cutoff, kind, draw}, the unlimited version (samples,) float64, the
    band-limited one); the same draws for the same ``seed``, names and order."""
    rng = np.random.default_rng(seed)
    for name in names:
        with AudioFile(str(clips / name)) as f:
            x = f.read(f.frames).mean(axis=0).astype(np.float64)
        versions = {"ordinary": x} | {f"dark{c}": sosfilt(butter(4, c, fs=SR, output="sos"), x) for c in (2000, 4000)}
        for version, audio in versions.items():
            for cutoff in CUTOFFS:
                inputs = [("filters", random_band_limit(audio, rng, SR, (cutoff, cutoff))[0]) for _ in range(6)]
                inputs.append(("resample", resample_through(audio, SR, 2 * cutoff)))
                for draw, (kind, y) in enumerate(inputs):
                    yield dict(clip=name, version=version, cutoff=cutoff, kind=kind, draw=draw), audio, y


def measure(clips: Path, names: list[str], seed: int) -> list[dict]:
    rows = []
    for key, _, y in band_limited_inputs(clips, names, seed):
        for k, values in enumerate(window_measures(y, key["cutoff"])):
            rows.append(dict(key, window=k, **dict(zip(MEASURES, values))))
    return rows


def summary(rows: list[dict], gate: float) -> None:
    def inputs(version: str, key: str) -> list[np.ndarray]:
        chosen = [r for r in rows if r["version"] == version]
        return [np.array([r[key] for r in group])
                for _, group in groupby(chosen, key=lambda r: (r["clip"], r["cutoff"], r["kind"], r["draw"]))]

    feeds = {"window": lambda v: v, "mean so far": lambda v: np.cumsum(v) / np.arange(1, len(v) + 1)}
    for key in MEASURES:
        for feed, f in feeds.items():
            cells = []
            for version in ("ordinary", "dark2000", "dark4000"):
                series = [f(v) for v in inputs(version, key)]
                switches = sum(int(np.sum(np.diff(s < gate) != 0)) for s in series)
                weights = [np.clip((gate - s) / 6.0, 0.0, 1.0) for s in series]
                jumps = np.concatenate([np.abs(np.diff(w)) for w in weights])
                past = np.mean(np.concatenate(series) < gate)
                cells.append(f"{version}: {switches} switches, gate change {jumps.mean():.4f}, past {past:.3f}")
            print(f"{key} ({feed}): " + "; ".join(cells))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=Path, required=True, help="folder of the clips")
    p.add_argument("--list", type=Path, required=True, help="file names, one per line")
    p.add_argument("--n", type=int, default=27, help="first N names of the list")
    p.add_argument("--seed", type=int, default=34)
    p.add_argument("--gate", type=float, default=-24.0, help="the gate's onset, dB/octave")
    p.add_argument("-o", "--out", type=Path, required=True)
    args = p.parse_args()
    names = [line.strip() for line in args.list.read_text().splitlines() if line.strip()][: args.n]
    rows = measure(args.clips, names, args.seed)
    args.out.write_text(json.dumps(rows))
    summary(rows, args.gate)


if __name__ == "__main__":
    main()
