"""Ordinary music whose windows fall as fast as a dark recording's: a candidate against a reference model on it.

The check behind the gated slope condition's fifth condition (model card, "Tried after v3.9 ... the slope condition
behind a gate"):

    python benchmarks/slope_switching.py --clips CLIPS --list benchmarks/dark_slopes_clips.txt -o ROWS.json
    python benchmarks/steep_ordinary.py --clips CLIPS --list benchmarks/dark_slopes_clips.txt --rows ROWS.json \\
        --model CANDIDATE [--against REFERENCE]

Draws the same band-limited inputs as ``slope_switching.py`` (its seed and order) and keeps the ordinary ones (no
low-pass) with a window past ``--gate`` dB/octave at the runtime's edge. Each is restored by both bundles (the
reference: the embedded default model) and scored against the clip itself (LSD and the high-band envelope
correlation above the cutoff); prints each input and the means.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import sagasr_stream as ss
from sagasr_stream.evaluation.metrics import quality

from slope_switching import SR, band_limited_inputs


def steep_inputs(clips: Path, names: list[str], rows: list[dict], seed: int, gate: float):
    """(key, clip (samples,) float32, band-limited input) of every ordinary input with a window past ``gate``."""
    steep = {(r["clip"], r["cutoff"], r["kind"], r["draw"]) for r in rows
             if r["version"] == "ordinary" and r["runtime"] < gate}
    for key, audio, y in band_limited_inputs(clips, names, seed):  # every draw made: the generator runs as before
        if key["version"] == "ordinary" and (key["clip"], key["cutoff"], key["kind"], key["draw"]) in steep:
            yield key, audio.astype(np.float32), y.astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=Path, required=True)
    p.add_argument("--list", type=Path, required=True)
    p.add_argument("--rows", type=Path, required=True, help="slope_switching.py's OUT")
    p.add_argument("--model", required=True, help="the candidate bundle")
    p.add_argument("--against", help="the reference bundle (default: the embedded default model)")
    p.add_argument("--n", type=int, default=27)
    p.add_argument("--seed", type=int, default=34, help="slope_switching.py's --seed")
    p.add_argument("--gate", type=float, default=-24.0)
    args = p.parse_args()
    names = [line.strip() for line in args.list.read_text().splitlines() if line.strip()][: args.n]
    models = {"reference": ss.Restorer.load(args.against) if args.against else ss.Restorer.load(),
              "candidate": ss.Restorer.load(args.model)}
    scores = []
    rows = json.loads(args.rows.read_text())
    for key, clip, y in steep_inputs(args.clips, names, rows, args.seed, args.gate):
        row = {who: quality(model.restore(y[None])[0], clip, SR, key["cutoff"]) for who, model in models.items()}
        scores.append([row[w][m] for w in models for m in ("lsd", "env")])
        print(f"{key['clip']} {key['cutoff']} Hz {key['kind']} {key['draw']}: " + " | ".join(
            f"{who} LSD {row[who]['lsd']:.3f} env {row[who]['env']:.3f}" for who in models), flush=True)
    mean = np.mean(scores, axis=0)
    print(f"{len(scores)} inputs: reference LSD {mean[0]:.4f} env {mean[1]:.4f}; candidate LSD {mean[2]:.4f} "
          f"({100 * (mean[2] / mean[0] - 1):+.2f} %) env {mean[3]:.4f} ({mean[3] - mean[1]:+.4f})")


if __name__ == "__main__":
    main()
