"""Isolated drum hits: how far the restored band's level is off, what in the input predicts it, and what a lift of the
band on bright-rising windows would give (model card, "Natural drum one-shots").

    python benchmarks/hydrogen_one_shots.py --out HHITS
    python benchmarks/isolated_hits_level.py HHITS --out hhits_level.json [--gains 0 4 8 12] [--model BUNDLE]

Per clip (the evaluation's filters draw at ``--cutoff``, 8 kHz): the mean level (dB) of the restored band and of
SBR's in the reference's loud STFT frames, 1.1 x cutoff .. 16 kHz, minus the reference's; LSD-HF of both; and two
input features: ``rise_db``, the mean PSD of the octave below the cutoff minus that of the octave below it (dB:
above 0 the input's spectrum rises into the cut, as a hi-hat's does), and ``top_vs_mid_db``, the octave below the
cutoff minus 0.5-2 kHz. Then, for the clips with ``rise_db`` > 0 and ``top_vs_mid_db`` > 0, the model's LSD-HF with
each ``band_gain`` of ``--gains``: a simulation, per clip, of a lift on such windows. Prints a table by instrument.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile
from scipy import signal

import sagasr_stream as ss
from sagasr_stream.degradation import degrade
from sagasr_stream.evaluation.baseline import sbr_extend
from sagasr_stream.evaluation.metrics import lsd_hf
from sagasr_stream.evaluation.runner import row_rng

SR = 44100


def band_power(audio: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """Mean power per STFT frame (n_fft 2048, hop 512) over the bins in [low_hz, high_hz)."""
    freqs, _, z = signal.stft(audio, SR, nperseg=2048, noverlap=1536)
    return (np.abs(z[(freqs >= low_hz) & (freqs < high_hz)]) ** 2).mean(axis=0)


def psd_db(audio: np.ndarray, low_hz: float, high_hz: float) -> float:
    freqs, power = signal.welch(audio, SR, nperseg=min(2048, audio.size))
    return float(10 * np.log10(power[(freqs >= low_hz) & (freqs < high_hz)].mean() + 1e-30))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hits", type=Path, help="a folder written by hydrogen_one_shots.py or avl_one_shots.py")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cutoff", type=float, default=8000.0)
    parser.add_argument("--gains", type=float, nargs="*", default=[0.0, 4.0, 8.0, 12.0],
                        help="band_gain values of the lift simulation (none: no simulation)")
    parser.add_argument("--model", help="a bundle folder or archive (default: the embedded model)")
    args = parser.parse_args()
    cut = args.cutoff
    model = ss.Restorer.load(args.model).model
    rows = []
    for ci, record in enumerate(json.loads((args.hits / "clips.json").read_text())):
        with AudioFile(str(args.hits / record["path"])) as f:
            ref = f.read(f.frames)[0].astype(np.float32)
        x = degrade(ref, "filters", cut, row_rng(0, ci, 0, 0))
        restored, sbr = ss.restore(x, SR, model), sbr_extend(x, SR, cut)
        reference_band = band_power(ref, 1.1 * cut, 16000)
        loud = reference_band > reference_band.max() * 1e-4

        def level(audio: np.ndarray) -> float:
            return float(10 * np.log10(band_power(audio, 1.1 * cut, 16000)[loud] + 1e-20).mean())

        row = dict(record, model_err_db=level(restored) - level(ref), sbr_err_db=level(sbr) - level(ref),
                   lsd_hf_model=lsd_hf(restored, ref, SR, cut), lsd_hf_sbr=lsd_hf(sbr, ref, SR, cut),
                   rise_db=psd_db(x, cut / 2, 0.95 * cut) - psd_db(x, cut / 4, cut / 2),
                   top_vs_mid_db=psd_db(x, cut / 2, 0.95 * cut) - psd_db(x, 500, 2000))
        if args.gains and row["rise_db"] > 0 and row["top_vs_mid_db"] > 0:
            row["lsd_hf_by_gain"] = [lsd_hf(ss.restore(x, SR, model, ss.RestoreSettings(band_gain=g)), ref, SR, cut)
                                     for g in args.gains]
        rows.append(row)
    args.out.write_text(json.dumps(rows, indent=1))
    by_role: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_role[row.get("role", "all")].append(row)
    print("| instrument | clips | model level - reference (dB) | SBR's | LSD-HF model | SBR | rise (dB) | top - mid (dB) |")
    print("|---|---|---|---|---|---|---|---|")
    for role, members in sorted(by_role.items()):
        cells = [np.mean([m[k] for m in members]) for k in
                 ("model_err_db", "sbr_err_db", "lsd_hf_model", "lsd_hf_sbr", "rise_db", "top_vs_mid_db")]
        print(f"| {role} | {len(members)} | {cells[0]:+.1f} | {cells[1]:+.1f} | {cells[2]:.3f} | {cells[3]:.3f} | "
              f"{cells[4]:+.1f} | {cells[5]:+.1f} |")
    lifted = [row["lsd_hf_by_gain"] for row in rows if "lsd_hf_by_gain" in row]
    if lifted:
        total = sum(row["lsd_hf_model"] for row in rows)
        change = (np.sum(lifted, axis=0) - np.sum(lifted, axis=0)[0]) / total * 100
        print(f"\n{len(lifted)} of {len(rows)} clips rise into the cut; their LSD-HF at band_gain "
              + ", ".join(f"{g:+g} dB {v:.3f}" for g, v in zip(args.gains, np.mean(lifted, axis=0)))
              + "; the whole set's mean LSD-HF changes by " + ", ".join(f"{c:+.2f} %" for c in change))


if __name__ == "__main__":
    main()
