"""Restore a long file in chunks (constant memory) with a progress bar.

    python examples/restore_long_file.py [INPUT] [-o OUTPUT] [--model BUNDLE] [--seconds 60]

Without INPUT a synthetic band-limited file of --seconds is written first.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from tqdm import tqdm

from example_utils import input_or_synthetic, load_model
from sagasr_stream import restore_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="?", help="audio file to restore (default: a synthetic one)")
    parser.add_argument("-o", "--output", default="restored_long.wav", help="output file (.wav/.flac/.aiff)")
    parser.add_argument("--model", default=None, help="model bundle (default: the embedded model)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic input")
    args = parser.parse_args()

    output = Path(args.output)
    source = input_or_synthetic(args.input, output.parent, args.seconds, sample_rate=16000)
    model = load_model(args.model)
    bar = tqdm(unit="window", desc="restoring")

    def progress(done: int, total: int) -> None:  # called as windows finish; the file is read incrementally
        bar.total = total
        bar.n = done
        bar.refresh()

    start = time.perf_counter()
    restore_file(source, output, model, overwrite=True, progress=progress)
    bar.close()
    print(f"restored {source} -> {output} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
