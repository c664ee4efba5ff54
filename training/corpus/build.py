"""Build the corpus: plan jobs from a seed, render them in parallel, vet clips, write captions and manifest.

Determinism: the job list is a function of the seed and the available sources only; results are
collected in job order and the corpus is the first clips (job index, clip index) that reach the requested
duration, so the worker count changes the speed, never the content.
"""
from __future__ import annotations

import json
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .config import DEFAULT_BANK, DEFAULT_KIT_ROOTS, DEFAULT_OPENMSX, SAMPLE_RATE, SOURCE_WEIGHTS, BuildConfig, Context
from .drums import KitError, discover_kits, parse_kit, vet_kit
from .gm import GM_PROGRAMS
from .jobs import run_job
from .probe import probe_programs
from .render import RenderError, mma_grooves, music21_paths
from .sf2 import SF2Error, preset_rates, prune, read_sf2, write_sf2
from .split import assign_split

__all__ = ["DEFAULT_BANK", "DEFAULT_KIT_ROOTS", "DEFAULT_OPENMSX", "BuildConfig", "Context", "build", "plan_jobs", "prepare"]


# ---------------------------------------------------------------- preparation

def prepare_bank(config: BuildConfig, work: Path) -> tuple[Path, list[int], list[int], dict]:
    """Check the SF2's sample rates, write the pruned bank; returns (path, melodic, drum programs, report)."""
    if not config.bank.is_file():
        raise FileNotFoundError(f"SoundFont {config.bank} not found: run training/corpus/install.sh")
    font = read_sf2(config.bank)
    rates = preset_rates(font)
    keep = {(r.bank, r.program) for r in rates if r.ok(config.min_rate)}
    melodic = sorted(p for b, p in keep if b == 0)
    drums = sorted(p for b, p in keep if b == 128)
    if not melodic:
        raise SF2Error(f"{config.bank}: no bank-0 preset has all samples >= {config.min_rate} Hz")
    pruned = write_sf2(prune(font, keep), work / "bank_pruned.sf2")
    probe = probe_programs(pruned, melodic) if config.probe_presets else {}
    if probe:
        melodic = [p for p in melodic if probe[p]["ok"]]
        if not melodic:
            raise SF2Error(f"{config.bank}: no melodic preset renders with a top band")
    report = {
        "source": str(config.bank),
        "pruned": str(pruned.relative_to(config.out)) if pruned.is_relative_to(config.out) else str(pruned),
        "min_rate_hz": config.min_rate,
        "kept": [{"bank": r.bank, "program": r.program, "name": r.name} for r in rates if r.ok(config.min_rate)],
        "dropped": [{"bank": r.bank, "program": r.program, "name": r.name, "rates": list(r.rates)}
                    for r in rates if not r.ok(config.min_rate)],
        "probe": {"method": "3-octave arpeggio per bank-0 program, no reverb; same bandwidth check as clips",
                  "programs": {str(p): v for p, v in probe.items()},
                  "melodic_used": melodic},
    }
    return pruned, melodic, drums, report


def prepare(config: BuildConfig, work: Path) -> tuple[Context, dict, list[str]]:
    """Discover and vet every source; returns (context, manifest 'inputs' section, notes)."""
    ctx = Context(config)
    inputs: dict = {}
    notes: list[str] = []
    midi_kinds = [s for s in config.sources if s in SOURCE_WEIGHTS]
    if midi_kinds:
        ctx.bank, ctx.melodic, ctx.drum_programs, inputs["bank"] = prepare_bank(config, work)
    if "music21" in midi_kinds:
        try:
            ctx.music21 = music21_paths()
            ctx.music21_root = str(Path(ctx.music21[0]).parents[1]) if ctx.music21 else ""
        except RenderError as exc:
            notes.append(str(exc))
    if "openmsx" in midi_kinds:
        ctx.openmsx = sorted(str(p) for p in config.openmsx_dir.glob("*.mid"))
        if not ctx.openmsx:
            notes.append(f"no openmsx MIDI files in {config.openmsx_dir}")
    if "mma" in midi_kinds:
        ctx.grooves = mma_grooves() if shutil.which("mma") else []
        if not ctx.grooves:
            notes.append("mma or its groove library is not installed")
    if "drums" in config.sources:
        kit_reports = []
        for xml in discover_kits(list(config.kit_roots)):
            try:
                kit, records = vet_kit(parse_kit(xml), config.min_rate)
            except (KitError, ValueError) as exc:
                notes.append(str(exc))
                continue
            kit_reports.append({"name": kit.name, "folder": str(kit.folder), "instruments": len(kit.instruments),
                                "files": records, "missing_files": kit.missing})
            if kit.instruments:
                ctx.kits.append(kit)
        inputs["kits"] = kit_reports
        if not ctx.kits:
            notes.append(f"no usable drum kit under {[str(r) for r in config.kit_roots]}")
    return ctx, inputs, notes


# ---------------------------------------------------------------- planning

def plan_jobs(ctx: Context, seed: int, count: int, start: int = 0) -> list[dict]:
    """Jobs ``start`` .. ``start + count - 1`` of the seed's endless job sequence (each job is independent of
    ``count``). A job: {index, kind, seed, ...source fields}."""
    weights = {}
    if ctx.kits and "drums" in ctx.config.sources:
        weights["drums"] = ctx.config.drum_fraction
    available = {"music21": ctx.music21, "openmsx": ctx.openmsx, "mma": ctx.grooves}
    melodic = {k: w for k, w in SOURCE_WEIGHTS.items() if available[k] and k in ctx.config.sources}
    total_melodic = sum(melodic.values())
    for kind, w in melodic.items():
        weights[kind] = (1 - ctx.config.drum_fraction if "drums" in weights else 1.0) * w / total_melodic
    if not weights:
        raise RuntimeError("no corpus source is available: see the notes above and training/corpus/README.md")
    kinds = sorted(weights)
    probs = np.array([weights[k] for k in kinds]) / sum(weights.values())
    orders = {"music21": np.random.default_rng([seed, 1]).permutation(len(ctx.music21)),
              "openmsx": np.random.default_rng([seed, 2]).permutation(len(ctx.openmsx)),
              "drums": np.random.default_rng([seed, 3]).permutation(len(ctx.kits))}
    jobs = []
    counters: Counter[str] = Counter()
    for index in range(start + count):
        rng = np.random.default_rng([seed, 1000, index])
        kind = kinds[int(rng.choice(len(kinds), p=probs))]
        n = counters[kind]
        counters[kind] += 1
        if index < start:
            continue
        job = {"index": index, "kind": kind, "seed": int(rng.integers(2**31))}
        if kind == "music21":
            job["piece"] = ctx.music21[orders["music21"][n % len(ctx.music21)]]
        elif kind == "openmsx":
            job["piece"] = ctx.openmsx[orders["openmsx"][n % len(ctx.openmsx)]]
            job["variation"] = n // len(ctx.openmsx)
        elif kind == "drums":
            job["kit"] = int(orders["drums"][n % len(ctx.kits)])
        jobs.append(job)
    return jobs


# ---------------------------------------------------------------- the whole build

def _stats(values: list[float]) -> dict:
    if not values:
        return {}
    a = np.asarray(values)
    return {"min": round(float(a.min()), 1), "p5": round(float(np.percentile(a, 5)), 1),
            "median": round(float(np.median(a)), 1), "max": round(float(a.max()), 1)}


def build(config: BuildConfig, log=print) -> dict:
    """Build the corpus into ``config.out``; returns the manifest (also written to manifest.json)."""
    out = Path(config.out)
    if config.hours <= 0:
        raise ValueError(f"--hours must be positive, got {config.hours}")
    if config.audio_format not in ("flac", "wav"):
        raise ValueError(f"format must be flac or wav, got {config.audio_format!r}")
    if (out / "manifest.json").exists() and not config.overwrite:
        raise FileExistsError(f"{out} already holds a corpus (manifest.json); pass --overwrite to rebuild")
    if (out / "clips").exists():
        shutil.rmtree(out / "clips")
    (out / "clips").mkdir(parents=True, exist_ok=True)
    work = out / "_work"
    work.mkdir(exist_ok=True)
    ctx, inputs, notes = prepare(config, work)
    for note in notes:
        log(f"note: {note}")
    target = config.hours * 3600
    results: list[dict] = []
    kept_seconds = 0.0
    next_job = 0
    batch = max(4, 2 * config.workers)
    executor = ProcessPoolExecutor(config.workers) if config.workers > 1 else None
    try:
        while kept_seconds < target:
            jobs = plan_jobs(ctx, config.seed, batch, next_job)
            next_job += batch
            if executor is None:
                batch_results = [run_job(ctx, j) for j in jobs]
            else:
                batch_results = list(executor.map(run_job, [ctx] * len(jobs), jobs))
            results += batch_results
            kept_seconds += sum(c["seconds"] for r in batch_results for c in r["clips"] if c["kept"])
            log(f"jobs {next_job}: {kept_seconds / 60:.1f} of {target / 60:.1f} min")
            if next_job > 50 and kept_seconds == 0:
                raise RuntimeError("50 jobs gave no usable clip: check the sources and the errors")
    finally:
        if executor is not None:
            executor.shutdown()
    # keep the first clips, in job order, that reach the target
    clips, dropped, errors, total = [], [], [], 0.0
    for r in sorted(results, key=lambda r: r["index"]):
        if r["error"]:
            errors.append(r["error"])
        for c in r["clips"]:
            if not c["kept"]:
                dropped.append(c)
            elif total < target:
                clips.append(c)
                total += c["seconds"]
            else:
                (out / c["path"]).unlink()
    split = assign_split([c["group"] for c in clips], config.seed, config.validation_fraction)
    for c in clips:
        c["split"] = split[c["group"]]
    with open(out / "captions.jsonl", "w") as f:
        for c in clips:
            f.write(json.dumps({"path": c["path"], "caption": c["caption"]}) + "\n")
    for name in ("train", "validation"):
        (out / f"{name}.txt").write_text("".join(c["path"] + "\n" for c in clips if c["split"] == name))
    groups: dict[str, dict] = {}
    for c in clips:
        g = groups.setdefault(c["group"], {"kind": c["kind"], "source": c["source"], "split": c["split"], "clips": 0, "seconds": 0.0})
        g["clips"] += 1
        g["seconds"] = round(g["seconds"] + c["seconds"], 3)
    manifest = {
        "format_version": 1,
        "seed": config.seed,
        "hours_requested": config.hours,
        "sample_rate": SAMPLE_RATE,
        "channels": 1,
        "clip_seconds": config.clip_seconds,
        "audio_format": config.audio_format,
        "config": {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, tuple) else v)
                   for k, v in asdict(config).items() if k not in ("out", "workers", "overwrite")},
        "stats": {
            "clips": len(clips),
            "seconds": round(total, 3),
            "by_kind": dict(Counter(c["kind"] for c in clips)),
            "by_split": dict(Counter(c["split"] for c in clips)),
            "dropped": dict(Counter(f"{c['kind']}: {c['reason']}" for c in dropped)),
            "jobs": len(results),
            "job_errors": len(errors),
            "bandwidth_hz_kept": _stats([c["bandwidth"]["bandwidth_hz"] for c in clips]),
            "top_drop_db_kept": _stats([c["bandwidth"]["drop_db"] for c in clips]),
            "top_drop_db_dropped": _stats([c["bandwidth"]["drop_db"] for c in dropped if "bandwidth" in c]),
        },
        "notes": notes,
        "errors": errors,
        "inputs": inputs,
        "groups": groups,
        "clips": clips,
        "dropped": dropped,
        "gm_programs": list(GM_PROGRAMS),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    log(f"wrote {len(clips)} clips ({total / 60:.1f} min) to {out}; dropped {len(dropped)}; job errors {len(errors)}")
    return manifest
