"""Cost of a stereo restore against mono, per channel-second, with the embedded default model (issue 16/17).

    python benchmarks/stereo_cost.py [--seconds 30] [--rounds 5]

Band-limited noise (8 kHz cutoff) as the left channel, a partly correlated right channel; ``restore`` of the pair
(default ``stereo="linked"``) and of the left channel alone, interleaved, best of ``--rounds`` each, one
``Restorer`` for both. Prints the real-time factors and stereo per channel-second / mono.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's sagasr_stream (and its model)
import sagasr_stream as ss  # noqa: E402
from sagasr_stream.degradation import resample_through  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    restorer = ss.Restorer(ss.SagaSRModel.load(), ss.RestoreSettings())
    rng = np.random.default_rng(0)
    n = int(44100 * args.seconds)
    left = resample_through(rng.standard_normal(n) * 0.1, 44100, 16000)
    right = 0.7 * left + 0.3 * resample_through(rng.standard_normal(n) * 0.1, 44100, 16000)
    cases = {"mono": left.astype(np.float32), "stereo": np.stack([left, right]).astype(np.float32)}
    ss.restore(cases["mono"], 44100, restorer)  # warm-up: sessions, caches
    best = {k: np.inf for k in cases}
    for _ in range(args.rounds):
        for name, audio in cases.items():
            start = time.perf_counter()
            ss.restore(audio, 44100, restorer)
            best[name] = min(best[name], time.perf_counter() - start)
    print(f"{restorer.model.manifest.name}: RTF mono {best['mono'] / args.seconds:.4f}, stereo {best['stereo'] / args.seconds:.4f}; "
          f"stereo per channel-second / mono: {best['stereo'] / 2 / best['mono']:.3f}")


if __name__ == "__main__":
    main()
