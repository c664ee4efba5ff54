"""Where the default model loses at one cutoff: per filter family of the evaluation's ``filters`` draws.

    python benchmarks/filter_families.py --corpus CORPUS --used USED_CLIPS --set ms7=MS7/clips:40 \\
        --set avl11=AVL11:30 --cutoff 8000 [--model BUNDLE] [--told] [--dark DARK] [--json OUT.json]

Clips: ``--clips`` unseen training-split clips of CORPUS (``benchmarks/band_ceiling.py``'s pick) and the first
CLIPS FLAC files of each ``--set NAME=FOLDER:CLIPS``, ``--seconds`` each, never the test split. Each is degraded
by the evaluation's ``filters`` recipe at ``--cutoff`` (family and order drawn per clip, ``row_rng``) and restored;
the model, spectral band replication and the level-matched noise fill are scored (LSD, LSD-HF), and per system
the band's level against the reference's (mean power above the cutoff, dB). Per family: the share of clips on
which the model beats the better baseline, the level errors, how far the filter lowers the octave below the
cutoff (the input's mean power there against the reference's, dB), and the input's slope over the octave below
the cutoff and the octave under that (dB/octave, time-averaged power). ``--told``: the model also restores told
the cutoff (``band_limit_hz``), which shows whether the band edge it reads is the cause. ``--dark FOLDER``: the
same slopes for the dark recordings of ``benchmarks/dark_recordings.py`` band-limited by a plain resample at the
cutoff, for comparison (model card, "Where filters 8 kHz loses"). ``--degradation resample``: the plain resample
instead (one row, "resample"), e.g. with ``--told`` for what the edge the runtime reads costs there.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from band_ceiling import SR, pick_clips

from sagasr_stream import restore
from sagasr_stream.degradation import DEGRADATIONS, FILTER_FAMILIES, degrade, draw_lowpass
from sagasr_stream.dsp import N_FFT, interior_power, stft
from sagasr_stream.evaluation.baseline import noise_fill, sbr_extend
from sagasr_stream.evaluation.metrics import quality
from sagasr_stream.evaluation.references import load_clips
from sagasr_stream.evaluation.runner import row_rng
from sagasr_stream.replication import spectral_slope_db_per_octave
from sagasr_stream.restorer import Restorer


def band_power_db(audio: np.ndarray, low_hz: float, high_hz: float) -> float:
    """Mean STFT power (dB) of ``audio`` (samples,) in [low_hz, high_hz)."""
    power = np.abs(stft(np.asarray(audio, dtype=np.float64), N_FFT, N_FFT // 4)) ** 2
    lo, hi = (int(np.ceil(f / (SR / 2) * (N_FFT // 2))) for f in (low_hz, high_hz))
    return float(10 * np.log10(power[lo:hi].mean() + 1e-20))


def octave_slopes(audio: np.ndarray, cutoff_hz: float) -> tuple[float, float]:
    """Slopes (dB/octave) of ``audio``'s time-averaged power over [c/2, 0.97 c) and [c/4, c/2)."""
    power = interior_power(np.asarray(audio, dtype=np.float64))
    freqs = np.arange(power.shape[0]) * SR / N_FFT
    top = spectral_slope_db_per_octave(power, freqs, cutoff_hz / 2, 0.97 * cutoff_hz)
    return top, spectral_slope_db_per_octave(power, freqs, cutoff_hz / 4, cutoff_hz / 2)


def clip_row(ref: np.ndarray, index: int, cutoff: float, restorers: dict[str, Restorer],
             degradation: str = "filters") -> dict:
    """One clip's scores and measures at ``cutoff`` (the evaluation's ``degradation`` draw of clip ``index``)."""
    kind = DEGRADATIONS.index(degradation)
    spec = draw_lowpass(row_rng(0, index, kind, 0), (cutoff, cutoff)) if degradation == "filters" else None
    rng = row_rng(0, index, kind, 0)
    degraded = degrade(ref, degradation, cutoff, rng)
    outputs = {"sbr": sbr_extend(degraded, SR, cutoff), "noise": noise_fill(degraded, SR, cutoff,
                                                                           seed=int(rng.integers(2**31)))}
    outputs.update({name: restore(degraded, SR, restorer) for name, restorer in restorers.items()})
    ref_band = band_power_db(ref, cutoff, SR / 2)
    row = {"family": spec.family if spec else degradation, "order": spec.order if spec else 0,
           "octave_loss_db": band_power_db(degraded, cutoff / 2, cutoff) - band_power_db(ref, cutoff / 2, cutoff),
           "slopes": octave_slopes(degraded, cutoff)}
    for name, audio in outputs.items():
        row[name] = {**quality(audio, ref, SR, cutoff), "level_db": band_power_db(audio, cutoff, SR / 2) - ref_band}
    return row


def wins(row: dict, system: str, metric: str) -> bool:
    return row[system][metric] < min(row["sbr"][metric], row["noise"][metric])


def family_table(rows: list[dict], systems: list[str]) -> list[str]:
    """Markdown rows per family and for all clips."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["family"]].append(row)
    groups["all"] = rows
    lines = []
    for family in [*FILTER_FAMILIES, "resample", "all"]:
        group = groups.get(family)
        if not group:
            continue
        won = " / ".join(f"{np.mean([wins(r, s, 'lsd') for r in group]):.0%}, "
                         f"{np.mean([wins(r, s, 'lsd_hf') for r in group]):.0%}" for s in systems)
        hf = " / ".join(f"{np.mean([r[s]['lsd_hf'] for r in group]):.3f}" for s in [*systems, "sbr", "noise"])
        level = " / ".join(f"{np.median([r[s]['level_db'] for r in group]):+.1f}" for s in [*systems, "sbr", "noise"])
        slopes = np.median([r["slopes"] for r in group], axis=0)
        lines.append(f"| {family} | {len(group)} | {won} | {hf} | {level} | "
                     f"{np.median([r['octave_loss_db'] for r in group]):+.1f} | {slopes[0]:+.1f} / {slopes[1]:+.1f} |")
    return lines


def dark_slopes(folder: Path, cutoff: float, seconds: float) -> dict[str, np.ndarray]:
    """Median (top, lower) octave slopes of dark recordings resampled at ``cutoff``, per low-pass corner."""
    files = sorted(folder.glob("*.flac"))
    clips = load_clips([str(p) for p in files], seconds, None, SR)
    by: dict[str, list] = defaultdict(list)
    for name, ref in clips.items():
        by[name.rsplit("_", 1)[-1]].append(octave_slopes(degrade(ref, "resample", cutoff, row_rng(0, 0, 0, 0)), cutoff))
    return {corner: np.median(values, axis=0) for corner, values in by.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--used", type=Path, help="the clips training used (left out)")
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=FOLDER:CLIPS")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--cutoff", type=float, default=8000.0)
    parser.add_argument("--degradation", choices=["filters", "resample"], default="filters")
    parser.add_argument("--model", type=Path, help="bundle folder (default: the embedded model)")
    parser.add_argument("--told", action="store_true", help="also restore told the cutoff")
    parser.add_argument("--dark", type=Path, help="dark recordings (benchmarks/dark_recordings.py) for the slopes")
    parser.add_argument("--json", type=Path, help="write every clip's row here")
    args = parser.parse_args()
    sets = {"unseen": load_clips([str(p) for p in pick_clips(args.corpus, args.used, args.clips)], args.seconds,
                                 None, SR)}
    for item in args.set:
        name, _, rest = item.partition("=")
        folder, _, count = rest.rpartition(":")
        files = sorted(Path(folder).rglob("*.flac"))[: int(count)]
        sets[name] = load_clips([str(p) for p in files], args.seconds, None, SR)
    model = Restorer.load(args.model)
    restorers = {"model": model, **({"told": Restorer(model.model, band_limit_hz=args.cutoff)} if args.told else {})}
    rows = []
    for set_name, clips in sets.items():
        for index, (name, ref) in enumerate(clips.items()):
            rows.append({"set": set_name, "clip": name,
                         **clip_row(ref, index, args.cutoff, restorers, args.degradation)})
        print(f"{set_name}: {len(clips)} clips done", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=0))
    systems = list(restorers)
    print(f"\n{args.degradation} at {args.cutoff:g} Hz, {len(rows)} clips x {args.seconds:g} s ({', '.join(sets)}). "
          f"Clips won (LSD, LSD-HF; below the better of SBR and noise fill) per system ({' / '.join(systems)}); "
          "mean LSD-HF and median band level minus the reference's (dB) of each system, then SBR and noise fill; "
          "median loss of the octave below the cutoff (dB); median input slopes over the octave below / the one "
          "under it (dB/octave)\n")
    print("| family | clips | won | LSD-HF | band level | octave loss | slopes |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(family_table(rows, systems)))
    if args.dark:
        print(f"\ndark recordings resampled at {args.cutoff:g} Hz, median slopes (dB/octave):")
        for corner, (top, lower) in sorted(dark_slopes(args.dark, args.cutoff, args.seconds).items()):
            print(f"  {corner}: {top:+.1f} / {lower:+.1f}")


if __name__ == "__main__":
    main()
