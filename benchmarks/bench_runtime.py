"""Real-time factor and peak memory of file restoration on CPU with the tiny test model.

Each (duration, batch) case runs `sagasr_stream.restore_file` in a fresh subprocess on a synthetic
band-limited mono 44.1 kHz WAV and reports wall time / audio time and the process's peak RSS.
Also reports the seam metric (shared vs. independent noise) on the same model.

    python benchmarks/bench_runtime.py --out benchmarks/runtime_results.md
    python benchmarks/bench_runtime.py --model default --durations 60 600 --batches 4 --out /tmp/default.md  # a real bundle
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
import sagasr_stream as ss
src, dst, bundle, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
model = ss.SagaSRModel.load(bundle)
start = time.perf_counter()
ss.restore_file(src, dst, model, ss.RestoreSettings(batch_size=batch), overwrite=True)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_input(path: Path, seconds: float) -> None:
    from pedalboard.io import AudioFile
    from scipy import signal

    sos = signal.butter(8, 6000, fs=44100, output="sos")
    rng = np.random.default_rng(0)
    block = 44100 * 10
    state = np.zeros((sos.shape[0], 2))
    with AudioFile(str(path), "w", 44100, 1, bit_depth=16) as f:
        for start in range(0, int(seconds * 44100), block):
            n = min(block, int(seconds * 44100) - start)
            y, state = signal.sosfilt(sos, 0.3 * rng.standard_normal(n), zi=state)
            f.write(y.astype(np.float32)[None])


def seam_numbers(bundle: Path) -> dict[str, float]:
    import sagasr_stream.engine as engine
    from sagasr_stream import RestoreSettings, SagaSRModel, restore
    from sagasr_stream.chunking import WindowPlan
    from sagasr_stream.degradation import LowPassSpec, band_limit
    from sagasr_stream.evaluation.metrics import seam_energy_ratio_db
    from sagasr_stream.sampler import latent_noise

    model = SagaSRModel.load(bundle)
    x = band_limit(0.3 * np.random.default_rng(1).standard_normal(44100 * 20), 44100, LowPassSpec("cheby1", 8, 4000.0), False)
    settings = RestoreSettings(overlap=16384)
    plan = WindowPlan(model.manifest.window_samples, settings.overlap)

    def metric(y: np.ndarray) -> float:
        return seam_energy_ratio_db(y, plan.seam_centres(len(y)), plan.overlap, 44100, 5000.0)

    shared = metric(restore(x, 44100, model, settings))
    original, counter = engine.latent_noise, iter(range(10**6))
    engine.latent_noise = lambda seed, ch, start, n, c: latent_noise(seed + 7919 + next(counter), ch, 0, n, c)
    try:
        independent = metric(restore(x, 44100, model, settings))
    finally:
        engine.latent_noise = original
    return {"shared_noise_db": shared, "independent_noise_db": independent}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--durations", type=float, nargs="+", default=[10, 60, 600])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("runtime_results.md"))
    parser.add_argument("--model", default=None, help="a bundle folder, or 'default' for the embedded model "
                                                     "(default: the tiny untrained test bundle)")
    args = parser.parse_args()

    from sagasr_stream.testing import build_tiny_bundle

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.model is None:
            bundle = build_tiny_bundle(tmp / "bundle", window_samples=65536, downsampling=2048, steps=8)
            model_line = ("Model: `build_tiny_bundle(window_samples=65536, downsampling=2048, steps=8)` (untrained, 8 latent "
                          "channels: it measures the runtime's own overhead, not a real DiT).")
        else:
            from sagasr_stream.model import DEFAULT_BUNDLE_DIR

            bundle = DEFAULT_BUNDLE_DIR if args.model == "default" else Path(args.model)
            model_line = f"Model: the bundle `{args.model}` at its default settings."
        for seconds in args.durations:
            src = tmp / f"in_{seconds:g}.wav"
            write_input(src, seconds)
            for batch in args.batches:
                out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(tmp / "out.wav"), str(bundle), str(batch)],
                                     capture_output=True, text=True, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append({"audio_s": seconds, "batch": batch, "rtf": result["seconds"] / seconds, **result})
                print(rows[-1], flush=True)
        seams = seam_numbers(bundle)
    by = {(r["audio_s"], r["batch"]): r for r in rows}
    lines = [
        "# Runtime benchmark: " + ("tiny test model" if args.model is None else f"model {args.model}") + ", CPU",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}, "
        f"date {time.strftime('%Y-%m-%d')}. {model_line} The seam check below uses overlap 16384.",
        "Command: `python benchmarks/bench_runtime.py`",
        "",
        "| audio | windows/call | wall s | real-time factor | peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r['audio_s']:g} s | {r['batch']} | {r['seconds']:.2f} | {r['rtf']:.4f} | {r['peak_rss_mb']:.0f} |" for r in rows]
    if (60, args.batches[0]) in by and (600, args.batches[0]) in by:
        lines += ["", "Peak memory, 10 min / 1 min: " + ", ".join(
            f"batch {b}: {by[(600, b)]['peak_rss_mb'] / by[(60, b)]['peak_rss_mb']:.3f}x" for b in args.batches)]
    lines += ["", "## Seams (20 s of 4 kHz band-limited noise, high band above 5 kHz, 0 dB = no dip)", "",
              f"- noise shared by absolute latent position (ours): {seams['shared_noise_db']:+.2f} dB",
              f"- fresh noise per window (naive): {seams['independent_noise_db']:+.2f} dB", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
