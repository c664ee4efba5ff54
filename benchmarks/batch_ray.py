"""``sagasr batch`` on Ray, 1 vs 2 workers, beside ``sagasr restore``, with the embedded default model.

    python benchmarks/batch_ray.py --files 8 --seconds 4

Writes ``--files`` synthetic band-limited mono files (44.1 kHz, ``--seconds`` each) to a temporary folder, then
times, in this process: ``sagasr restore`` over the folder (one process, ORT's default threads), and
``restore_batch`` (a fresh local Ray instance each time) with 1 and 2 workers of 1 thread each. Prints files
per minute, audio seconds per second, seconds per file with and without the start-up (model load; Ray + actor
start), each as a ratio to ``restore``, and checks that every run wrote the same bytes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile
from scipy.signal import butter, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_corpus(folder: Path, files: int, seconds: float, rate: int = 44100) -> None:
    """Noise low-passed at 8 kHz plus a few tones: band-limited, so every window runs the model."""
    sos = butter(8, 8000, fs=rate, output="sos")
    for i in range(files):
        rng = np.random.default_rng(i)
        n = int(seconds * rate)
        t = np.arange(n) / rate
        x = 0.1 * sosfilt(sos, rng.standard_normal(n)) + sum(0.1 * np.sin(2 * np.pi * f * t) for f in (220 * (i + 1), 1500))
        with AudioFile(str(folder / f"clip{i:03d}.wav"), "w", rate, 1) as f:
            f.write(x.astype(np.float32)[None])


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.wav"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    from sagasr_stream.cli import main as sagasr
    from sagasr_stream.distributed import restore_batch
    from sagasr_stream.model import SagaSRModel

    root = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    (root / "in").mkdir()
    write_corpus(root / "in", args.files, args.seconds)
    audio = args.files * args.seconds
    rows = []

    start = time.perf_counter()
    SagaSRModel.load()
    load = time.perf_counter() - start
    start = time.perf_counter()
    assert sagasr(["restore", str(root / "in"), "-o", str(root / "restore"), "-q"]) == 0
    wall = time.perf_counter() - start
    rows.append(dict(mode="sagasr restore", wall=wall, startup=load))
    reference = digests(root / "restore")
    for workers in args.workers:
        summary = restore_batch([root / "in"], root / f"batch{workers}", workers=workers, progress=False)
        assert summary.ok and summary.restored == args.files
        assert digests(root / f"batch{workers}") == reference, "batch output differs from restore"
        rows.append(dict(mode=f"sagasr batch, {workers} worker{'s' * (workers > 1)}", wall=summary.elapsed_s,
                         startup=summary.startup_s))
    base = rows[0]
    print(f"{args.files} files x {args.seconds:g} s = {audio:g} s of audio; outputs identical in every mode\n")
    print("| mode | wall s | start-up s | files/min | audio-s/s | s/file | s/file after start-up | speed vs restore "
          "(all, after start-up) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        steady = (row["wall"] - row["startup"]) / args.files
        base_steady = (base["wall"] - base["startup"]) / args.files
        print(f"| {row['mode']} | {row['wall']:.1f} | {row['startup']:.1f} | {60 * args.files / row['wall']:.2f} | "
              f"{audio / row['wall']:.3f} | {row['wall'] / args.files:.2f} | {steady:.2f} | "
              f"{base['wall'] / row['wall']:.2f}x, {base_steady / steady:.2f}x |")
    print("\n" + json.dumps(rows))


if __name__ == "__main__":
    main()
