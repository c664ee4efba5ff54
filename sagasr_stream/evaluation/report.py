"""Evaluation report files: report.json, report.md (mean LSD / LSD-HF table) and spectrogram PNGs."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..dsp import stft

SYSTEMS = ("input", "baseline", "model")
METRICS = ("lsd", "lsd_hf")

Example = tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # name, input, baseline, model, reference


def summarize(rows: Sequence[dict]) -> list[dict]:
    """Mean over clips of every metric, per (degradation, cutoff), in first-seen order."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["degradation"], row["cutoff_hz"]), []).append(row)
    summary = []
    for (kind, cutoff), members in groups.items():
        entry = {"degradation": kind, "cutoff_hz": cutoff, "n_clips": len(members)}
        for metric in METRICS:
            for system in SYSTEMS:
                key = f"{metric}_{system}"
                entry[key] = float(np.mean([m[key] for m in members]))
        summary.append(entry)
    return summary


def markdown_table(summary: Sequence[dict]) -> str:
    """The report table: one row per (degradation, cutoff); LSD and LSD-HF for input, baseline, model."""
    head = ["degradation", "cutoff (Hz)", "clips"] + [f"{m.upper().replace('_', '-')} {s}" for m in METRICS for s in SYSTEMS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in summary:
        cells = [e["degradation"], f"{e['cutoff_hz']:g}", str(e["n_clips"])]
        cells += [f"{e[f'{m}_{s}']:.3f}" for m in METRICS for s in SYSTEMS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(rows: Sequence[dict], examples: Sequence[Example], out_dir: Path, sample_rate: int, seed: int) -> dict:
    """Write report.json, report.md and spectrogram PNGs of ``examples`` into ``out_dir``; return the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    pngs = write_spectrograms(examples, out_dir, sample_rate)
    report = {
        "sample_rate": sample_rate,
        "seed": seed,
        "metric": "log-spectral distance (log10 power, STFT n_fft 2048 hop 512); LSD-HF: bins >= cutoff",
        "summary": summary,
        "clips": list(rows),
        "spectrograms": [p.name for p in pngs],
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    md = ["# Evaluation report", "", f"Mean over clips; lower is better. Seed {seed}, {sample_rate} Hz.", ""]
    md.append(markdown_table(summary))
    if pngs:
        md += ["", "## Spectrograms (input | baseline | model | reference)", ""]
        md += [f"![{p.stem}]({p.name})" for p in pngs]
    (out_dir / "report.md").write_text("\n".join(md) + "\n")
    return report


def write_spectrograms(examples: Sequence[Example], out_dir: Path, sample_rate: int) -> list[Path]:
    """One PNG per example with four panels side by side; [] when matplotlib is not installed."""
    if not examples:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    titles = ("input", "baseline (SBR)", "model", "reference")
    for name, *signals in examples:
        fig, axes = plt.subplots(1, 4, figsize=(16, 4), sharey=True)
        for ax, title, audio in zip(axes, titles, signals):
            db = 10 * np.log10(np.abs(stft(np.asarray(audio, dtype=np.float64))) ** 2 + 1e-10)
            duration = audio.shape[-1] / sample_rate
            ax.imshow(db, origin="lower", aspect="auto", vmin=db.max() - 100, vmax=db.max(),
                      extent=(0, duration, 0, sample_rate / 2000), cmap="magma")
            ax.set_title(title)
            ax.set_xlabel("time (s)")
        axes[0].set_ylabel("frequency (kHz)")
        fig.suptitle(name)
        fig.tight_layout()
        path = out_dir / f"spectrogram_{_safe(name)}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
