"""Quiet 16-bit input: the default model against the baselines as the level falls towards the quantization floor.

    python benchmarks/quiet_16bit.py --corpus CORPUS --used .gpu/corpus/clips --clips 20 --seconds 6
    python benchmarks/quiet_16bit.py ... [--dither tpdf] [--no-dither-look] [--via-file] [--source-rate 48000]

The clips of ``benchmarks/band_ceiling.py``, normalised to a peak of -1 dBFS, then scaled by each ``--gains-db``,
degraded by the evaluation's recipe at 4, 8 and 12 kHz (filters; draws seeded by the clip's index) and rounded to
16 bits, as a quiet 16-bit file is (``--dither tpdf``: with triangular dither of +-1 step added first, as most
tools write 16-bit files; ``--no-dither-look``: without the band edge's look for a cut into such dither, what the
runtime did before; ``--via-file``: written as a 16-bit WAV and read back by pedalboard, as ``restore_file`` and the
CLI read a file, instead of k / 32768 as soundfile reads it; ``--source-rate``: reference and input resampled to
that rate before they are rounded, restored from it and scored at it, as a 16-bit file at another rate is, so the
samples the model sees are off the grid and the rounding floor comes from the source, ``quantization.resampled_floor``;
the share of windows read as full band is then not measured). The reference is the full-band clip at the same gain,
rounded to 16 bits too (its own quantization noise is part of it). LSD-HF of the input, SBR, the noise fill and
the model; the margin (% below the better baseline); and the share of 1.49 s windows whose band edge reads 20 kHz
or more in the 16-bit input (they pass through) against the same input in float.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
from pedalboard.io import AudioFile
from scipy.io import wavfile
from scipy.signal import resample_poly

from sagasr_stream import dsp, restore
from sagasr_stream.degradation import degrade
from sagasr_stream.dsp import N_FFT, band_edge_from_power, interior_power
from sagasr_stream.evaluation.baseline import noise_fill, sbr_extend
from sagasr_stream.evaluation.metrics import lsd, lsd_hf
from sagasr_stream.quantization import rounding_floor
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import AUTO_COMPLETE_BAND_HZ

from band_ceiling import EVAL_CUTOFFS, SR, load_unseen_clips, unseen_clips_parser

WINDOW = 65536


def to_16_bit(x: np.ndarray, dither: np.random.Generator | None = None, via_file: bool = False,
              rate: int = SR) -> np.ndarray:
    """What a 16-bit file of ``x`` reads back as: k / 32768 as soundfile reads it, or with ``via_file`` written as a
    16-bit WAV and read by pedalboard as the runtime's file reader does (k * float32(1 / 32767)); with ``dither``,
    TPDF dither of +-1 step (the sum of two uniform draws of +-0.5 step) added before the rounding."""
    scaled = np.asarray(x, np.float64) * 32768
    if dither is not None:
        scaled = scaled + dither.uniform(-0.5, 0.5, scaled.shape) + dither.uniform(-0.5, 0.5, scaled.shape)
    k = np.clip(np.round(scaled), -32768, 32767).astype(np.int16)
    if not via_file:
        return (k / 32768).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.wav")
        wavfile.write(path, rate, k)
        with AudioFile(path) as f:
            return f.read(f.frames)[0]


def full_band_share(x: np.ndarray) -> float:
    """Share of the windows (hop half a window) whose own band edge reads AUTO_COMPLETE_BAND_HZ or more (the
    runtime's detection: with the rounding floor of samples on a 16-bit grid, :mod:`sagasr_stream.quantization`)."""
    starts = range(0, max(1, x.size - WINDOW + 1), WINDOW // 2)
    windows = [np.asarray(x[s : s + WINDOW], np.float64) for s in starts]
    edges = [band_edge_from_power(interior_power(w[None])[0], rounding_floor(w)) * SR / N_FFT for w in windows]
    return float(np.mean(np.array(edges) >= AUTO_COMPLETE_BAND_HZ))


def main() -> None:
    parser = unseen_clips_parser(__doc__.split("\n\n")[0], EVAL_CUTOFFS)
    parser.add_argument("--gains-db", type=float, nargs="+", default=[0.0, -20.0, -34.0])
    parser.add_argument("--dither", choices=["none", "tpdf"], default="none")
    parser.add_argument("--via-file", action="store_true", help="each input written as a 16-bit WAV and read back "
                        "by pedalboard, as restore_file reads it (else k / 32768, as soundfile reads it)")
    parser.add_argument("--no-dither-look", action="store_true", help="without the band edge's look for a cut "
                        "into dither (dsp.EDGE_DITHER_DROP_DB), as before it")
    parser.add_argument("--source-rate", type=int, default=SR, help="the 16-bit files' rate (Hz)")
    args = parser.parse_args()
    rate = args.source_rate

    def at_rate(x: np.ndarray) -> np.ndarray:
        common = int(np.gcd(rate, SR))
        return x if rate == SR else resample_poly(np.asarray(x, np.float64), rate // common, SR // common)
    if args.no_dither_look:
        dsp.EDGE_DITHER_DROP_DB = np.inf  # no drop is that large: the third look finds nothing

    def to_file(x: np.ndarray, *seed: int) -> np.ndarray:  # reference and input: two files, two dither draws
        return to_16_bit(at_rate(x), np.random.default_rng([16, *seed]) if args.dither == "tpdf" else None,
                         args.via_file, rate)

    def share(x: np.ndarray) -> float:
        return full_band_share(x) if rate == SR else np.nan
    clips = [0.89 * c / max(1e-9, float(np.abs(c).max())) for c in load_unseen_clips(args).values()]
    restorer = Restorer.load(None)
    print(f"{len(clips)} clips x {args.seconds:g} s, filters, 16-bit at {rate} Hz (dither: {args.dither}"
          f"{', no dither look' if args.no_dither_look else ''}{', via a WAV file' if args.via_file else ''}); "
          "mean LSD-HF against the 16-bit reference\n")
    print("| peak | cutoff | input | SBR | noise fill | model | margin | windows read full band: 16-bit / float |")
    print("|---|---|---|---|---|---|---|---|")
    for gain_db in args.gains_db:
        gain = 10 ** (gain_db / 20)
        for cutoff in args.cutoffs:
            scores, full16, full32 = [], [], []
            for ci, clip in enumerate(clips):
                reference = to_file(gain * clip, ci, 0)
                degraded = gain * degrade(clip, "filters", cutoff, np.random.default_rng(ci))
                x = to_file(degraded, ci, 1)
                outputs = (x, sbr_extend(x, rate, cutoff), noise_fill(x, rate, cutoff), restore(x, rate, restorer))
                scores.append([lsd_hf(y, reference, rate, cutoff) for y in outputs])
                full16.append(share(x))
                full32.append(share(at_rate(degraded)))
            m = np.mean(scores, axis=0)
            margin = 100 * (1 - m[3] / min(m[1], m[2]))
            print(f"| {gain_db - 1:g} dBFS | {cutoff / 1000:g} kHz | " + " | ".join(f"{v:.3f}" for v in m)
                  + f" | {margin:+.1f} % | {100 * np.mean(full16):.0f} % / {100 * np.mean(full32):.0f} % |", flush=True)
    print("\nUnfiltered clips (nothing cut), 16-bit: windows that read full band (pass through unchanged), and the "
          "output's LSD against the 16-bit reference (the input itself: 0 when passed) and the float one\n")
    print("| peak | windows read full band | LSD vs 16-bit reference | LSD vs float reference (input's) |")
    print("|---|---|---|---|")
    for gain_db in args.gains_db:
        gain = 10 ** (gain_db / 20)
        rows = []
        for ci, clip in enumerate(clips):
            x, floated = to_file(gain * clip, ci, 0), at_rate(gain * clip)
            y = restore(x, rate, restorer)
            rows.append([share(x), lsd(y, x, rate), lsd(y, floated, rate), lsd(x, floated, rate)])
        m = np.mean(rows, axis=0)
        print(f"| {gain_db - 1:g} dBFS | {100 * m[0]:.0f} % | {m[1]:.3f} | {m[2]:.3f} ({m[3]:.3f}) |", flush=True)


if __name__ == "__main__":
    main()
