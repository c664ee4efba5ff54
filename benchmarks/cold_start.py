"""Cold start of ``python -m sagasr_stream upsample``: wall time of the whole command and of its loading phases.

Each measurement is a fresh Python process. Runs of two package checkouts (e.g. before/after a change) are
interleaved so that load from other processes on the machine hits both alike; medians are reported.

    python benchmarks/cold_start.py --runs 5 --checkout before=/tmp/before --checkout after=.

The cache (verified hashes, optimised graphs) of each checkout goes to its own fresh folder; the first run
of a checkout that uses the cache fills it ("first"), later runs use it ("warm").
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = r"""
import sys, time
t0 = time.perf_counter()
import sagasr_stream as ss
from sagasr_stream import bundle as B, model as M
t1 = time.perf_counter(); b = B.load_bundle(M.default_bundle_path(), verify=True)
t2 = time.perf_counter(); m = M.SagaSRModel(b, M.make_backend(b, "cpu"))
t3 = time.perf_counter(); m.text_tokens("")
t4 = time.perf_counter(); ss.restore_file(sys.argv[1], sys.argv[2], m, overwrite=True)
t5 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
"""
NAMES = ("import", "hashing", "sessions", "text encoder", "restore")


def run(checkout: Path, cache: Path, args: list[str]) -> float:
    env = dict(os.environ, SAGASR_CACHE_DIR=str(cache))
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=checkout, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def phases(checkout: Path, cache: Path, source: str, out: str) -> list[float]:
    env = dict(os.environ, SAGASR_CACHE_DIR=str(cache))
    result = subprocess.run([sys.executable, "-c", PHASES, source, out], cwd=checkout, env=env, check=True,
                            capture_output=True, text=True)
    return [float(v) for v in result.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--input", default="examples/audio/example_16k.flac")
    args = parser.parse_args()
    checkouts = {name: Path(path).resolve() for name, path in (c.split("=", 1) for c in args.checkout)}
    source = str(Path(args.input).resolve())
    tmp = Path(tempfile.mkdtemp(prefix="sagasr-cold-"))
    walls: dict[str, list[float]] = {name: [] for name in checkouts}
    splits: dict[str, list[list[float]]] = {name: [] for name in checkouts}
    first: dict[str, float] = {}
    for i in range(args.runs + 1):
        for name, checkout in checkouts.items():
            cache = tmp / f"cache-{name}"
            command = ["-m", "sagasr_stream", "upsample", source, "-o", str(tmp / f"{name}.wav"), "-q", "--force"]
            wall = run(checkout, cache, command)
            if i == 0:
                first[name] = wall  # fills the cache
                continue
            walls[name].append(wall)
            splits[name].append(phases(checkout, cache, source, str(tmp / f"{name}-phases.wav")))
    print(f"median of {args.runs} runs (first run, cache empty, in brackets); seconds")
    print(f"{'checkout':10} {'command':>8} {'(first)':>8} " + " ".join(f"{n:>12}" for n in NAMES))
    for name in checkouts:
        med = [statistics.median(col) for col in zip(*splits[name])]
        print(f"{name:10} {statistics.median(walls[name]):8.2f} {first[name]:8.2f} " + " ".join(f"{v:12.2f}" for v in med))
    outputs = {name: (tmp / f"{name}.wav").read_bytes() for name in checkouts}
    print("outputs bit-identical:", len(set(outputs.values())) == 1)


if __name__ == "__main__":
    main()
