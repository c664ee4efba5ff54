"""Command line: ``python -m sagasr_training.corpus build|check-sf2``."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .build import DEFAULT_BANK, DEFAULT_KIT_ROOTS, DEFAULT_OPENMSX, BuildConfig, build
from .sf2 import SF2Error, preset_rates, prune, read_sf2, write_sf2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sagasr_training.corpus", description="Offline 44.1 kHz training corpus builder")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="render MIDI and drum patterns into vetted 44.1 kHz clips")
    b.add_argument("--out", type=Path, required=True, help="output folder (keep it outside the repository)")
    b.add_argument("--hours", type=float, required=True, help="hours of kept audio to produce")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workers", type=int, default=1, help="parallel rendering processes")
    b.add_argument("--clip-seconds", type=float, default=10.0)
    b.add_argument("--max-clips-per-piece", type=int, default=6)
    b.add_argument("--drum-fraction", type=float, default=0.3, help="share of jobs that sequence drum kits")
    b.add_argument("--validation-fraction", type=float, default=0.1)
    b.add_argument("--format", choices=("flac", "wav"), default="flac")
    b.add_argument("--sources", default="music21,openmsx,mma,drums", help="comma list of music21,openmsx,mma,drums")
    b.add_argument("--bank", type=Path, default=DEFAULT_BANK, help="uncompressed SF2 bank")
    b.add_argument("--kits", type=Path, nargs="*", default=list(DEFAULT_KIT_ROOTS), help="folders of Hydrogen kits")
    b.add_argument("--openmsx", type=Path, default=DEFAULT_OPENMSX)
    b.add_argument("--overwrite", action="store_true", help="rebuild over an existing corpus")
    c = sub.add_parser("check-sf2", help="list each preset's sample rates; optionally write a pruned bank")
    c.add_argument("bank", type=Path)
    c.add_argument("--min-rate", type=int, default=44100)
    c.add_argument("--write-pruned", type=Path, help="write a bank with only the presets that pass")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-sf2":
        try:
            font = read_sf2(args.bank)
        except (SF2Error, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        rates = preset_rates(font)
        ok = [r for r in rates if r.ok(args.min_rate)]
        if args.json:
            print(json.dumps([{"bank": r.bank, "program": r.program, "name": r.name, "rates": list(r.rates),
                               "ok": r.ok(args.min_rate)} for r in rates], indent=1))
        else:
            for r in rates:
                print(f"{'ok  ' if r.ok(args.min_rate) else 'DROP'} {r.bank:3d}:{r.program:3d} {r.name:24s} {','.join(map(str, r.rates))}")
            print(f"{len(ok)} of {len(rates)} presets have every sample >= {args.min_rate} Hz")
        if args.write_pruned:
            write_sf2(prune(font, {(r.bank, r.program) for r in ok}), args.write_pruned)
            print(f"wrote {args.write_pruned}", file=sys.stderr)
        return 0
    config = BuildConfig(
        out=args.out, hours=args.hours, seed=args.seed, workers=args.workers, clip_seconds=args.clip_seconds,
        max_clips_per_piece=args.max_clips_per_piece, drum_fraction=args.drum_fraction,
        validation_fraction=args.validation_fraction, audio_format=args.format,
        sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()), bank=args.bank,
        kit_roots=tuple(args.kits), openmsx_dir=args.openmsx, overwrite=args.overwrite,
    )
    unknown = set(config.sources) - {"music21", "openmsx", "mma", "drums"}
    if unknown:
        print(f"error: unknown source(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    start = time.time()
    try:
        build(config)
    except (FileExistsError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"done in {time.time() - start:.0f} s")
    return 0
