"""Does the restored band follow a recording's brightness? (model card, "Tried after v3.7 ... fifteenth session")

    python benchmarks/brightness_tracking.py --corpus CORPUS --used .gpu/corpus/clips --clips 20 --seconds 6 \
        --model default /work/data/b/OTHER

The clips of ``benchmarks/band_ceiling.py``, each made brighter or darker as a whole recording (a tilt of
``--slopes`` dB per octave above ``--pivot`` Hz: the training augmentation ``data.degrade.brightness_*``), then
degraded with the evaluation's draws (filters at 4 / 8 / 12 kHz, the same filter for every slope) and restored.
Per model and slope: how much the restored band's level (dB, the octave above the cutoff, relative to 100-900 Hz)
moved against the untilted clip's, beside how much the reference's moved (what a model that reads the brightness
from the input would do), and the mean LSD-HF.
"""
from __future__ import annotations

import numpy as np

from sagasr_stream import restore
from sagasr_stream.degradation import DEGRADATIONS, degrade
from sagasr_stream.dsp import N_FFT, float64_stft
from sagasr_stream.evaluation.runner import row_rng
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import RestoreSettings
from sagasr_training.degrade import apply_gain_db, brightness_gain_db

from band_ceiling import SR, load_unseen_clips, unseen_clips_parser
from band_error import lsd_hf

CUTOFFS = (4000.0, 8000.0, 12000.0)


def brighten(audio: np.ndarray, rise_db: float, pivot_hz: float) -> np.ndarray:
    """``audio`` (samples,) with ``rise_db`` per octave above ``pivot_hz`` (the training augmentation's tilt)."""
    return apply_gain_db(audio, brightness_gain_db(np.fft.rfftfreq(audio.size, 1.0 / SR), pivot_hz, rise_db))


def band_level_db(audio: np.ndarray, cutoff: float) -> float:
    """Mean power (dB) of the octave above ``cutoff`` (at most 20 kHz) relative to 100-900 Hz."""
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1.0 / SR)
    band = power[(freqs >= cutoff) & (freqs < min(2 * cutoff, 20000.0))].mean()
    low = power[(freqs >= 100.0) & (freqs < 900.0)].mean()
    return float(10.0 * np.log10((band + 1e-30) / (low + 1e-30)))


def main() -> None:
    parser = unseen_clips_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", default=["default"], help="bundles ('default': the embedded one)")
    parser.add_argument("--slopes", type=float, nargs="+", default=[-3.0, 3.0], help="dB per octave")
    parser.add_argument("--pivot", type=float, default=1000.0, help="Hz")
    parser.add_argument("--band-tilt", type=float, default=0.0, help="the runtime's band_tilt (dB per octave)")
    args = parser.parse_args()
    clips = load_unseen_clips(args)
    slopes = [0.0] + [s for s in args.slopes if s != 0.0]
    for name in args.model:
        restorer = Restorer.load(None if name == "default" else name, RestoreSettings(band_tilt=args.band_tilt))
        moved = {s: [] for s in slopes[1:]}
        reference_moved = {s: [] for s in slopes[1:]}
        lsd = {s: [] for s in slopes}
        for ci, clean in enumerate(clips.values()):
            for cutoff in CUTOFFS:
                edge = int(np.ceil(cutoff / (SR / N_FFT)))
                levels = {}
                for s in slopes:
                    reference = brighten(clean, s, args.pivot)
                    rng = row_rng(0, ci, DEGRADATIONS.index("filters"), CUTOFFS.index(cutoff))
                    restored = restore(degrade(reference, "filters", cutoff, rng), SR, restorer)
                    levels[s] = (band_level_db(reference, cutoff), band_level_db(restored, cutoff))
                    lsd[s].append(lsd_hf(np.abs(float64_stft(reference))[edge:], np.abs(float64_stft(restored))[edge:]))
                for s in slopes[1:]:
                    reference_moved[s].append(levels[s][0] - levels[0.0][0])
                    moved[s].append(levels[s][1] - levels[0.0][1])
        print(f"{name}, band_tilt {args.band_tilt:g}: {len(clips)} clips x {args.seconds:g} s x filters {len(CUTOFFS)} cutoffs")
        for s in slopes[1:]:
            ratio = np.array(moved[s]) / np.array(reference_moved[s])
            print(f"  slope {s:+g} dB/octave: reference band moved {np.mean(reference_moved[s]):+.2f} dB, restored "
                  f"{np.mean(moved[s]):+.2f} dB (share followed: mean {ratio.mean():.2f}, 10-90 % "
                  f"{np.quantile(ratio, 0.1):.2f}..{np.quantile(ratio, 0.9):.2f}); LSD-HF {np.mean(lsd[s]):.4f}")
        print(f"  slope 0: LSD-HF {np.mean(lsd[0.0]):.4f}", flush=True)


if __name__ == "__main__":
    main()
