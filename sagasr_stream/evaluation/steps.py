"""Quality against the number of Euler steps (LSD, LSD-HF, envelope correlation), meant for the tuning split."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..errors import ParameterError
from ..settings import RestoreSettings
from .metrics import QUALITY_METRICS, quality
from ..degradation import degrade
from .runner import SAMPLE_RATE, refuse_repeats, row_rng

RestoreWith = Callable[[np.ndarray, RestoreSettings], np.ndarray]  # (samples,) 44.1 kHz float32 -> (samples,)


def parse_steps(text: str) -> list[int]:
    """"1,2,4,8,16" -> [1, 2, 4, 8, 16]; raises ParameterError (a ValueError) on anything but positive integers."""
    try:
        steps = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"steps sweep must be comma-separated positive integers, got {text!r}") from None
    if not steps or min(steps) < 1:
        raise ParameterError(f"steps sweep must be comma-separated positive integers, got {text!r}")
    check_distinct_steps(steps)
    return steps


def check_distinct_steps(steps: Sequence[int]) -> None:
    """Refuse a step count given twice: its rows would be repeated and counted twice in the sweep."""
    refuse_repeats(steps, lambda n: f"steps sweep: {n} steps")


def steps_sweep(
    restore_with: RestoreWith,
    clips: Mapping[str, np.ndarray],
    settings: RestoreSettings,
    steps: Sequence[int],
    cutoffs_hz: Sequence[float] = (4000, 8000, 12000),
    degradations: Sequence[str] = ("filters", "resample"),
    seed: int = 0,
) -> dict:
    """Score the model at every step count on every (clip, degradation, cutoff); same degraded input and
    noise seed for every step count. Returns {"steps", "rows": one per (steps, degradation, cutoff) with the
    means over clips, "overall": one per steps with the means over everything and the mean real-time factor
    ("rtf": wall seconds of the restore call per second of audio, this machine, whatever else runs), "n_clips"}."""
    check_distinct_steps([int(n) for n in steps])
    per = []
    for ci, (name, ref) in enumerate(clips.items()):
        for di, kind in enumerate(degradations):
            for ki, cutoff in enumerate(cutoffs_hz):
                degraded = degrade(ref, kind, float(cutoff), row_rng(seed, ci, di, ki))
                for n in steps:
                    start = time.perf_counter()
                    out = np.asarray(restore_with(degraded.copy(), settings.with_(steps=int(n))), dtype=np.float32)
                    rtf = (time.perf_counter() - start) / (ref.size / SAMPLE_RATE)
                    per.append({"clip": name, "degradation": kind, "cutoff_hz": float(cutoff), "steps": int(n),
                                **quality(out, ref, SAMPLE_RATE, float(cutoff)), "rtf": rtf})
    rows = []
    for n in steps:
        for kind in degradations:
            for cutoff in cutoffs_hz:
                group = [p for p in per if p["steps"] == n and p["degradation"] == kind and p["cutoff_hz"] == float(cutoff)]
                rows.append({"steps": int(n), "degradation": kind, "cutoff_hz": float(cutoff),
                             **{m: float(np.mean([g[m] for g in group])) for m in QUALITY_METRICS}})
    overall = [{"steps": int(n), **{m: float(np.mean([p[m] for p in per if p["steps"] == n])) for m in QUALITY_METRICS + ("rtf",)}}
               for n in steps]
    return {"steps": [int(n) for n in steps], "n_clips": len(clips), "rows": rows, "overall": overall, "clips": per}


def steps_markdown(sweep: Mapping, split: str) -> str:
    """The steps-sweep section of report.md: the overall means, then every (steps, degradation, cutoff) row."""
    lines = [f"## Steps sweep ({split} split, {sweep['n_clips']} clips)", "",
             "| steps | LSD | LSD-HF | ENV | RTF (this machine) |", "|---|---|---|---|---|"]
    lines += [f"| {o['steps']} | {o['lsd']:.3f} | {o['lsd_hf']:.3f} | {o['env']:.3f} | {o['rtf']:.2f} |" for o in sweep["overall"]]
    lines += ["", "| steps | degradation | cutoff (Hz) | LSD | LSD-HF | ENV |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['steps']} | {r['degradation']} | {r['cutoff_hz']:g} | {r['lsd']:.3f} | {r['lsd_hf']:.3f} | {r['env']:.3f} |"
              for r in sweep["rows"]]
    return "\n".join(lines) + "\n"
