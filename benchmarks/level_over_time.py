"""How the default model's restored band level errs over time within a clip (model card, "sixteenth session").

    python benchmarks/level_over_time.py --corpus CORPUS --used .gpu/corpus/clips --clips 20 --seconds 6
    python benchmarks/level_over_time.py --corpus AVL11 --clips 15 --seconds 6     # a generalisation set

The clips of ``benchmarks/band_ceiling.py``, degraded with the evaluation's draws (filters and resample at 4 / 8 /
12 kHz), restored once with the default settings. Two measurements per row, over the frames where the reference's
band is not silent (log power in dB):

- per 1.5 s segment (hop 0.75 s, about one model window): the level of the first octave above the cutoff, restored
  minus reference. Its rms over clips of the clip mean (what no smoothing over time can fix) and its rms within
  clips; and how much of the within-clip part follows the restored band's own offset to the octave below the edge
  (``corr``, and ``cut`` = corr^2, the share of the within-clip variance that holding the offset at the clip's mean
  would remove): the reference's offset is steady within a clip, the model's wanders;
- per STFT frame (11.6 ms) and third of an octave above the cutoff, each level's deviation from its 1.5 s moving
  mean: the mean squared error (dB^2) of the model's deviation against the reference's, of SBR's replica's, and of
  the model's moved a share b of the way to the octave below the edge's own deviation (one broadband level per
  frame), with the best share: how much of the band's rhythm the input could still give it.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from sagasr_stream import restore
from sagasr_stream.degradation import DEGRADATIONS, degrade
from sagasr_stream.dsp import N_FFT, float64_stft
from sagasr_stream.evaluation.runner import row_rng
from sagasr_stream.replication import replicate_band, third_octave_bands
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import RestoreSettings

from band_ceiling import ROWS, SR, load_unseen_clips, unseen_clips_parser

CUTOFFS = (4000.0, 8000.0, 12000.0)
SEGMENT = int(1.5 * SR / 512)  # STFT frames (hop 512) per 1.5 s
SHARES = np.linspace(0.0, 1.0, 11)


def level_db(power: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """(frames,) mean over bins [lo, hi) of 10 log10 power."""
    return np.mean(10 * np.log10(power[lo:hi] + 1e-12), axis=0)


def moving_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted 1.5 s centred moving mean of (frames,) ``values``."""
    num = uniform_filter1d(values * weights, SEGMENT, mode="nearest")
    return num / np.maximum(uniform_filter1d(weights, SEGMENT, mode="nearest"), 1e-9)


def segment_errors(ref: np.ndarray, out: np.ndarray, deg: np.ndarray, edge: int, sounding: np.ndarray):
    """Per 1.5 s segment: (restored - reference level, restored - octave below level) of the first octave above."""
    top = min(2 * edge, N_FFT // 2)
    error, offset = [], []
    for start in range(0, ref.shape[1] - SEGMENT + 1, SEGMENT // 2):
        mask = np.zeros(ref.shape[1], bool)
        mask[start : start + SEGMENT] = True
        mask &= sounding
        if mask.sum() < SEGMENT // 4:
            continue
        restored = level_db(out[:, mask], edge, top).mean()
        error.append(restored - level_db(ref[:, mask], edge, top).mean())
        offset.append(restored - level_db(deg[:, mask], edge // 2, edge).mean())
    return np.array(error), np.array(offset)


def frame_deviations(ref: np.ndarray, out: np.ndarray, sbr: np.ndarray, deg: np.ndarray, edge: int,
                     sounding: np.ndarray) -> list[np.ndarray]:
    """Per sounding frame and third octave above ``edge``: deviations from the 1.5 s moving mean of the reference,
    the model, SBR and the octave below (the last broadband, repeated per band)."""
    weights = sounding.astype(np.float64)
    below = level_db(deg, edge // 2, edge)
    below = (below - moving_mean(below, weights))[sounding]
    parts: list[list[np.ndarray]] = [[], [], [], []]
    for lo, hi in third_octave_bands(edge, ref.shape[0]):
        for i, power in enumerate((ref, out, sbr)):
            level = level_db(power, lo, hi)
            parts[i].append((level - moving_mean(level, weights))[sounding])
        parts[3].append(below)
    return [np.concatenate(p) for p in parts]


def main() -> None:
    args = unseen_clips_parser(__doc__.split("\n\n")[0]).parse_args()
    clips = load_unseen_clips(args)
    restorer = Restorer.load(None, RestoreSettings())
    print(f"{len(clips)} clips x {args.seconds:g} s\n")
    print("| row | clip-level error rms (dB) | within-clip rms | corr with own offset | cut | per-frame MSE model / "
          "SBR (dB^2) | best share b / MSE |")
    print("|---|---|---|---|---|---|---|")
    for kind, cutoff in ROWS:
        clip_mean, within, offsets, devs = [], [], [], []
        for ci, reference in enumerate(clips.values()):
            degraded = degrade(reference, kind, cutoff, row_rng(0, ci, DEGRADATIONS.index(kind), CUTOFFS.index(cutoff)))
            restored = restore(degraded, SR, restorer)
            edge = int(np.ceil(cutoff / (SR / N_FFT)))
            deg_spec = float64_stft(degraded)
            ref, out, deg = (np.abs(s) ** 2 for s in (float64_stft(reference), float64_stft(restored), deg_spec))
            sbr = np.zeros_like(ref)
            sbr[edge:] = np.abs(replicate_band(deg_spec, edge, SR)) ** 2
            sounding = ref[edge:].sum(axis=0) > 1e-8 * ref.sum(axis=0).max()
            error, offset = segment_errors(ref, out, deg, edge, sounding)
            if len(error) >= 3:
                clip_mean.append(error.mean())
                within.append(error - error.mean())
                offsets.append(offset - offset.mean())
            devs.append(frame_deviations(ref, out, sbr, deg, edge, sounding))
        within_all, offsets_all = np.concatenate(within), np.concatenate(offsets)
        corr = np.corrcoef(within_all, offsets_all)[0, 1]
        r, m, s, low = (np.concatenate([d[i] for d in devs]) for i in range(4))
        mse = [np.mean((r - (m + b * (low - m))) ** 2) for b in SHARES]
        best = int(np.argmin(mse))
        print(f"| {kind} {cutoff / 1000:g} kHz | {np.sqrt(np.mean(np.square(clip_mean))):.2f} | "
              f"{np.sqrt(np.mean(within_all ** 2)):.2f} | {corr:.2f} | {100 * corr ** 2:.0f} % | {mse[0]:.1f} / "
              f"{np.mean((r - s) ** 2):.1f} | {SHARES[best]:.1f} / {mse[best]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
