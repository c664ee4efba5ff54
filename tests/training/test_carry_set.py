"""`sagasr-train carry`: a corpus's training clips, one per piece or kit in turn, as 16-bit FLAC within a budget."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from sagasr_training.captions import CaptionStore
from sagasr_training.carry_set import carry_order, carry_set
from sagasr_training.cli import main

SR = 44100


def _corpus(folder: Path, groups: dict[str, int], seconds: float = 0.5) -> Path:
    """A corpus build's layout: ``count`` 24-bit clips of noise per group, one validation clip, and manifest.json."""
    (folder / "clips").mkdir(parents=True)
    clips, rng = [], np.random.default_rng(0)
    for group, count in groups.items():
        for k in range(count):
            clips.append({"path": f"clips/{group}_{k}.flac", "caption": f"{group} take {k}", "split": "train",
                          "group": group})
    clips.append({"path": "clips/held.flac", "caption": "held", "split": "validation", "group": "held"})
    for clip in clips:
        with AudioFile(str(folder / clip["path"]), "w", SR, 1, bit_depth=24) as f:
            f.write((0.1 * rng.standard_normal((1, int(seconds * SR)))).astype(np.float32))
    (folder / "manifest.json").write_text(json.dumps({"clips": clips}))
    return folder


def test_the_order_takes_one_clip_per_group_in_turn_from_the_training_split_only() -> None:
    clips = [{"path": f"{g}{k}", "split": "train", "group": g} for g, n in (("a", 3), ("b", 1), ("c", 2))
             for k in range(n)] + [{"path": "v", "split": "validation", "group": "v"}]
    order = [c["path"] for c in carry_order(clips, seed=0)]
    first_round = order[:3]
    assert sorted(first_round) == ["a0", "b0", "c0"]
    assert sorted(order[3:5]) == ["a1", "c1"] and order[5] == "a2"
    assert [c[0] for c in order[3:5]] == [c[0] for c in first_round if c != "b0"]  # the same group order each round
    assert "v" not in order and len(order) == 6
    assert carry_order(clips, seed=0) == carry_order(clips, seed=0)
    assert {tuple(c["path"] for c in carry_order(clips, seed=s))[:3] for s in range(8)} != {tuple(first_round)}


def test_the_copies_stop_once_past_the_budget_as_16_bit_flac_with_captions(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus", {"x": 3, "y": 3})
    out = tmp_path / "carried"
    count, size = carry_set(corpus, out, max_mb=0.0, seed=0)
    assert count == 1 and size > 0                       # the clip that passes the budget is kept, then it stops
    every, total = carry_set(corpus, tmp_path / "all", max_mb=100.0, seed=0)
    assert every == 6 and total == sum(p.stat().st_size for p in (tmp_path / "all" / "clips").iterdir())
    listed = (tmp_path / "all" / "train.txt").read_text().split()
    assert listed == [c["path"] for c in carry_order(json.loads((corpus / "manifest.json").read_text())["clips"])]
    store = CaptionStore(tmp_path / "all" / "captions.jsonl", tmp_path / "all")
    assert store.get(tmp_path / "all" / listed[0]) == f"{Path(listed[0]).stem.rsplit('_', 1)[0]} take 0"
    with AudioFile(str(tmp_path / "all" / listed[0])) as f:
        assert f.file_dtype == "int16" and f.samplerate == SR
        copy = f.read(f.frames)
    with AudioFile(str(corpus / listed[0])) as f:
        np.testing.assert_allclose(copy, f.read(f.frames), atol=1.5 / 32768)


def test_the_command_line(tmp_path: Path, capsys) -> None:
    corpus = _corpus(tmp_path / "corpus", {"x": 1, "y": 2})
    assert main(["carry", str(corpus), "-o", str(tmp_path / "out"), "--max-mb", "100", "--seed", "3"]) == 0
    assert "3 clips" in capsys.readouterr().out
    assert len((tmp_path / "out" / "train.txt").read_text().split()) == 3
