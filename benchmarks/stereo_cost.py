"""Cost of a stereo restore against mono, per channel-second, with the embedded default model (issues 16/17).

    python benchmarks/stereo_cost.py [--seconds 30] [--rounds 5]

``stereo_bench.py``'s cost measurement (:func:`stereo_bench.rtf`: the pair as ``linked`` and ``independent``
and its left channel alone, interleaved, best of ``--rounds``) on synthetic material that needs no corpus:
band-limited noise (8 kHz cutoff) as the left channel and a partly correlated right channel.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stereo_bench import RATE, SagaSRModel, resample_through, rtf  # noqa: E402  (this checkout's sagasr_stream)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    model = SagaSRModel.load()
    rng = np.random.default_rng(0)
    n = int(RATE * args.seconds)
    left = resample_through(rng.standard_normal(n) * 0.1, RATE, 16000)
    right = 0.7 * left + 0.3 * resample_through(rng.standard_normal(n) * 0.1, RATE, 16000)
    result = rtf(model, np.stack([left, right]).astype(np.float32), args.rounds)
    print(f"{model.manifest.name}: RTF mono {result['mono']:.4f}, linked {result['linked']:.4f}, independent "
          f"{result['independent']:.4f}; linked per channel-second / mono: {result['linked'] / 2 / result['mono']:.3f}")


if __name__ == "__main__":
    main()
