"""`sagasr-train mix`: one training set linked from several corpora, with each clip's own caption."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagasr_training.captions import CaptionStore
from sagasr_training.cli import main
from sagasr_training.corpus.split import assign_split, group_fraction
from sagasr_training.mix_sets import Holdout, MixSource, mix_sets, read_groups, source_clips, untrained_groups


def _corpus_build(folder: Path, names: list[str], split: str = "train", groups: list[str] | None = None) -> Path:
    """A corpus builder's layout: clips/ and manifest.json (one validation clip besides ``names``)."""
    (folder / "clips").mkdir(parents=True)
    groups = groups or [f"music21:{n}" for n in names]
    clips = [{"path": f"clips/{n}", "caption": f"caption of {folder.name} {n}", "split": split, "group": g}
             for n, g in zip(names, groups)]
    clips.append({"path": "clips/held_out.flac", "caption": "held out", "split": "validation"})
    for c in clips:
        (folder / c["path"]).write_bytes(b"")
    (folder / "manifest.json").write_text(json.dumps({"clips": clips[::-1]}))  # any order: sorted by path
    return folder


def _file_list(folder: Path, names: list[str]) -> Path:
    """The GPU copy's layout: clips/, train.txt (its own order) and captions.jsonl."""
    (folder / "clips").mkdir(parents=True)
    for n in names:
        (folder / "clips" / n).write_bytes(b"")
    (folder / "train.txt").write_text("".join(f"clips/{n}\n" for n in names))
    (folder / "captions.jsonl").write_text("".join(json.dumps({"path": f"clips/{n}", "caption": n.upper()}) + "\n"
                                                   for n in names))
    return folder


def test_mix_links_every_stride_th_training_clip_with_its_caption(tmp_path: Path) -> None:
    gpu = _file_list(tmp_path / "gpu", ["b.flac", "a.flac"])
    bank = _corpus_build(tmp_path / "bank", ["03.flac", "01.flac", "02.flac", "00.flac"])
    out = tmp_path / "mixed"
    assert mix_sets(out, [MixSource("fl", gpu), MixSource("ms", bank, stride=2)]) == 4
    names = (out / "train.txt").read_text().split()
    assert names == ["clips/fl_b.flac", "clips/fl_a.flac", "clips/ms_00.flac", "clips/ms_02.flac"]
    assert (out / "clips" / "ms_02.flac").resolve() == (bank / "clips" / "02.flac").resolve()
    store = CaptionStore(out / "captions.jsonl", out)
    assert [store.get(out / n) for n in names] == ["B.FLAC", "A.FLAC", "caption of bank 00.flac",
                                                   "caption of bank 02.flac"]


def test_hold_out_leaves_out_the_pieces_another_seed_validates(tmp_path: Path) -> None:
    groups = [f"openmsx:piece_{i}" for i in range(40)]
    held = {g for g, split in assign_split(groups, seed=0, validation_fraction=0.2).items() if split == "validation"}
    held_by_hash = {g for g in groups if group_fraction(g, 0) < 0.2}
    assert held_by_hash and held_by_hash <= held  # the hash rule; the per-kind guarantee is not needed here
    names = [f"{i:02d}.flac" for i in range(40)]
    bank = _corpus_build(tmp_path / "bank", names, groups=groups)
    gpu = _file_list(tmp_path / "gpu", ["a.flac"])  # no groups: taken as listed
    out = tmp_path / "mixed"
    count = mix_sets(out, [MixSource("fl", gpu), MixSource("ms", bank)], Holdout(seed=0, fraction=0.2))
    kept = (out / "train.txt").read_text().split()
    expected = ["clips/fl_a.flac"] + [f"clips/ms_{n}" for n, g in zip(names, groups) if g not in held_by_hash]
    assert kept == expected and count == len(expected) == 41 - len(held_by_hash)
    assert any(Holdout(1, 0.2).holds(g) != Holdout(0, 0.2).holds(g) for g in groups)  # the seed matters
    old = _corpus_build(tmp_path / "old", ["x.flac"])
    manifest = json.loads((old / "manifest.json").read_text())
    for clip in manifest["clips"]:
        clip.pop("group", None)  # a manifest without groups: nothing to hold out, taken as listed
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert mix_sets(tmp_path / "old_mix", [MixSource("o", old)], Holdout(seed=0, fraction=0.99)) == 1
    with pytest.raises(ValueError, match="hold-out fraction"):
        Holdout(0, 0.0)


def test_excluded_groups_are_left_out_wherever_they_come_from(tmp_path: Path) -> None:
    bank = _corpus_build(tmp_path / "bank", ["a.flac", "b.flac", "c.flac"],
                         groups=["music21:bach", "openmsx:x", "kit:GMRockKit"])
    listing = tmp_path / "groups.txt"
    listing.write_text("# the evaluation sets' pieces\nmusic21:bach\n\nkit:GMRockKit  # hits\nmma:absent\n")
    assert read_groups(listing) == {"music21:bach", "kit:GMRockKit", "mma:absent"}
    gpu = _file_list(tmp_path / "gpu", ["g.flac"])  # a file list has no groups: taken as listed
    assert mix_sets(tmp_path / "m", [MixSource("b", bank), MixSource("g", gpu)], exclude=read_groups(listing)) == 2
    assert (tmp_path / "m" / "train.txt").read_text().split() == ["clips/b_b.flac", "clips/g_g.flac"]
    assert main(["mix", str(tmp_path / "c"), f"b={bank}", "--exclude-groups", str(listing)]) == 0
    assert (tmp_path / "c" / "train.txt").read_text().split() == ["clips/b_b.flac"]


def test_untrained_groups_are_those_of_the_clips_no_training_set_used(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus_build(tmp_path / "corpus", ["a.flac", "b.flac", "c.flac"],
                           groups=["music21:bach", "openmsx:x", "music21:bach"])
    other = _corpus_build(tmp_path / "ms7", ["a.flac"], groups=["mma:1"])
    trained = _file_list(tmp_path / "carried", ["a.flac", "b.flac"]) / "clips"
    assert untrained_groups(corpus, trained) == {"music21:bach"}  # c.flac's piece, though a.flac's was trained on
    assert untrained_groups(corpus) == {"music21:bach", "openmsx:x"}  # the validation clip has no group here
    out = tmp_path / "groups.txt"
    assert main(["untrained-groups", f"{corpus}:{trained}", str(other), "-o", str(out)]) == 0
    assert read_groups(out) == {"music21:bach", "mma:1"} and "2 groups" in capsys.readouterr().out
    assert main(["untrained-groups", str(tmp_path / "carried"), "-o", str(out)]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_mix_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bank = _corpus_build(tmp_path / "bank", ["x.flac", "y.flac"])
    assert main(["mix", str(tmp_path / "m"), f"b={bank}:1"]) == 0
    assert "2 clips" in capsys.readouterr().out
    assert main(["mix", str(tmp_path / "m"), f"b={bank}"]) == 2  # not into a folder with a set in it
    assert "not empty" in capsys.readouterr().err
    assert main(["mix", str(tmp_path / "h"), f"b={bank}", "--hold-out-seed", "0", "--hold-out-fraction", "0.5"]) == 0
    assert (tmp_path / "h" / "train.txt").read_text().split() == ["clips/b_x.flac"]  # y's piece: hash 0.31 < 0.5
    assert main(["mix", str(tmp_path / "e"), f"b={bank}", "--hold-out-seed", "0", "--hold-out-fraction", "0.9"]) == 2
    assert "no clips left" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [("bank", "PREFIX=FOLDER"), ("a-b=x", "PREFIX=FOLDER"),
                                           ("a=", "PREFIX=FOLDER"), ("a=x:0", "stride")])
def test_mix_source_text_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MixSource.parse(text)


def test_mix_source_text() -> None:
    assert MixSource.parse("ms=data/ms9:2") == MixSource("ms", Path("data/ms9"), 2)
    assert MixSource.parse("ms=C:/data/ms9") == MixSource("ms", Path("C:/data/ms9"), 1)


def test_mix_refuses_what_it_cannot_mix(tmp_path: Path) -> None:
    bank = _corpus_build(tmp_path / "bank", ["x.flac"])
    with pytest.raises(ValueError, match="distinct prefixes"):
        mix_sets(tmp_path / "m1", [MixSource("a", bank), MixSource("a", bank)])
    with pytest.raises(FileNotFoundError, match="neither a corpus manifest.json nor a train.txt"):
        source_clips(tmp_path)
    held = _corpus_build(tmp_path / "held", ["v.flac"], split="validation")
    with pytest.raises(ValueError, match="no clips of the training split"):
        source_clips(held)
    gpu = _file_list(tmp_path / "gpu", ["a.flac"])
    (gpu / "captions.jsonl").write_text("")
    with pytest.raises(ValueError, match="no caption for clips/a.flac"):
        source_clips(gpu)
    (bank / "clips" / "x.flac").unlink()
    with pytest.raises(FileNotFoundError, match="x.flac: listed, but not a file"):
        mix_sets(tmp_path / "m2", [MixSource("a", bank)])
