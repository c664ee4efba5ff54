"""``sagasr eval``: score a model bundle on full-band reference audio beside the baselines.

Rows: input, SBR, noise fill, VAE-only, model; metrics LSD, LSD-HF, envelope correlation, win rates and margins,
seams; ``--guidance`` adds the guidance measurements, ``--steps-sweep`` quality against steps (tuning split).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..errors import SagasrError
from .options import add_restore_options, number_type, positive_seconds, settings_from_args


def run_eval(args: argparse.Namespace) -> int:
    from .. import restore
    from ..evaluation.guidance import guidance_markdown, guidance_study
    from ..evaluation.references import load_captions, load_clips, reference_files
    from ..evaluation.report import add_section
    from ..evaluation.runner import check_distinct, evaluate
    from ..evaluation.seams import seam_report
    from ..evaluation.splits import describe_rule, split_listing
    from ..evaluation.steps import parse_steps, steps_markdown, steps_sweep
    from ..evaluation.vae_only import vae_only_model
    from ..files import atomic_write_text
    from ..restorer import Restorer
    from ..settings import RestoreSettings

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise SagasrError(f"-o {args.out} is a file: the evaluation writes a folder (report.md, report.json, ...)")
    if args.pngs < 0:
        raise SagasrError(f"--pngs must be >= 0, got {args.pngs}")
    sweep_steps = parse_steps(args.steps_sweep) if args.steps_sweep else None
    check_distinct(args.cutoffs, args.degradations)
    captions = load_captions(args.captions)
    settings = settings_from_args(args)
    restorer = Restorer.load(args.model, settings, args.provider, bool(getattr(args, "allow_torchscript", False)))
    model, resolved = restorer.model, restorer.settings
    vae_only = Restorer(vae_only_model(model), settings)
    # --max-clips N: the first N clips of the split (of the tuning split for the sweep), not N before the split
    clips = load_clips(args.references, args.clip_seconds, args.max_clips, model.manifest.sample_rate, args.split)
    tuning = ({} if not sweep_steps else clips if args.split == "tuning" else  # refuse before the long runs
              load_clips(args.references, args.clip_seconds, args.max_clips, model.manifest.sample_rate, "tuning"))
    listing = {name: names[:args.max_clips]
               for name, names in split_listing([file.stem for file in reference_files(args.references)]).items()}

    def restore_fn(audio: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
        return restore(audio, sample_rate, restorer)

    def vae_only_fn(audio: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
        return restore(audio, sample_rate, vae_only)

    def restore_with(audio: np.ndarray, chosen: RestoreSettings) -> np.ndarray:
        return restore(audio, model.manifest.sample_rate, model, chosen)

    context = {
        "model": {"name": model.manifest.name, "device": model.device},
        "settings": {"steps": resolved.steps, "cfg_acoustic": resolved.cfg_acoustic, "cfg_text": resolved.cfg_text,
                     "target_rolloff_hz": resolved.target_rolloff_hz, "caption": resolved.caption,
                     "overlap": resolved.overlap, "seed": resolved.seed, "clip_seconds": args.clip_seconds,
                     "band_level": asdict(resolved.band_level) if resolved.band_level else "power",
                     "band_ceiling_db": "off" if resolved.band_ceiling_db is None else resolved.band_ceiling_db,
                     "sbr_blend": "off" if resolved.sbr_blend is None else resolved.sbr_blend,
                     "sbr_level_db": resolved.sbr_level_db,
                     "band_smoothing_octaves": ("off" if resolved.band_smoothing_octaves is None
                                                else resolved.band_smoothing_octaves),
                     "band_smoothing_iterations": resolved.band_smoothing_iterations,
                     "band_transients": "off" if resolved.band_transients is None else resolved.band_transients},
        "split": {"name": args.split, "rule": describe_rule(), "clips": list(clips), **listing},
    }
    report = evaluate(restore_fn, clips, cutoffs_hz=args.cutoffs, degradations=args.degradations,
                      seed=args.seed or 0, out_dir=args.out, n_png=args.pngs, vae_only_fn=vae_only_fn, context=context)
    out = Path(args.out)
    (out / "seams.json").unlink(missing_ok=True)  # a previous run's, until this run's is written
    seams = seam_report(restore_fn, clips, restorer.plan.window, restorer.plan.overlap)
    atomic_write_text(out / "seams.json", json.dumps(seams, indent=2))
    smoothing = ("off" if resolved.band_smoothing_octaves is None
                 else f"{resolved.band_smoothing_octaves:g} octaves, {resolved.band_smoothing_iterations} iterations")
    add_section(out, "seams", seams,
                f"Model `{model.manifest.name}` on {model.device}; settings: steps {resolved.steps}, "
                f"s_a {resolved.cfg_acoustic}, s_t {resolved.cfg_text}, overlap {resolved.overlap}, seed {resolved.seed}, "
                f"band level {'matched' if resolved.band_level else 'power'}, band ceiling "
                f"{'off' if resolved.band_ceiling_db is None else f'{resolved.band_ceiling_db:g} dB'}, SBR blend "
                f"{'off' if resolved.sbr_blend is None else f'{resolved.sbr_blend:g}'}"
                f"{'' if resolved.sbr_blend is None else f' (level pull bound {resolved.sbr_level_db:g} dB)'}, band "
                f"smoothing {smoothing}, band transients "
                f"{'off' if resolved.band_transients is None else f'{resolved.band_transients:g}'}.\n"
                f"\nSeam metric (8 kHz resample input, high band energy near seams against elsewhere, 0 dB = "
                f"invisible): " + (
                    f"{seams['seam_db_mean']:+.2f} dB, the references themselves {seams['reference_seam_db_mean']:+.2f} dB "
                    f"at the same places (the music's own loudness), difference {seams['seam_db_vs_reference']:+.2f} dB, "
                    f"over {seams['seam_clips']} clips\n" if seams["seam_clips"]
                    else "no clip holds 3 windows (longer clips needed)\n"))
    if args.guidance:
        study = guidance_study(restore_with, clips, settings, captions, cutoff_hz=args.guidance_cutoff,
                               degradation=args.guidance_degradation, seed=args.seed or 0,
                               with_captions="text_encoder" in model.manifest.graphs)
        study = {"default_caption": resolved.caption, **study}  # the "default" run's: the bundle's or --caption
        add_section(out, "guidance", {"split": args.split, **study}, guidance_markdown(study))
    if sweep_steps:
        sweep = steps_sweep(restore_with, tuning, settings, sweep_steps, cutoffs_hz=args.cutoffs,
                            degradations=args.degradations, seed=args.seed or 0)
        add_section(out, "steps_sweep", {"split": "tuning", **sweep}, steps_markdown(sweep, "tuning"))
    print((out / "report.md").read_text())
    return 0 if report else 1


clip_count = number_type(int, "a whole number of clips", lambda v: v >= 1, "at least 1")


cutoff_hz = number_type(float, "a frequency in Hz", lambda v: 0 < v < 22050.0, "in (0, 22050) Hz, the evaluation's Nyquist")


def add_eval_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sagasr eval`` on the main parser."""
    p = sub.add_parser("eval", help="score a model on full-band reference audio beside the baselines",
                       description="Score a model beside the band-limited input, SBR, a level-matched noise fill and "
                                   "VAE-only (the same bundle with its DiT bypassed): LSD, LSD-HF, envelope correlation, "
                                   "win rates and margins; optionally guidance measurements and a steps sweep.")
    p.add_argument("references", nargs="+",
                   help="full-band files, folders, globs or a validation.txt list (of a folder or a glob only the audio "
                        "files, as for restore); at 44.1 kHz or above (resampled to "
                        "44.1 kHz; lower rates are refused); multichannel files are scored as one mono clip each, the "
                        "mean of their channels (so --stereo has no effect here)")
    p.add_argument("-o", "--out", default="evaluation",
                   help="report folder (report.md, report.json, PNGs; default evaluation)")
    p.add_argument("--cutoffs", type=cutoff_hz, nargs="+", default=[4000.0, 8000.0, 12000.0], metavar="HZ",
                   help="cutoffs the references are band-limited at (default 4000 8000 12000)")
    p.add_argument("--degradations", nargs="+", default=["filters", "resample"], choices=["filters", "resample"],
                   help="how they are band-limited: the training recipe's random low-pass filters, or plain resampling "
                        "to 2 x the cutoff and back (default: both, in that order)")
    p.add_argument("--clip-seconds", type=positive_seconds, default=None, metavar="S",
                   help="cut each reference to this length in seconds (> 0; default: whole files)")
    p.add_argument("--max-clips", type=clip_count, default=None, metavar="N",
                   help="use the first N references of the --split (>= 1; the steps sweep: the first N of the tuning "
                        "split; default: all)")
    p.add_argument("--pngs", type=int, default=3, help="spectrogram pictures to draw (default 3)")
    p.add_argument("--split", choices=["tuning", "test", "all"], default="test",
                   help="clips of the table and the guidance study (fixed by a hash of the clip name; default test)")
    p.add_argument("--guidance", action="store_true",
                   help="measure the guidance: target roll-off 10 vs 18 kHz, guidance off, matching vs contradicting caption")
    p.add_argument("--guidance-cutoff", type=cutoff_hz, default=8000.0, metavar="HZ",
                   help="input cutoff of the guidance study (default 8000)")
    p.add_argument("--guidance-degradation", choices=["filters", "resample"], default="filters",
                   help="band-limiting of the guidance study's inputs (default filters)")
    p.add_argument("--captions", metavar="JSONL", help="captions.jsonl with the clips' matching captions (the guidance study compares captions on "
                        "the clips it gives a caption; the others are left out and counted)")
    p.add_argument("--steps-sweep", metavar="N,N,...", help="score these step counts on the tuning split, e.g. 1,2,4,8,16")
    add_restore_options(p)
    p.set_defaults(func=run_eval)
