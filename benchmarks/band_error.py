"""Where the default model's remaining band error lies (model card, "Tried after v3.7 ... fourteenth session").

    python benchmarks/band_error.py --corpus CORPUS --used .gpu/corpus/clips --clips 20 --seconds 6
    python benchmarks/band_error.py --corpus MS7 --clips 10 --seconds 6      # a generalisation set, no --used

The clips of ``benchmarks/band_ceiling.py`` (``--used``: leave out the clips the model was trained on), degraded
with the evaluation's draws (filters and resample at 4 / 8 / 12 kHz) and restored twice (seeds 0 and 1). Per
clip-row, above the cutoff, in the frames where the reference's band is not silent, with log10 power as LSD uses it:

- decomposition: D = the restored band's log magnitude smoothed to a sixth of an octave per frame minus the
  reference's, split into the clip's mean level, its static shape per bin, a broadband level per frame and the rest;
  LSD-HF as restored and with each part taken out in turn (the parts' variances in dB^2 beside);
- fine structure: the correlation of the per-bin deviations from their sixth-octave mean of SBR's replica and of
  the reference, and LSD-HF of the reference's smoothed band plus a share w of the replica's deviations (an oracle);
- variance cuts (magnitudes only, no consistency step): the restored band's log magnitude averaged over k frames,
  and the geometric mean of the two seeds' restorations.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from sagasr_stream import restore
from sagasr_stream.band_smoothing import smooth_log_magnitude
from sagasr_stream.degradation import DEGRADATIONS, degrade
from sagasr_stream.dsp import N_FFT, float64_stft
from sagasr_stream.evaluation.runner import row_rng
from sagasr_stream.replication import replicate_band
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import RestoreSettings

from band_ceiling import ROWS, SR, load_unseen_clips, unseen_clips_parser

CUTOFFS = (4000.0, 8000.0, 12000.0)
SHARES = (0.0, 0.25, 0.5, 1.0)
FRAMES = (2, 3, 5)
DB2 = (20.0 / np.log(10.0)) ** 2  # (natural log of magnitude)^2 -> (dB)^2


def lsd_hf(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Mean over frames of the rms over bins of log10 power differences: (bins, frames) magnitudes."""
    d = np.log10(reference ** 2 + 1e-10) - np.log10(estimate ** 2 + 1e-10)
    return float(np.sqrt((d ** 2).mean(axis=0)).mean())


def deviations(magnitude: np.ndarray, first_bin: int) -> np.ndarray:
    """Per-bin natural-log deviation from the sixth-octave mean (the fine structure the smoothing removes)."""
    return np.log(magnitude + 1e-30) - np.log(smooth_log_magnitude(magnitude, first_bin, 1 / 6))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-30))


def measure(reference: np.ndarray, degraded: np.ndarray, outputs: list[np.ndarray], cutoff: float) -> dict:
    edge = int(np.ceil(cutoff / (SR / N_FFT)))
    ref_spec = np.abs(float64_stft(reference))
    sounding = (ref_spec[edge:] ** 2).sum(axis=0) > 1e-8 * (ref_spec ** 2).sum(axis=0).max()
    ref = ref_spec[edge:, sounding]
    out, other = (np.abs(float64_stft(o))[edge:, sounding] for o in outputs)
    ref_smooth, out_smooth = (np.log(smooth_log_magnitude(m, edge, 1 / 6)) for m in (ref, out))
    d = out_smooth - ref_smooth
    level = np.full_like(d, d.mean())
    static = d.mean(axis=1, keepdims=True)
    frame = (d - static).mean(axis=0, keepdims=True)
    replica = np.abs(replicate_band(float64_stft(degraded), edge, SR))[:, sounding]
    replica_fine = deviations(replica, edge)
    log_out = np.log(out + 1e-30)
    return {
        "decomposition": [lsd_hf(ref, out * np.exp(-part)) for part in (0.0, level, static, static + frame, d)],
        "variance_db2": [float(x) * DB2 for x in (d.mean() ** 2, ((static - d.mean()) ** 2).mean(),
                                                   (frame ** 2).mean(), ((d - static - frame) ** 2).mean())],
        "fine_correlation": correlation(replica_fine, deviations(ref, edge)),
        "fine_oracle": [lsd_hf(ref, np.exp(ref_smooth + w * replica_fine)) for w in SHARES],
        "cuts": [lsd_hf(ref, out), lsd_hf(ref, other)]
                + [lsd_hf(ref, np.exp(uniform_filter1d(log_out, k, axis=1, mode="nearest"))) for k in FRAMES]
                + [lsd_hf(ref, np.sqrt(out * other))],
    }


def main() -> None:
    args = unseen_clips_parser(__doc__.split("\n\n")[0]).parse_args()
    clips = load_unseen_clips(args)
    restorers = [Restorer.load(None, RestoreSettings(seed=seed)) for seed in (0, 1)]
    rows = []
    for kind, cutoff in ROWS:
        for ci, ref in enumerate(clips.values()):
            rng = row_rng(0, ci, DEGRADATIONS.index(kind), CUTOFFS.index(cutoff))  # the evaluation's draws
            degraded = degrade(ref, kind, cutoff, rng)
            rows.append(measure(ref, degraded, [restore(degraded, SR, r) for r in restorers], cutoff))
        print(f"{kind} {cutoff:.0f} Hz done", flush=True)
    mean = {key: np.mean([r[key] for r in rows], axis=0) for key in rows[0]}
    fine = np.array([r["fine_correlation"] for r in rows])
    print(f"\n{len(clips)} clips x {args.seconds:g} s x {len(ROWS)} rows; LSD-HF over the reference's sounding "
          "frames\n")
    print("decomposition: as restored / clip level out / static shape out / per-frame level out / smoothed envelope "
          "replaced: " + " / ".join(f"{x:.3f}" for x in mean["decomposition"]))
    print("variance (dB^2): clip level / shape / per frame / rest: "
          + " / ".join(f"{x:.0f}" for x in mean["variance_db2"]))
    print(f"fine structure: correlation replica-reference mean {fine.mean():+.3f} (10-90 %: "
          f"{np.quantile(fine, 0.1):+.3f} to {np.quantile(fine, 0.9):+.3f}); oracle LSD-HF at w "
          + " / ".join(f"{w:g}" for w in SHARES) + ": " + " / ".join(f"{x:.3f}" for x in mean["fine_oracle"]))
    cuts = mean["cuts"]
    print(f"variance cuts: seed 0 / 1 {cuts[0]:.4f} / {cuts[1]:.4f}; averaged over " + " / ".join(map(str, FRAMES))
          + " frames " + " / ".join(f"{x:.4f}" for x in cuts[2:-1]) + f"; both seeds' geometric mean {cuts[-1]:.4f}")


if __name__ == "__main__":
    main()
