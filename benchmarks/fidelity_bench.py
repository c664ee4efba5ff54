"""Fidelity benchmark (issue 11): does restoration keep the band the input already has?

For every validation clip (first ``--seconds``), band-limited by a plain resample and by a training-recipe
filter (degradation.draw_lowpass with the cutoff fixed, then resampled to 2 x cutoff and back) at 4/8/12 kHz, it
restores with the embedded default model and scores, against the full-band reference:
  LSD below the cutoff (bins < cutoff) and above it (bins >= cutoff), for the band-limited input and the output,
plus the full-band clips themselves through the model (LSD of the output against its own input).
It imports whatever ``sagasr_stream`` comes first on the path, so the same script measures any commit:

    PYTHONPATH=. python benchmarks/fidelity_bench.py --out after.json
    git archive 00beeb0 sagasr_stream | tar -x -C /tmp/base && PYTHONPATH=/tmp/base python benchmarks/fidelity_bench.py --out before.json
    python benchmarks/fidelity_bench.py --table before.json after.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SR = 44100
CLIPS = Path(__file__).resolve().parents[1] / "tests" / "data" / "validation_clips"
EPS = 1e-10


def band_lsd(estimate: np.ndarray, reference: np.ndarray, low_hz: float, high_hz: float) -> float:
    """LSD (log10 power, STFT n_fft 2048 hop 512, per-frame RMS over bins, mean over frames) over the bins
    with low_hz <= f < high_hz."""
    from sagasr_stream.dsp import stft

    pe = np.abs(stft(np.asarray(estimate, np.float64))) ** 2
    pr = np.abs(stft(np.asarray(reference, np.float64))) ** 2
    freqs = np.arange(pe.shape[0]) * SR / 2048
    sel = (freqs >= low_hz) & (freqs < high_hz)
    diff = np.log10(pr[sel] + EPS) - np.log10(pe[sel] + EPS)
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


def degrade(clip: np.ndarray, kind: str, cutoff: float, seed: int) -> np.ndarray:
    """The evaluation's degradation (:func:`sagasr_stream.degradation.degrade`) seeded by ``seed``."""
    from sagasr_stream import degradation

    return degradation.degrade(clip, kind, cutoff, np.random.default_rng(seed), SR)


def run(seconds: float) -> dict:
    from pedalboard.io import AudioFile

    import sagasr_stream as ss

    model = ss.SagaSRModel.load()
    rows, full = [], []
    start = time.perf_counter()
    for i, path in enumerate(sorted(CLIPS.glob("*.flac"))):
        with AudioFile(str(path)) as f:
            clip = f.read(int(seconds * f.samplerate))[0].astype(np.float32)
        out = ss.restore(clip, SR, model)
        full.append({"clip": path.stem, "lsd_vs_input": band_lsd(out, clip, 0, SR)})
        for kind in ("resample", "filters"):  # degradation.DEGRADATIONS
            for cutoff in (4000.0, 8000.0, 12000.0):
                lr = degrade(clip.astype(np.float64), kind, cutoff, seed=1000 * i + int(cutoff))
                y = ss.restore(lr, SR, model)
                rows.append({
                    "clip": path.stem, "degradation": kind, "cutoff_hz": cutoff,
                    "below_input": band_lsd(lr, clip, 0, cutoff), "below_output": band_lsd(y, clip, 0, cutoff),
                    "above_input": band_lsd(lr, clip, cutoff, SR), "above_output": band_lsd(y, clip, cutoff, SR),
                    "kept_vs_input": band_lsd(y, lr, 0, 0.95 * cutoff),
                })
    return {"seconds": seconds, "clips": len(full), "wall_s": time.perf_counter() - start, "rows": rows, "full_band": full}


def table(before: dict, after: dict) -> str:
    lines = [
        "| degradation | cutoff | LSD below: input | before | after | LSD above: input | before | after | kept band vs input (<0.95 cutoff): before | after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["degradation"], r["cutoff_hz"]) for r in after["rows"]}, key=lambda k: (k[0] != "resample", k[1]))
    for kind, cutoff in keys:
        def mean(result: dict, field: str) -> float:
            return float(np.mean([r[field] for r in result["rows"] if r["degradation"] == kind and r["cutoff_hz"] == cutoff]))

        lines.append(
            f"| {kind} | {cutoff / 1000:g} kHz | {mean(after, 'below_input'):.3f} | {mean(before, 'below_output'):.3f} | "
            f"{mean(after, 'below_output'):.3f} | {mean(after, 'above_input'):.3f} | {mean(before, 'above_output'):.3f} | "
            f"{mean(after, 'above_output'):.3f} | {mean(before, 'kept_vs_input'):.3f} | {mean(after, 'kept_vs_input'):.3f} |"
        )
    fb = [np.array([r["lsd_vs_input"] for r in res["full_band"]]) for res in (before, after)]
    lines.append("")
    lines.append(f"Full-band clips through the model, LSD of the output against its own input: before mean "
                 f"{fb[0].mean():.3f} (max {fb[0].max():.3f}), after mean {fb[1].mean():.3f} (max {fb[1].max():.3f}).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--table", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.table:
        print(table(*(json.loads(p.read_text()) for p in args.table)))
        return
    result = run(args.seconds)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text)
    print(f"{result['clips']} clips, {result['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
