"""``sagasr eval``: score a model bundle on full-band reference audio (LSD, LSD-HF, seams, SBR baseline)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import numpy as np


def load_clips(patterns: list[str], seconds: float | None, max_clips: int | None, sample_rate: int) -> dict[str, np.ndarray]:
    """Reference files (files, folders, globs, or a corpus ``validation.txt`` list) -> mono clips at ``sample_rate``."""
    from ..audio_io import open_input, read_blocks
    from ..cli import expand_inputs

    files: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.suffix == ".txt" and path.is_file():  # a split list written by the corpus builder
            files += [path.parent / line.strip() for line in path.read_text().splitlines() if line.strip()]
        else:
            files += [file for file, _ in expand_inputs([pattern])]
    clips: dict[str, np.ndarray] = {}
    for file in files[: max_clips or None]:
        with open_input(file, sample_rate) as (reader, _channels, _rate):
            audio = np.concatenate(list(read_blocks(reader, 1 << 16)), axis=1).mean(axis=0)
        if seconds:
            audio = audio[: int(seconds * sample_rate)]
        clips[file.stem] = audio.astype(np.float32)
    return clips


def seam_report(restore_fn: Callable[[np.ndarray, int, float], np.ndarray], clips: dict[str, np.ndarray],
                window: int, overlap: int, cutoff_hz: float = 8000.0) -> dict[str, float]:
    """Mean seam metric (dB) of restored, resample-degraded clips long enough to hold seams."""
    from ..chunking import WindowPlan
    from ..dsp import resample_through
    from .metrics import seam_energy_ratio_db

    plan = WindowPlan(window, overlap)
    values = []
    for clip in clips.values():
        if plan.n_windows(len(clip)) < 3:
            continue
        out = restore_fn(resample_through(clip, 44100, 2 * cutoff_hz).astype(np.float32), 44100, cutoff_hz)
        values.append(seam_energy_ratio_db(out, plan.seam_centres(len(out)), overlap, 44100, cutoff_hz))
    return {"seam_db_mean": float(np.mean(values)) if values else float("nan"), "seam_clips": len(values)}


def run_eval(args: argparse.Namespace) -> int:
    from .. import restore
    from ..cli import _settings
    from ..model import SagaSRModel
    from ..settings import resolve
    from .runner import evaluate

    model = SagaSRModel.load(args.model, provider=args.provider)
    settings = _settings(args)
    resolved = resolve(settings, model.manifest)
    clips = load_clips(args.references, args.clip_seconds, args.max_clips, model.manifest.sample_rate)

    def restore_fn(audio: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
        return restore(audio, sample_rate, model, settings)

    report = evaluate(restore_fn, clips, cutoffs_hz=args.cutoffs, degradations=args.degradations,
                      seed=args.seed or 0, out_dir=args.out, n_png=args.pngs)
    seams = seam_report(restore_fn, clips, resolved.window, resolved.overlap)
    out = Path(args.out)
    (out / "seams.json").write_text(json.dumps(seams, indent=2))
    with open(out / "report.md", "a", encoding="utf-8") as f:
        f.write(f"\nModel `{model.manifest.name}` on {model.device}; settings: steps {resolved.steps}, "
                f"s_a {resolved.cfg_acoustic}, s_t {resolved.cfg_text}, overlap {resolved.overlap}, seed {resolved.seed}.\n"
                f"\nSeam metric (8 kHz resample input, high band, 0 dB = invisible): {seams['seam_db_mean']:+.2f} dB "
                f"over {seams['seam_clips']} clips\n")
    print((out / "report.md").read_text())
    return 0 if report else 1


def add_eval_command(sub: argparse._SubParsersAction, add_restore_options: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    """Register ``sagasr eval`` on the main parser."""
    p = sub.add_parser("eval", help="score a model on full-band reference audio against the DSP baseline")
    p.add_argument("references", nargs="+", help="44.1 kHz full-band files, folders, globs or a validation.txt list")
    p.add_argument("-o", "--out", default="evaluation", help="report folder (report.md, report.json, PNGs)")
    p.add_argument("--cutoffs", type=float, nargs="+", default=[4000.0, 8000.0, 12000.0], metavar="HZ")
    p.add_argument("--degradations", nargs="+", default=["filters", "resample"], choices=["filters", "resample"])
    p.add_argument("--clip-seconds", type=float, default=None, help="cut each reference to this length")
    p.add_argument("--max-clips", type=int, default=None)
    p.add_argument("--pngs", type=int, default=3, help="spectrogram pictures to draw")
    add_restore_options(p)
    p.set_defaults(func=run_eval)
