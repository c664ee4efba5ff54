"""48 / 96 kHz inputs: the kept band and the score, the input kept (now) against two resamplers in series (before).

    python benchmarks/source_rate_fidelity.py --corpus CORPUS --used .gpu/corpus/clips --clips 20 --seconds 6

The clips of ``benchmarks/band_ceiling.py`` (44.1 kHz references) are resampled to each rate (scipy
``resample_poly``, the benchmark's own material) and degraded there by the evaluation's recipe (filters, resample;
draws seeded by the clip's index). Each is restored by the default model at its own rate twice:
``restore_pipeline`` (only the restorer's change resampled back, :mod:`sagasr_stream.source_rate`) and the series
it replaced (resample -> restore -> resample). Reported per rate and cutoff: the difference from the input in the
kept band (50 Hz to 0.8 x cutoff, dB relative to the input's power there; about -300 when equal), and LSD against the
reference at that rate below 22.05 kHz (the reference, made at 44.1 kHz, holds nothing above; the degraded input's
resampler images there are kept now, and LSD would count them), whole and above the cutoff. A last row: full-band
96 kHz references (nothing to restore), their power above 22.05 kHz kept (dB relative to the input's).
"""
from __future__ import annotations

from math import gcd

import numpy as np
from scipy import signal

from sagasr_stream.api import restore_pipeline
from sagasr_stream.degradation import DEGRADATIONS, degrade
from sagasr_stream.dsp import stft
from sagasr_stream.evaluation.metrics import LSD_EPS
from sagasr_stream.restorer import Restorer
from sagasr_stream.streaming import ResampleStage, Series, exact_length, run_whole

from band_ceiling import EVAL_CUTOFFS, SR, load_unseen_clips, unseen_clips_parser


def at_rate(x: np.ndarray, rate: int) -> np.ndarray:
    g = gcd(rate, SR)
    return signal.resample_poly(np.asarray(x, np.float64), rate // g, SR // g).astype(np.float32)


def restored(restorer: Restorer, x: np.ndarray, rate: int, kept: bool) -> np.ndarray:
    """(samples,) at ``rate`` -> restored at ``rate``: the input kept (now) or the series of before."""
    n, m = x.size, exact_length(x.size, rate, restorer.sample_rate)
    if kept:
        return run_whole(restore_pipeline(restorer, 1, rate, rate, n, m), x[None])[0]
    series = Series([ResampleStage(rate, restorer.sample_rate, 1, m), restorer.stream(1, None, None),
                     ResampleStage(restorer.sample_rate, rate, 1, n)])
    return run_whole(series, x[None])[0]


def lsd_below_22k(estimate: np.ndarray, reference: np.ndarray, rate: int, min_hz: float = 0.0) -> float:
    """LSD as ``evaluation.metrics`` computes it (its STFT, ``LSD_EPS``), over the bins in [min_hz, 22050) of frames
    of 46 ms (2048 samples at 44.1 kHz, a quarter hop)."""
    n = int(round(2048 * rate / SR)) // 2 * 2
    e, r = (np.abs(stft(np.asarray(x, np.float64), n, n // 4)) ** 2 for x in (estimate, reference))
    freqs = np.arange(e.shape[0]) * rate / n
    band = (freqs >= min_hz) & (freqs < SR / 2)
    d = np.log10(r[band] + LSD_EPS) - np.log10(e[band] + LSD_EPS)
    return float(np.mean(np.sqrt(np.mean(d**2, axis=0))))


def band_db(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    freqs, power = signal.welch(np.asarray(x, np.float64), rate, nperseg=4096)
    return float(10 * np.log10(power[(freqs >= lo) & (freqs < hi)].sum() + 1e-30))


def main() -> None:
    parser = unseen_clips_parser(__doc__.split("\n\n")[0], EVAL_CUTOFFS)
    parser.add_argument("--rates", type=int, nargs="+", default=[48000, 96000])
    args = parser.parse_args()
    clips = load_unseen_clips(args)
    restorer = Restorer.load(None)
    print(f"{len(clips)} clips x {args.seconds:g} s, mean over clips and both degradations\n")
    print("| rate | cutoff | kept band vs input, dB: before / now | LSD before / now | LSD-HF before / now |")
    print("|---|---|---|---|---|")
    for rate in args.rates:
        for cutoff in args.cutoffs:
            rows = []
            for ci, reference44 in enumerate(clips.values()):
                reference = at_rate(reference44, rate)
                for kind in DEGRADATIONS:
                    x = degrade(reference, kind, cutoff, np.random.default_rng(ci), sample_rate=rate)
                    row = []
                    for kept in (False, True):
                        y = restored(restorer, x, rate, kept)
                        row += [band_db(y - x, rate, 50, 0.8 * cutoff) - band_db(x, rate, 50, 0.8 * cutoff),
                                lsd_below_22k(y, reference, rate),
                                lsd_below_22k(y, reference, rate, min_hz=cutoff)]
                    rows.append(row)
            m = np.mean(rows, axis=0)
            print(f"| {rate} | {cutoff / 1000:g} kHz | {m[0]:.1f} / {m[3]:.1f} | {m[1]:.3f} / {m[4]:.3f} | "
                  f"{m[2]:.3f} / {m[5]:.3f} |", flush=True)
    above = []
    for reference44 in clips.values():
        full = at_rate(reference44, 96000)
        full = full + 1e-4 * np.random.default_rng(1).standard_normal(full.size).astype(np.float32)  # hiss to 48 kHz
        above.append([band_db(restored(restorer, full, 96000, kept), 96000, 22500, 47000)
                      - band_db(full, 96000, 22500, 47000) for kept in (False, True)])
    before, now = np.mean(above, axis=0)
    print(f"\nFull-band 96 kHz input (the clips plus white hiss at -80 dBFS): power above 22.5 kHz, output vs input: "
          f"before {before:.1f} dB, now {now:.1f} dB")


if __name__ == "__main__":
    main()
