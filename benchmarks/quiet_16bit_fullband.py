"""Full-band recordings as quiet 16-bit files: what restoration does to what has nothing missing.

    python benchmarks/quiet_16bit_fullband.py AVL11 15 [--rate 48000]

The first CLIPS clips (6 s) of a folder of full-band recordings, normalised to a peak of -1 / -20 / -35 dBFS, written
as 16-bit WAVs (undithered, and with TPDF dither of +-1 step), restored through ``restore_file`` with the default
model; the mean LSD of the output and of the 16-bit input itself against the float original (equal where every
window passes through). ``--rate``: each clip resampled to that rate first and written at it (a 16-bit file that the
runtime resamples on the way in), scored at it.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile
from scipy.io import wavfile
from scipy.signal import resample_poly

from sagasr_stream import restore_file
from sagasr_stream.evaluation.metrics import lsd
from sagasr_stream.evaluation.references import load_clips
from sagasr_stream.restorer import Restorer


def read(path: str) -> np.ndarray:
    with AudioFile(path) as f:
        return f.read(f.frames)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("clips", type=int)
    parser.add_argument("--rate", type=int, default=44100, help="the files' rate (Hz)")
    args = parser.parse_args()
    rate, common = args.rate, int(np.gcd(args.rate, 44100))
    files = sorted(p for p in args.folder.rglob("*") if p.suffix in (".wav", ".flac"))[: args.clips]
    clips = load_clips([str(p) for p in files], 6.0, None, 44100)
    restorer = Restorer.load(None)
    folder = tempfile.mkdtemp()
    given, restored = os.path.join(folder, "in.wav"), os.path.join(folder, "out.wav")
    print("| file | peak | LSD of the output | LSD of the 16-bit input |\n|---|---|---|---|")
    for dither in (False, True):
        for peak_db in (-1, -20, -35):
            scores = []
            for ci, clip in enumerate(clips.values()):
                clip = resample_poly(clip.astype(np.float64), rate // common, 44100 // common) if rate != 44100 else clip
                reference = clip.astype(np.float64) / np.abs(clip).max() * 10 ** (peak_db / 20)
                scaled, rng = reference * 32768, np.random.default_rng(ci)
                if dither:
                    scaled = scaled + rng.uniform(-0.5, 0.5, scaled.shape) + rng.uniform(-0.5, 0.5, scaled.shape)
                wavfile.write(given, rate, np.clip(np.round(scaled), -32768, 32767).astype(np.int16))
                restore_file(given, restored, restorer, overwrite=True)
                scores.append([lsd(read(y), reference.astype(np.float32), rate) for y in (restored, given)])
            output, source = np.mean(scores, axis=0)
            print(f"| {'TPDF' if dither else 'undithered'} | {peak_db} dBFS | {output:.4f} | {source:.4f} |", flush=True)


if __name__ == "__main__":
    main()
