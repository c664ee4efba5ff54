"""Run a restoration function over degraded reference clips and score it beside the baselines.

Systems per (clip, degradation, cutoff): ``input`` (the band-limited clip), ``sbr`` (spectral band replication),
``noise`` (level-matched noise fill), ``vae_only`` (when a VAE-only restore function is given) and ``model``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Hashable, TypeVar

import numpy as np

from ..degradation import DEGRADATIONS, degrade
from ..errors import AudioInputError, EvaluationError, ParameterError
from .baseline import noise_fill, sbr_extend
from .metrics import quality
from .report import Example, write_report

T = TypeVar("T", bound=Hashable)

SAMPLE_RATE = 44100

RestoreFn = Callable[[np.ndarray, int, float], np.ndarray]
GUIDANCE_DRAW = 99  # the guidance study's draw per clip, apart from the table's (degradation, cutoff) draws


def row_rng(seed: int, clip: int, degradation: int, cutoff: int) -> np.random.Generator:
    """The generator of one table row: clip, degradation and cutoff by their index in the evaluation's lists.
    It draws the row's filter (:func:`~sagasr_stream.degradation.degrade`) and then the noise fill's seed; the
    steps sweep and the benchmarks reuse it to see the same degraded inputs as the table."""
    return np.random.default_rng([seed, clip, degradation, cutoff])


def guidance_rng(seed: int, clip: int) -> np.random.Generator:
    """The generator of the guidance study's degradation of clip ``clip`` (its index in the study's clips)."""
    return np.random.default_rng([seed, clip, GUIDANCE_DRAW])


def _named_clips(clips: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> list[tuple[str, np.ndarray]]:
    items = list(clips.items()) if isinstance(clips, Mapping) else [(f"clip{i:03d}", c) for i, c in enumerate(clips)]
    if not items:
        raise EvaluationError("evaluate: no clips given")
    out = []
    for name, clip in items:
        clip = np.asarray(clip)
        if clip.ndim != 1 or clip.size == 0:
            raise AudioInputError(f"clip {name!r}: expected a non-empty 1-D 44.1 kHz signal, got shape {clip.shape}")
        if not np.issubdtype(clip.dtype, np.floating):
            raise AudioInputError(f"clip {name!r}: expected float samples, got dtype {clip.dtype}")
        if not np.isfinite(clip).all():
            raise AudioInputError(f"clip {name!r} contains NaN or Inf")
        out.append((str(name), clip.astype(np.float32)))
    return out


def _checked_output(result: np.ndarray, name: str, n: int) -> np.ndarray:
    result = np.asarray(result)
    if result.shape != (n,):
        raise EvaluationError(f"restore_fn returned shape {result.shape} for clip {name!r}; expected ({n},)")
    if not np.isfinite(result).all():
        raise EvaluationError(f"restore_fn returned NaN or Inf for clip {name!r}")
    return result.astype(np.float32)


def evaluate(
    restore_fn: RestoreFn,
    clips: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    cutoffs_hz: Sequence[float] = (4000, 8000, 12000),
    degradations: Sequence[str] = DEGRADATIONS,
    seed: int = 0,
    out_dir: str | Path = "evaluation",
    n_png: int = 3,
    vae_only_fn: RestoreFn | None = None,
    context: Mapping[str, object] | None = None,
) -> dict:
    """Score ``restore_fn(audio (samples,) float32, 44100, cutoff_hz) -> (samples,)`` on band-limited clips.

    Each 44.1 kHz reference clip is degraded per (degradation, cutoff); the input, the SBR and noise-fill
    baselines, ``vae_only_fn`` (if given, same signature) and the model are scored with LSD, LSD-HF (bins >=
    cutoff) and the high-band envelope correlation. Writes report.json, report.md and up to ``n_png``
    spectrogram PNGs (when matplotlib is installed) into ``out_dir``; ``context`` (JSON-able) is stored in
    report.json as is. Returns the report dict. The filter draw and the noise fill's phases per
    (clip, degradation, cutoff) depend on ``seed`` only.
    """
    named = _named_clips(clips)
    for kind in degradations:
        if kind not in DEGRADATIONS:
            raise ParameterError(f"unknown degradation {kind!r}; expected one of {DEGRADATIONS}")
    check_distinct(cutoffs_hz, degradations)
    rows = []
    examples: list[Example] = []
    for ci, (name, ref) in enumerate(named):
        for di, kind in enumerate(degradations):
            for ki, cutoff in enumerate(cutoffs_hz):
                cutoff = float(cutoff)
                rng = row_rng(seed, ci, di, ki)
                degraded = degrade(ref, kind, cutoff, rng)
                outputs = {
                    "input": degraded,
                    "sbr": sbr_extend(degraded, SAMPLE_RATE, cutoff),
                    "noise": noise_fill(degraded, SAMPLE_RATE, cutoff, seed=int(rng.integers(2**31))),
                }
                if vae_only_fn is not None:
                    outputs["vae_only"] = _checked_output(vae_only_fn(degraded.copy(), SAMPLE_RATE, cutoff), name, ref.size)
                outputs["model"] = _checked_output(restore_fn(degraded.copy(), SAMPLE_RATE, cutoff), name, ref.size)
                row: dict = {"clip": name, "degradation": kind, "cutoff_hz": cutoff}
                for system, audio in outputs.items():
                    for metric, value in quality(audio, ref, SAMPLE_RATE, cutoff).items():
                        row[f"{metric}_{system}"] = value
                rows.append(row)
                examples.append((f"{name}_{kind}_{int(cutoff)}Hz", {**outputs, "reference": ref}))
    picks = _spread(len(examples), n_png)
    return write_report(rows, [examples[i] for i in picks], Path(out_dir), SAMPLE_RATE, seed, context)


def check_distinct(cutoffs_hz: Sequence[float], degradations: Sequence[str]) -> None:
    """Refuse a cutoff or degradation given twice: the report groups rows by (degradation, cutoff), so the copies
    would count as more clips in one row."""
    refuse_repeats(degradations, lambda kind: f"degradation {kind!r}")
    refuse_repeats([float(c) for c in cutoffs_hz], lambda cutoff: f"cutoff {cutoff:g} Hz")


def refuse_repeats(values: Sequence[T], name: Callable[[T], str]) -> None:
    """Raise :class:`ParameterError` for the first of ``values`` given twice, named by ``name(value)``."""
    seen: set[T] = set()
    for value in values:
        if value in seen:
            raise ParameterError(f"{name(value)} is given twice; each may appear once")
        seen.add(value)


def _spread(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (all of them when k >= n)."""
    if k <= 0 or n == 0:
        return []
    if k >= n:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, k).round().astype(int).tolist()))
