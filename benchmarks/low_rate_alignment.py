"""Low-rate inputs (8-32 kHz files): how exactly the output keeps the input's band at 44.1 kHz.

    python benchmarks/low_rate_alignment.py --corpus CORPUS --used .gpu/corpus/clips --clips 20 --seconds 6

The clips of ``benchmarks/band_ceiling.py`` (44.1 kHz references) are resampled to each rate by scipy's
``resample_poly`` (an exact, zero-phase low-rate recording of the same sound) and restored by the default model at
44.1 kHz (``restore(x, rate)``). Reported per rate: the output's difference from the reference in the band the
input holds (50 Hz to 0.8 x its Nyquist; dB relative to the reference's power there): the resampler's error, all of
it, since the runtime keeps the input's band; and the output's LSD-HF above 0.8 x the input's Nyquist.
Run it on two checkouts (``PYTHONPATH=OTHER/`` ahead) to compare them.
"""
from __future__ import annotations

from math import gcd

import numpy as np
from scipy import signal

from sagasr_stream import restore
from sagasr_stream.evaluation.metrics import lsd_hf
from sagasr_stream.restorer import Restorer

from band_ceiling import SR, load_unseen_clips, unseen_clips_parser


def at_rate(x: np.ndarray, rate: int) -> np.ndarray:
    g = gcd(rate, SR)
    return signal.resample_poly(np.asarray(x, np.float64), rate // g, SR // g).astype(np.float32)


def band_error_db(y: np.ndarray, ref: np.ndarray, top_hz: float) -> float:
    """Power of ``y - ref`` between 50 Hz and ``top_hz``, relative to ``ref``'s there (dB)."""
    sos = signal.butter(8, [50.0, top_hz], btype="band", fs=SR, output="sos")
    inner = slice(SR // 10, ref.size - SR // 10)  # away from the ends
    diff = signal.sosfiltfilt(sos, (y - ref).astype(np.float64))[inner]
    part = signal.sosfiltfilt(sos, ref.astype(np.float64))[inner]
    return float(10 * np.log10(np.mean(diff**2) / max(np.mean(part**2), 1e-30)))


def main() -> None:
    parser = unseen_clips_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[8000, 16000, 22050, 24000, 32000])
    args = parser.parse_args()
    clips = list(load_unseen_clips(args).values())
    restorer = Restorer.load(None)
    print(f"{len(clips)} clips x {args.seconds:g} s at 44.1 kHz, each made at a lower rate and restored\n")
    print("| input rate | kept band vs reference (dB) | LSD-HF above 0.8 x Nyquist |")
    print("|---|---|---|")
    for rate in args.rates:
        top = 0.8 * rate / 2
        errors, scores = [], []
        for ref in clips:
            y = restore(at_rate(ref, rate), rate, restorer)
            y = y[: ref.size] if y.size >= ref.size else np.pad(y, (0, ref.size - y.size))
            errors.append(band_error_db(y, ref, top))
            scores.append(lsd_hf(y, ref, SR, top))
        print(f"| {rate / 1000:g} kHz | {np.mean(errors):.1f} (worst {max(errors):.1f}) | {np.mean(scores):.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
