"""`sagasr-train carry`: a corpus's training clips, one per piece or kit in turn, as 16-bit FLAC within a budget."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
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


def _training_set(folder: Path, count: int, seconds: float = 1.0) -> Path:
    """A `sagasr-train mix` folder's layout: clips listed in train.txt with their captions."""
    rng = np.random.default_rng(1)
    (folder / "clips").mkdir(parents=True)
    paths = [f"clips/take_{k}.flac" for k in range(count)]
    for path in paths:
        with AudioFile(str(folder / path), "w", SR, 1, bit_depth=24) as f:
            f.write((0.1 * rng.standard_normal((1, int(seconds * SR)))).astype(np.float32))
    (folder / "train.txt").write_text("".join(f"{p}\n" for p in reversed(paths)))  # the listing's order, not the names'
    (folder / "captions.jsonl").write_text("".join(json.dumps({"path": p, "caption": f"take {k}"}) + "\n"
                                                   for k, p in enumerate(paths)))
    return folder


def test_parts_split_the_listed_clips_in_order_within_each_budget_cut_to_the_asked_length(tmp_path: Path) -> None:
    from sagasr_training.carry_set import carry_parts

    source = _training_set(tmp_path / "set", 5)
    out = tmp_path / "parts"
    sizes = carry_parts(source, out, [1e-6, 100.0], max_seconds=0.5)
    assert {part: count for part, (count, _) in sizes.items()} == {"a": 1, "b": 4}  # a's first clip passes its budget
    listed = (source / "train.txt").read_text().split()
    assert (out / "train.txt").read_text().split() == listed
    assert [p.relative_to(out / "a").as_posix() for p in (out / "a" / "clips").iterdir()] == listed[:1]
    assert sorted(p.relative_to(out / "b").as_posix() for p in (out / "b" / "clips").iterdir()) == sorted(listed[1:])
    for part, (count, size) in sizes.items():
        assert size == sum(p.stat().st_size for p in (out / part / "clips").iterdir())
    store = CaptionStore(out / "captions.jsonl", out)
    assert store.get(out / listed[0]) == "take 4"
    with AudioFile(str(out / "a" / listed[0])) as f:
        assert f.file_dtype == "int16" and f.frames == SR // 2
        copy = f.read(f.frames)
    with AudioFile(str(source / listed[0])) as f:
        np.testing.assert_allclose(copy, f.read(SR // 2), atol=1.5 / 32768)


def test_parts_too_small_for_the_set_are_an_error_naming_what_did_not_fit(tmp_path: Path, capsys) -> None:
    from sagasr_training.carry_set import carry_parts

    source = _training_set(tmp_path / "set", 3)
    with pytest.raises(ValueError, match="2 of 3 clips do not fit"):
        carry_parts(source, tmp_path / "parts", [1e-6])
    assert main(["carry-parts", str(source), "-o", str(tmp_path / "ok"), "--part-mb", "100", "1"]) == 0
    assert "ok/a: 3 clips" in capsys.readouterr().out and not (tmp_path / "ok" / "b").exists()
    assert main(["carry-parts", str(source), "-o", str(tmp_path / "bad"), "--part-mb", "1", "--max-seconds", "0"]) == 2
    assert "max_seconds must be > 0" in capsys.readouterr().err
