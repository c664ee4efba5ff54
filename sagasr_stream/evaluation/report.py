"""Evaluation report files: report.json, report.md (the tables) and spectrogram PNGs.

Per (degradation, cutoff) the summary holds the mean over clips of every metric of every system, and the
model's standing against the baselines: per-clip win rates and % margins against the better of SBR and the
noise fill, and the LSD-HF gain over VAE-only. Extra studies (guidance, steps sweep) are added as sections.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..dsp import stft
from ..files import atomic_path, atomic_write_text

SYSTEMS = ("input", "sbr", "noise", "vae_only", "model")
SYSTEM_TITLES = {"input": "input", "sbr": "SBR", "noise": "noise fill", "vae_only": "VAE-only", "model": "model",
                 "reference": "reference"}
METRICS = ("lsd", "lsd_hf", "env")
METRIC_TITLES = {"lsd": "LSD (full band, lower is better)", "lsd_hf": "LSD-HF (above the cutoff, lower is better)",
                 "env": "Envelope correlation above the cutoff (10 ms frames, higher is better)"}
METRIC_NOTES = {"env": "Timing, not level: a band tens of dB too quiet (see LSD-HF; e.g. the input's filter "
                        "transition band) still scores high if it follows the rhythm; a steady haze scores near 0; "
                        "energies below -60 dB of the clip's mean frame energy count as silence."}
DSP_BASELINES = ("sbr", "noise")  # "the best baseline" of the margins and win rates

Example = tuple[str, Mapping[str, np.ndarray]]  # name, {system or "reference": (samples,)}


def systems_in(rows: Sequence[dict]) -> list[str]:
    """The systems scored in ``rows``, in table order."""
    return [s for s in SYSTEMS if rows and f"lsd_{s}" in rows[0]]


def _pct_below(value: float, reference: float) -> float:
    """How far ``value`` lies below ``reference``, in % of ``reference`` (negative: above)."""
    return float(100.0 * (reference - value) / reference) if reference else float("nan")


def verdict(members: Sequence[dict]) -> dict[str, object]:
    """The model against the baselines over one group of clips (rows of one degradation and cutoff).

    - ``best_baseline_<m>``: the better (lower mean) of SBR and noise fill under metric m (lsd, lsd_hf);
    - ``margin_<m>_pct``: % by which the model's mean lies below that baseline's mean (positive = better);
    - ``win_rate_<m>``: share of clips where the model's score is below min(SBR, noise fill) on that clip;
    - ``dit_gain_lsd_hf_pct``: % by which the model's mean LSD-HF lies below VAE-only's (when scored);
    - ``env_model_minus_sbr``: mean envelope correlation of the model minus SBR's.
    """
    out: dict[str, object] = {}
    for m in ("lsd", "lsd_hf"):
        means = {b: float(np.mean([r[f"{m}_{b}"] for r in members])) for b in DSP_BASELINES}
        best = min(means, key=means.__getitem__)
        model = float(np.mean([r[f"{m}_model"] for r in members]))
        out[f"best_baseline_{m}"] = best
        out[f"margin_{m}_pct"] = _pct_below(model, means[best])
        out[f"win_rate_{m}"] = float(np.mean([r[f"{m}_model"] < min(r[f"{m}_{b}"] for b in DSP_BASELINES) for r in members]))
    if "lsd_hf_vae_only" in members[0]:
        out["dit_gain_lsd_hf_pct"] = _pct_below(float(np.mean([r["lsd_hf_model"] for r in members])),
                                                 float(np.mean([r["lsd_hf_vae_only"] for r in members])))
    out["env_model_minus_sbr"] = float(np.mean([r["env_model"] - r["env_sbr"] for r in members]))
    return out


def summarize(rows: Sequence[dict]) -> list[dict]:
    """Per (degradation, cutoff), in first-seen order: mean over clips of every metric of every system and the
    model's :func:`verdict`."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["degradation"], row["cutoff_hz"]), []).append(row)
    systems = systems_in(rows)
    summary = []
    for (kind, cutoff), members in groups.items():
        entry: dict = {"degradation": kind, "cutoff_hz": cutoff, "n_clips": len(members)}
        for metric in METRICS:
            for system in systems:
                entry[f"{metric}_{system}"] = float(np.mean([m[f"{metric}_{system}"] for m in members]))
        if "model" in systems:
            entry.update(verdict(members))
        summary.append(entry)
    return summary


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def markdown_table(summary: Sequence[dict]) -> str:
    """One table per metric (rows: degradation, cutoff; columns: systems), then the model's verdict table."""
    if not summary:
        return ""
    systems = [s for s in SYSTEMS if f"lsd_{s}" in summary[0]]
    parts = []
    for metric in METRICS:
        head = ["degradation", "cutoff (Hz)", "clips"] + [SYSTEM_TITLES[s] for s in systems]
        rows = [[e["degradation"], f"{e['cutoff_hz']:g}", str(e["n_clips"])] + [f"{e[f'{metric}_{s}']:.3f}" for s in systems]
                for e in summary]
        note = METRIC_NOTES.get(metric, "")
        parts.append(f"### {METRIC_TITLES[metric]}\n\n" + (note + "\n\n" if note else "") + _table(head, rows))
    if "model" in systems:
        head = ["degradation", "cutoff (Hz)", "best baseline (LSD)", "margin LSD %", "margin LSD-HF %",
                "win rate LSD", "win rate LSD-HF", "LSD-HF below VAE-only %", "ENV model - SBR"]
        rows = [[e["degradation"], f"{e['cutoff_hz']:g}", SYSTEM_TITLES[e["best_baseline_lsd"]],
                 f"{e['margin_lsd_pct']:+.1f}", f"{e['margin_lsd_hf_pct']:+.1f}", f"{e['win_rate_lsd']:.0%}",
                 f"{e['win_rate_lsd_hf']:.0%}",
                 f"{e['dit_gain_lsd_hf_pct']:+.1f}" if "dit_gain_lsd_hf_pct" in e else "-",
                 f"{e['env_model_minus_sbr']:+.3f}"] for e in summary]
        parts.append("### The model against the baselines\n\nMargins: % below the better of SBR and noise fill "
                     "(mean over clips; positive = model better). Win rate: share of clips where the model scores "
                     "below both SBR and noise fill.\n\n" + _table(head, rows))
    return "\n".join(parts)


def write_report(rows: Sequence[dict], examples: Sequence[Example], out_dir: Path, sample_rate: int, seed: int,
                 context: Mapping[str, object] | None = None) -> dict:
    """Write report.json, report.md and spectrogram PNGs of ``examples`` into ``out_dir``; return the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    previous = _previous_spectrograms(out_dir)
    pngs = write_spectrograms(examples, out_dir, sample_rate)
    report = {
        "sample_rate": sample_rate,
        "seed": seed,
        "metric": "LSD: log-spectral distance (log10 power, STFT n_fft 2048 hop 512); LSD-HF: bins >= cutoff; "
                  "env: correlation of the log energy envelope above the cutoff (1024-sample Hann frames, 10 ms hop)",
        "systems": systems_in(rows),
        **dict(context or {}),
        "summary": summary,
        "clips": list(rows),
        "spectrograms": [p.name for p in pngs],
    }
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=2))
    md = ["# Evaluation report", "", f"Mean over clips. Seed {seed}, {sample_rate} Hz.", ""]
    if context and "split" in context:
        md += [_split_line(context["split"]), ""]  # type: ignore[arg-type]
    md.append(markdown_table(summary))
    if pngs:
        titles = " | ".join(SYSTEM_TITLES[k] for k in examples[0][1])
        md += ["", f"## Spectrograms ({titles})", ""]
        md += [f"![{p.stem}]({p.name})" for p in pngs]
    elif examples:  # pictures were asked for, and write_spectrograms found no matplotlib
        md += ["", "No spectrograms: matplotlib is not installed (pip install \"matplotlib>=3.7\", the eval extra)."]
    atomic_write_text(out_dir / "report.md", "\n".join(md) + "\n")
    for name in previous - {p.name for p in pngs}:  # a rerun: the earlier report's pictures of other clips
        (out_dir / name).unlink(missing_ok=True)
    return report


def _previous_spectrograms(out_dir: Path) -> set[str]:
    """The spectrogram PNGs the report.json already in ``out_dir`` lists (none when absent or unreadable)."""
    try:
        names = json.loads((out_dir / "report.json").read_text(encoding="utf-8")).get("spectrograms", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {n for n in names if isinstance(n, str) and n == Path(n).name and n.startswith("spectrogram_")
            and n.endswith(".png")} if isinstance(names, list) else set()


def _split_line(split: Mapping[str, object]) -> str:
    names = split.get("clips", [])
    return (f"Split: **{split.get('name')}** ({len(names)} clips: {', '.join(names)}). "  # type: ignore[arg-type]
            f"{split.get('rule', '')}.")


def add_section(out_dir: Path, key: str, data: object, markdown: str) -> None:
    """Add ``data`` under ``key`` to report.json and append ``markdown`` to report.md (both rewritten atomically)."""
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    report[key] = data
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=2))
    md = (out_dir / "report.md").read_text(encoding="utf-8")
    atomic_write_text(out_dir / "report.md", md.rstrip("\n") + "\n\n" + markdown.rstrip("\n") + "\n")


def write_spectrograms(examples: Sequence[Example], out_dir: Path, sample_rate: int) -> list[Path]:
    """One PNG per example with a panel per signal, side by side; [] when matplotlib is not installed."""
    if not examples:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    for name, signals in examples:
        fig, axes = plt.subplots(1, len(signals), figsize=(4 * len(signals), 4), sharey=True)
        for ax, (key, audio) in zip(np.atleast_1d(axes), signals.items()):
            db = 10 * np.log10(np.abs(stft(np.asarray(audio, dtype=np.float64))) ** 2 + 1e-10)
            duration = audio.shape[-1] / sample_rate
            ax.imshow(db, origin="lower", aspect="auto", vmin=db.max() - 100, vmax=db.max(),
                      extent=(0, duration, 0, sample_rate / 2000), cmap="magma")
            ax.set_title(SYSTEM_TITLES.get(key, key))
            ax.set_xlabel("time (s)")
        np.atleast_1d(axes)[0].set_ylabel("frequency (kHz)")
        fig.suptitle(name)
        fig.tight_layout()
        path = out_dir / f"spectrogram_{_safe(name)}.png"
        try:
            with atomic_path(path) as tmp:  # an interrupted write leaves no half picture under the PNG's name
                fig.savefig(tmp, dpi=80, format="png")
        finally:
            plt.close(fig)
        paths.append(path)
    return paths


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
