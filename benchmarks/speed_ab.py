"""Before/after speed of whole restorations with the embedded default model, checkouts side by side.

    python benchmarks/speed_ab.py --checkout before=/tmp/before --checkout after=. [--rounds 3] [--seconds 20]

Each measurement runs in a fresh process with the checkout first on ``sys.path`` (a folder holding
``sagasr_stream/``, e.g. ``git archive <commit> sagasr_stream | tar -x -C /tmp/before``); the checkouts
alternate round by round and the best round counts (the CPU may be shared). The cases:

- ``mono``: ``restore`` of ``--seconds`` s of 8 kHz band-limited noise at 44.1 kHz, default settings
  (what ``sagasr bench`` runs); real-time factor = wall seconds / audio seconds;
- ``stereo``: the same length, two different channels; the factor is per channel-second (wall / (2 x s));
- ``live``: a ``StreamingRestorer`` (mono, one window per call) fed 1024-sample blocks: the slowest block's
  milliseconds (a block that completes a window runs the whole model on it).

Each checkout uses its own embedded bundle (``SAGASR_MODEL`` set in the environment overrides that).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
import numpy as np
from sagasr_stream import RestoreSettings, SagaSRModel, StreamingRestorer, restore
try:
    from sagasr_stream.degradation import resample_through
except ImportError:  # checkouts before the degradation module
    from sagasr_stream.dsp import resample_through
case, seconds = sys.argv[1], float(sys.argv[2])
model = SagaSRModel.load()
sr = model.manifest.sample_rate
rng = np.random.default_rng(0)
def noise(channel):
    x = 0.1 * np.random.default_rng(channel).standard_normal(int(seconds * sr))
    return resample_through(x, sr, 16000).astype(np.float32)
if case == "live":
    stream = StreamingRestorer(model, RestoreSettings(), 1)
    audio = noise(0)
    worst = 0.0
    for i in range(0, len(audio) - 1024, 1024):
        t0 = time.perf_counter(); stream.process(audio[i:i + 1024]); worst = max(worst, time.perf_counter() - t0)
    print(json.dumps({"value": worst * 1e3, "unit": "ms"}))
else:
    audio = noise(0) if case == "mono" else np.stack([noise(0), noise(1)])
    restore(audio[..., : sr // 2], sr, model)  # warm-up: sessions and caches
    t0 = time.perf_counter(); restore(audio, sr, model); elapsed = time.perf_counter() - t0
    channels = 1 if case == "mono" else 2
    print(json.dumps({"value": elapsed / (seconds * channels), "unit": "RTF per channel-second"}))
"""


def run_case(checkout: Path, case: str, seconds: float, env: dict[str, str]) -> float:
    child_env = dict(env, PYTHONPATH=str(checkout.resolve()))
    out = subprocess.run([sys.executable, "-c", CHILD, case, str(seconds)], capture_output=True, text=True,
                         env=child_env, cwd="/", check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["value"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkout", action="append", required=True, metavar="NAME=FOLDER")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--cases", default="mono,stereo,live")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    checkouts = {n: Path(f) for n, f in (c.split("=", 1) for c in args.checkout)}
    env = dict(os.environ)
    cases = args.cases.split(",")
    best: dict[str, dict[str, float]] = {c: {} for c in cases}
    for r in range(args.rounds):
        for case in cases:
            for name, folder in checkouts.items():
                value = run_case(folder, case, args.seconds if case != "live" else min(args.seconds, 8.0), env)
                best[case][name] = min(best[case].get(name, float("inf")), value)
                print(f"round {r + 1} {case:6s} {name:8s} {value:.4g}  (load {os.getloadavg()[0]:.1f})", flush=True)
    print("\n| case | " + " | ".join(checkouts) + " | ratio |\n|---|" + "---|" * (len(checkouts) + 1))
    for case in cases:
        values = [best[case][n] for n in checkouts]
        print(f"| {case} | " + " | ".join(f"{v:.4g}" for v in values) + f" | {values[0] / values[-1]:.2f}x |")
    if args.json:
        Path(args.json).write_text(json.dumps(best, indent=1))


if __name__ == "__main__":
    main()
