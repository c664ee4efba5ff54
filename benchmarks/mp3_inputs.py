"""Restoring MP3-coded input: a lossy codec's low-pass and spectral holes, not the evaluation's filters.

    python benchmarks/mp3_inputs.py --corpus CORPUS --used .gpu/corpus/clips --clips 20 --seconds 6
    python benchmarks/mp3_inputs.py --corpus AVL12 --clips 20 --seconds 6      # a generalisation set

Each clip is encoded with LAME through ``pedalboard.io`` at constant bit rates (mono; LAME picks its own low-pass
and, at low rates, a lower sample rate), decoded, aligned to the reference (the decoder's delay, found by
cross-correlation) and restored with the default model and settings. The cutoff is what the runtime reads from the
decoded file (:func:`sagasr_stream.dsp.band_edge_hz`); SBR and the noise fill are given it. Per bit rate: LSD and
LSD-HF above that cutoff of the decoded input, SBR, the noise fill and the model, and the clips on which the model
is below the input and below the better baseline.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile
from scipy import signal

from sagasr_stream import restore
from sagasr_stream.dsp import band_edge_hz
from sagasr_stream.evaluation.baseline import noise_fill, sbr_extend
from sagasr_stream.evaluation.metrics import lsd, lsd_hf
from sagasr_stream.restorer import Restorer
from sagasr_stream.settings import RestoreSettings

from band_ceiling import SR, load_unseen_clips, unseen_clips_parser

BIT_RATES = ("32", "64", "96", "128")
MAX_DELAY = 4096  # samples: LAME's delay and padding are about 1100-2300


def mp3_round_trip(reference: np.ndarray, bit_rate: str, folder: Path) -> np.ndarray:
    """(samples,) float32 -> the same decoded from an MP3 at ``bit_rate`` kbps, aligned and cut to its length."""
    path = folder / f"clip_{bit_rate}.mp3"
    with AudioFile(str(path), "w", SR, 1, quality=bit_rate) as f:
        f.write(reference[None, :])
    with AudioFile(str(path)).resampled_to(SR) as f:
        decoded = f.read(f.frames)[0]
    lags = signal.correlate(decoded[: reference.size + MAX_DELAY], reference, mode="valid", method="fft")
    delay = int(np.argmax(lags[: MAX_DELAY + 1]))
    out = decoded[delay : delay + reference.size]
    return np.pad(out, (0, reference.size - out.size)).astype(np.float32)


def main() -> None:
    parser = unseen_clips_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--bit-rates", nargs="+", default=list(BIT_RATES))
    args = parser.parse_args()
    clips = load_unseen_clips(args)
    restorer = Restorer.load(None, RestoreSettings())
    print(f"{len(clips)} clips x {args.seconds:g} s, mono\n")
    print("| kbps | cutoff read (Hz, median) | LSD input / SBR / noise fill / model | LSD-HF input / SBR / noise fill / "
          "model | model below input / below both baselines (clips, LSD) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.bit_rates:
            rows, cutoffs = [], []
            for reference in clips.values():
                decoded = mp3_round_trip(reference, rate, Path(tmp))
                cutoff = band_edge_hz(decoded.astype(np.float64))
                cutoffs.append(cutoff)
                if cutoff >= SR / 2 - 1:
                    continue  # nothing missing that the runtime could see: it passes the file through
                outputs = [decoded, sbr_extend(decoded, SR, cutoff), noise_fill(decoded, SR, cutoff),
                           restore(decoded, SR, restorer)]
                rows.append([lsd(y, reference, SR) for y in outputs] + [lsd_hf(y, reference, SR, cutoff) for y in outputs])
            if not rows:
                print(f"| {rate} | {np.median(cutoffs):.0f} | full band: passed through | | |")
                continue
            r = np.array(rows)
            below_input = int(np.sum(r[:, 3] < r[:, 0]))
            below_both = int(np.sum(r[:, 3] < np.minimum(r[:, 1], r[:, 2])))
            mean = r.mean(axis=0)
            print(f"| {rate} | {np.median(cutoffs):.0f} | " + " / ".join(f"{v:.3f}" for v in mean[:4]) + " | "
                  + " / ".join(f"{v:.3f}" for v in mean[4:]) + f" | {below_input} / {below_both} of {len(r)} |",
                  flush=True)


if __name__ == "__main__":
    main()
