"""The five choice sets on which default-model candidates are chosen (model card, "Tried after v3.5"), in one call.

    python benchmarks/choice_sets.py --model BUNDLE --out OUT --corpus CORPUS --used .gpu/corpus/clips \\
        --set ms7=MS7:40 --set avl11=AVL11:30 [--against REF_OUT]

Per set, the mean LSD of the six rows (filters and resample at 4 / 8 / 12 kHz), each set's result kept in OUT (a
rerun skips what is there):
- ``unseen``: 40 training-split clips of CORPUS that no training stage used (``benchmarks/sbr_blend.py --used``);
- ``tuning``: the tuning split of ``tests/data/validation_clips`` (``sagasr eval --split tuning``);
- ``selection``: the seven selection clips of CORPUS (``sagasr eval --split all --clip-seconds 6``);
- each ``--set NAME=FOLDER:CLIPS``: the first CLIPS clips of a generalisation set (``benchmarks/generalisation.md``).
With ``--against REF_OUT`` (the same sets for the model a candidate must beat): each set's relative change and
their mean, the score of the choice rule. The sets' clips were never used to train; the test split is not among
them.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SELECTION = ["000043_00", "000043_01", "000043_02", "000050_00", "000061_00", "000061_01", "000061_02"]
EVAL_FLAGS = ["--degradations", "resample", "filters", "--cutoffs", "4000", "8000", "12000", "--pngs", "0"]
BLEND = "0.25:9"


def sbr_blend_mean(report: Path) -> float:
    """Mean LSD of the settings row of a ``benchmarks/sbr_blend.py`` report."""
    for line in report.read_text().splitlines():
        if line.startswith(f"| {BLEND} "):
            return float(line.split("|")[2])
    raise ValueError(f"{report}: no row for {BLEND}")


def eval_mean(out: Path) -> float:
    """Mean LSD of the model over the rows of a ``sagasr eval`` report."""
    rows = json.loads((out / "report.json").read_text())["summary"]
    return sum(r["lsd_model"] for r in rows) / len(rows)


def run_sets(args: argparse.Namespace) -> dict[str, float]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    blend = [sys.executable, str(HERE / "sbr_blend.py"), "--seconds", "6", "--settings", BLEND, "--model", args.model]
    scores: dict[str, float] = {}

    def blend_set(name: str, corpus: str, clips: int, used: list[str]) -> None:
        report = out / f"{name}.txt"
        if not report.is_file():
            text = subprocess.run([*blend, "--corpus", corpus, "--clips", str(clips), *used], check=True,
                                  capture_output=True, text=True).stdout
            report.write_text(text)
        scores[name] = sbr_blend_mean(report)

    def eval_set(name: str, clips: list[str], split: list[str]) -> None:
        target = out / name
        if not (target / "report.json").is_file():
            subprocess.run(["sagasr", "eval", *clips, *split, "--model", args.model, "-o", str(target), *EVAL_FLAGS],
                           check=True, capture_output=True)
        scores[name] = eval_mean(target)

    blend_set("unseen", args.corpus, 40, ["--used", args.used])
    eval_set("tuning", [str(ROOT / "tests/data/validation_clips")], ["--split", "tuning"])
    eval_set("selection", [f"{args.corpus}/clips/{c}.flac" for c in SELECTION], ["--split", "all", "--clip-seconds", "6"])
    for spec in args.set:
        name, _, rest = spec.partition("=")
        folder, _, clips = rest.rpartition(":")
        if not name or not folder or not clips.isdigit():
            raise SystemExit(f"--set {spec!r}: expected NAME=FOLDER:CLIPS")
        blend_set(name, folder, int(clips), [])
    return scores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="candidate bundle folder")
    p.add_argument("--out", required=True, help="folder for each set's report (reused on a rerun)")
    p.add_argument("--corpus", required=True, help="the corpus build of the training data (seed 0)")
    p.add_argument("--used", required=True, help="folder of the clips the training stages used")
    p.add_argument("--set", action="append", default=[], help="NAME=FOLDER:CLIPS, a generalisation set")
    p.add_argument("--against", help="OUT of the model to beat: relative changes and their mean")
    args = p.parse_args()
    scores = run_sets(args)
    (Path(args.out) / "scores.json").write_text(json.dumps(scores, indent=1) + "\n")
    reference = json.loads((Path(args.against) / "scores.json").read_text()) if args.against else {}
    changes = []
    print("| set | mean LSD |" + (" reference | change |" if reference else ""))
    print("|---|---|" + ("---|---|" if reference else ""))
    for name, value in scores.items():
        row = f"| {name} | {value:.4f} |"
        if name in reference:
            changes.append(value / reference[name] - 1)
            row += f" {reference[name]:.4f} | {100 * changes[-1]:+.1f} % |"
        print(row)
    if changes:
        better = sum(c < 0 for c in changes)
        print(f"\nmean change {100 * sum(changes) / len(changes):+.2f} %, better on {better} of {len(changes)} sets")


if __name__ == "__main__":
    main()
