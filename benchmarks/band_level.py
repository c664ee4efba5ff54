"""How loud is the restored band? Level error (dB) of the restored band against the reference, per clip.

For every clip, degradation and cutoff (the evaluation's own draws,
:func:`sagasr_stream.evaluation.runner.row_rng`, seed 0), the level of the output and of the reference
(log-domain mean over STFT bins and frames, as LSD sees it) in the lower and upper half of the missing band
(1.1 x cutoff .. Nyquist), and their difference in dB; beside it the reference's own tilt (its upper half against the octave just below the cutoff), so that a model
that regresses towards an average brightness shows as errors that fall as the tilt rises.

    python benchmarks/band_level.py tests/data/validation_clips --split tuning [--model BUNDLE] [--caption TEXT]
    python benchmarks/band_level.py CLIPS... --split all --clip-seconds 6 [--sbr-level off]
"""
from __future__ import annotations

import argparse

import numpy as np

from sagasr_stream import restore
from sagasr_stream.degradation import degrade
from sagasr_stream.dsp import stft
from sagasr_stream.evaluation.metrics import LSD_EPS
from sagasr_stream.evaluation.references import load_clips
from sagasr_stream.evaluation.runner import row_rng
from sagasr_stream.evaluation.splits import select_split
from sagasr_stream.options import number_or_word
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import RestoreSettings

SR = 44100
DEGRADATIONS = ("resample", "filters")
CUTOFFS = (4000.0, 8000.0, 12000.0)


def log_power_db(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """STFT bin frequencies (bins,) in Hz and 10 log10(power + LSD_EPS) (bins, frames) of ``x`` (samples,): the
    log-domain spectrogram that LSD compares."""
    power = np.abs(stft(x.astype(np.float64))) ** 2
    freqs = np.arange(power.shape[0]) * SR / ((power.shape[0] - 1) * 2)
    return freqs, 10 * np.log10(power + LSD_EPS)


def band_level_db(spectrogram: tuple[np.ndarray, np.ndarray], low_hz: float, high_hz: float) -> float:
    """Level between ``low_hz`` and ``high_hz`` as LSD sees it, from :func:`log_power_db`'s output: the mean over
    bins and frames, in dB (a log-domain mean: quiet frames count as much as loud ones)."""
    freqs, db = spectrogram
    return float(db[(freqs >= low_hz) & (freqs < high_hz)].mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--split", default="tuning", choices=("tuning", "test", "all"))
    p.add_argument("--clip-seconds", type=float)
    p.add_argument("--model", help="bundle folder (default: the embedded model)")
    p.add_argument("--caption", default="")
    p.add_argument("--cutoffs", type=float, nargs="+", default=[8000.0, 12000.0])
    p.add_argument("--sbr-level", type=number_or_word("a level in dB", "off"),
                   help="the SBR blend's level pull in dB or 'off' (default: the bundle's)")
    args = p.parse_args()
    clips = load_clips(args.clips, args.clip_seconds, None, SR)
    if args.split != "all":
        clips = select_split(clips, args.split)
    restorer = Restorer.load(args.model, RestoreSettings(caption=args.caption, sbr_level=args.sbr_level))
    errors, tilts = [], []
    print("| clip | degradation | cutoff | error, lower half (dB) | error, upper half (dB) | reference tilt (dB) |")
    print("|---|---|---|---|---|---|")
    for ci, (name, ref) in enumerate(clips.items()):
        ref_db = log_power_db(ref)
        for di, kind in enumerate(DEGRADATIONS):
            for ki, cutoff in enumerate(CUTOFFS):
                if cutoff not in args.cutoffs:
                    continue
                degraded = degrade(ref, kind, cutoff, row_rng(0, ci, di, ki))
                out_db = log_power_db(restore(degraded.copy(), SR, restorer))
                edges = (1.1 * cutoff, (1.1 * cutoff + SR / 2) / 2, SR / 2)
                err = [band_level_db(out_db, a, b) - band_level_db(ref_db, a, b) for a, b in zip(edges[:-1], edges[1:])]
                tilt = band_level_db(ref_db, edges[1], edges[2]) - band_level_db(ref_db, 0.7 * cutoff, 0.95 * cutoff)
                errors.append(err)
                tilts.append(tilt)
                print(f"| {name} | {kind} | {cutoff:g} | {err[0]:+.1f} | {err[1]:+.1f} | {tilt:+.1f} |")
    e = np.asarray(errors)
    print(f"\nmean error {e.mean(0)[0]:+.2f} / {e.mean(0)[1]:+.2f} dB, mean absolute {np.abs(e).mean(0)[0]:.2f} / "
          f"{np.abs(e).mean(0)[1]:.2f} dB (lower / upper half); correlation of the upper-half error with the "
          f"reference tilt {np.corrcoef(e[:, 1], tilts)[0, 1]:+.2f}")


if __name__ == "__main__":
    main()
