"""``sagasr batch``: restore many files on a Ray cluster, or on this machine (a local Ray instance)."""
from __future__ import annotations

import argparse
import sys

from .options import (
    FORMATS, add_band_limit_option, add_bit_depth_option, add_quality_option, add_restore_options, non_negative,
    positive_int, sample_rate_hz, settings_from_args,
)


def add_batch_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sagasr batch`` (with the restore options of ``sagasr restore``)."""
    p = sub.add_parser(
        "batch", help="restore many files on Ray: this machine or a cluster (needs the [ray] extra)",
        description="Restore files, folders, globs or list files (.txt/.lst/.m3u, one path a line) into a folder, "
                    "on a pool of Ray workers that each load the model once. Long files are split into segments "
                    "and stitched back exactly. A manifest (batch-manifest.jsonl) in the output folder records "
                    "every file; a rerun skips complete outputs. Exit code 1 when any file failed.")
    p.add_argument("inputs", nargs="+", help="files, folders, glob patterns or list files")
    p.add_argument("-o", "--output", required=True, help="output folder (mirrors the inputs' folders)")
    p.add_argument("--format", default="wav", choices=FORMATS,
                   help="output format (default wav; mp3 and ogg are lossy, see --quality)")
    p.add_argument("--output-rate", type=sample_rate_hz, metavar="HZ", help="output sample rate (as in 'sagasr restore')")
    p.add_argument("--ray-address", metavar="auto|HOST:PORT",
                   help="join a running Ray cluster ('auto': the one 'ray start' started here); default: start a "
                        "local Ray instance")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="worker actors, one model each (default: as many as the Ray nodes hold, counted node by node; "
                        "at most one per task; more than the nodes hold: those that fit run, with a warning, and more "
                        "start on nodes that join during the run)")
    p.add_argument("--gpus-per-worker", type=non_negative, default=0.0, metavar="F",
                   help="GPUs per worker, e.g. 0.5 (then the CUDA provider is used); default 0 (CPU)")
    p.add_argument("--files-per-task", type=positive_int, default=1, metavar="N",
                   help="short files restored per Ray task (more: less scheduling overhead, more redone after a crash; "
                        "default 1)")
    p.add_argument("--segment-seconds", type=float, default=60.0, metavar="S",
                   help="files longer than 1.5x this are split into segments of about this length (default 60)")
    p.add_argument("--threads-per-worker", type=positive_int, default=1, metavar="N",
                   help="CPU threads (and Ray CPUs) per worker (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar (errors and the summary only)")
    add_bit_depth_option(p)
    add_quality_option(p)
    add_band_limit_option(p)
    add_restore_options(p)
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    try:
        import ray  # noqa: F401
    except ImportError:
        print('error: \'sagasr batch\' needs Ray: pip install "ray>=2.9"', file=sys.stderr)
        return 2
    from ..distributed.runner import restore_batch

    try:
        summary = restore_batch(
            args.inputs, args.output, model=args.model, provider=args.provider,
            allow_torchscript=bool(args.allow_torchscript), settings=settings_from_args(args),
            band_limit_hz=args.band_limit, output_rate=args.output_rate, fmt=args.format, bit_depth=args.bit_depth,
            quality=args.quality,
            ray_address=args.ray_address,
            workers=args.workers, gpus_per_worker=args.gpus_per_worker, files_per_task=args.files_per_task,
            segment_seconds=args.segment_seconds, threads_per_worker=args.threads_per_worker,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:  # workers may still be writing: their hidden partial files go with the next run
        print("interrupted: no output path holds a partial file; run the same command again to resume (finished "
              "files and segments are kept, and hidden partial files left by workers are removed then)",
              file=sys.stderr)
        return 130
    for line in summary.lines():
        print(line, file=sys.stderr)
    return 0 if summary.ok else 1
