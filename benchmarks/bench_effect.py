"""Latency and real-time factor of BandwidthExtension inside a pedalboard chain, on CPU.

    python benchmarks/bench_effect.py [--seconds 30] [--model BUNDLE]

Measures the tiny test model (same shape as bench_runtime.py) and, if present, the embedded default model.
Chain: HighpassFilter -> BandwidthExtension -> Compressor -> Limiter, stereo 44.1 kHz.
- offline: chain(x, 44100) (reset=True, latency compensated);
- streaming: chain.process(block, 44100, reset=False) in 1024-sample blocks + flush; the worst block time
  is what a live callback must survive (one window restore happens inside one block).
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pedalboard

from sagasr_stream import SagaSRModel
from sagasr_stream.chain import Chain
from sagasr_stream.effect import BandwidthExtension
from sagasr_stream.model import DEFAULT_BUNDLE_DIR
from sagasr_stream.testing import build_tiny_bundle

RATE = 44100
BLOCK = 1024


def chain_for(model: SagaSRModel) -> Chain:
    return Chain([pedalboard.HighpassFilter(40), BandwidthExtension(model), pedalboard.Compressor(-18, 3), pedalboard.Limiter(-1)])


def offline_run(model: SagaSRModel, x: np.ndarray) -> float:
    chain = chain_for(model)
    start = time.perf_counter()
    chain(x, RATE)
    return time.perf_counter() - start


def streaming_run(model: SagaSRModel, x: np.ndarray) -> tuple[float, float]:
    """(total seconds, worst single block seconds) for 1024-sample reset=False blocks and the flush."""
    chain = chain_for(model)
    worst, start = 0.0, time.perf_counter()
    for i in range(0, x.shape[1], BLOCK):
        t = time.perf_counter()
        chain.process(x[:, i : i + BLOCK], RATE, reset=False)
        worst = max(worst, time.perf_counter() - t)
    chain.flush()
    return time.perf_counter() - start, worst


def measure(name: str, model: SagaSRModel, seconds: float, repeat: int) -> str:
    """One table row; times are the best of ``repeat`` runs (the machine is shared)."""
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((2, int(seconds * RATE)))).astype(np.float32)
    latency = chain_for(model).reported_latency_samples
    chain_for(model)(x[:, :RATE], RATE)  # warm-up
    offline = min(offline_run(model, x) for _ in range(repeat))
    streaming, worst = min(streaming_run(model, x) for _ in range(repeat))
    return (
        f"| {name} | {latency} | {latency / RATE * 1000:.1f} | {seconds:g} s stereo | {offline / seconds:.4f} | "
        f"{streaming / seconds:.4f} | {worst * 1000:.1f} ({BLOCK / RATE * 1000:.1f} ms budget) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--model", default=None, help="also measure this bundle")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported")
    args = parser.parse_args()
    models = []
    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_tiny_bundle(Path(tmp) / "tiny", window_samples=65536, downsampling=2048, steps=8)
        models.append(("tiny test model (window 65536, 8 steps)", SagaSRModel.load(tiny, provider="cpu")))
        if (DEFAULT_BUNDLE_DIR / "manifest.json").is_file():
            models.append(("embedded default model", SagaSRModel.load(provider="cpu")))
        else:
            print("no embedded default model in this installation: measuring the tiny model only", file=sys.stderr)
        if args.model:
            models.append((f"model {args.model}", SagaSRModel.load(args.model, provider="cpu")))
        print(f"Machine: {platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}, "
              f"onnxruntime CPU. Best of {args.repeat} runs. Command: `python benchmarks/bench_effect.py --seconds {args.seconds:g}`\n")
        print("| model | latency (samples) | latency (ms) | audio | RTF offline chain | RTF streaming chain "
              f"({BLOCK}-sample blocks) | worst block ms |")
        print("|---|---|---|---|---|---|---|")
        for name, model in models:
            print(measure(name, model, args.seconds, args.repeat), flush=True)


if __name__ == "__main__":
    main()
