"""Moving a run between machines in pieces: size limit, verification, safe extraction, exact resume."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagasr_training.cli import main
from sagasr_training.train import run
from sagasr_training.transfer import INDEX, join_pieces, pack_run

from .test_train import _cfg, _losses


def fake_run(root: Path) -> Path:
    """A run folder with the layout ``pack_run`` reads (contents are opaque bytes to it)."""
    (root / "state" / "step-00000003").mkdir(parents=True)
    (root / "state" / "step-00000001").mkdir()
    (root / "state" / "latest").write_text("step-00000003")
    (root / "state" / "step-00000003" / "state.json").write_text('{"step": 3}')
    (root / "state" / "step-00000003" / "trainable.safetensors").write_bytes(bytes(range(256)) * 40)
    (root / "state" / "step-00000001" / "state.json").write_text('{"step": 1}')  # superseded: not packed
    (root / "checkpoint").mkdir()
    (root / "checkpoint" / "model.safetensors").write_bytes(b"\x01" * 5000)
    (root / "logs").mkdir()
    (root / "logs" / "metrics.csv").write_text("step,loss\n")  # not needed to resume
    (root / "run.json").write_text("{}")
    return root


def test_pieces_respect_the_limit_and_rebuild_the_latest_state_exactly(tmp_path: Path) -> None:
    src = fake_run(tmp_path / "run")
    index = pack_run(src, tmp_path / "pieces", piece_bytes=4096)
    assert all((tmp_path / "pieces" / name).stat().st_size <= 4096 for name in index["pieces"])
    assert len(index["pieces"]) == 2 + 3 + 1 + 1 + 1  # 10240 B, 5000 B and three small files
    files = {e["path"] for e in index["files"]}
    assert files == {"run.json", "state/latest", "state/step-00000003/state.json",
                     "state/step-00000003/trainable.safetensors", "checkpoint/model.safetensors"}
    join_pieces(tmp_path / "pieces", tmp_path / "copy")
    for rel in files:
        assert (tmp_path / "copy" / rel).read_bytes() == (src / rel).read_bytes()
    join_pieces(tmp_path / "pieces", tmp_path / "copy")  # again: same content, nothing to do
    with pytest.raises(FileExistsError, match="not empty"):
        pack_run(src, tmp_path / "pieces")


def test_damaged_missing_and_unsafe_pieces_are_refused(tmp_path: Path) -> None:
    pack_run(fake_run(tmp_path / "run"), tmp_path / "p", piece_bytes=4096)
    index = json.loads((tmp_path / "p" / INDEX).read_text())
    big = next(e for e in index["files"] if len(e["pieces"]) > 1)
    piece = tmp_path / "p" / big["pieces"][1]
    data = bytearray(piece.read_bytes())
    data[7] ^= 1
    piece.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"piece {piece.name} .* damaged"):
        join_pieces(tmp_path / "p", tmp_path / "out")
    assert not list((tmp_path / "out").rglob("*.partial"))  # no half-written file left behind
    piece.unlink()
    with pytest.raises(FileNotFoundError, match=f"missing piece {piece.name}"):
        join_pieces(tmp_path / "p", tmp_path / "out2")
    for evil in ("../evil.txt", "/tmp/evil.txt", "state/../../evil.txt"):
        index["files"][0]["path"] = evil
        (tmp_path / "p" / INDEX).write_text(json.dumps(index))
        with pytest.raises(ValueError, match="unsafe path"):
            join_pieces(tmp_path / "p", tmp_path / "out3")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out3").exists()


def test_a_damaged_piece_is_found_before_any_file_of_the_run_is_replaced(tmp_path: Path) -> None:
    """``unpack --overwrite`` onto an older run with one damaged piece: it used to replace the files before the
    damaged one (checkpoint, run.json) and stop there, leaving state/latest naming the old state: a mixed run."""
    pack_run(fake_run(tmp_path / "run"), tmp_path / "p", piece_bytes=4096)
    old = fake_run(tmp_path / "old")
    (old / "checkpoint" / "model.safetensors").write_bytes(b"\x02" * 5000)
    (old / "run.json").write_text('{"old": true}')
    before = {p: p.read_bytes() for p in old.rglob("*") if p.is_file()}
    last = sorted(json.loads((tmp_path / "p" / INDEX).read_text())["pieces"])[-1]
    (tmp_path / "p" / last).write_bytes(b"damaged")
    with pytest.raises(ValueError, match="is damaged.*nothing was written"):
        join_pieces(tmp_path / "p", old, overwrite=True)
    assert {p: p.read_bytes() for p in old.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("damage", [
    lambda index: index.pop("files"),
    lambda index: index.update(pieces=["x"]),
    lambda index: index["files"][0].pop("sha256"),
    lambda index: index["files"][0].update(pieces="00000.part"),
    lambda index: index["files"][0].update(size="5000"),
])
def test_a_damaged_index_is_named_not_a_traceback(tmp_path: Path, damage) -> None:
    pack_run(fake_run(tmp_path / "run"), tmp_path / "p", piece_bytes=4096)
    index = json.loads((tmp_path / "p" / INDEX).read_text())
    damage(index)
    (tmp_path / "p" / INDEX).write_text(json.dumps(index))
    with pytest.raises(ValueError, match=f"{INDEX}: damaged index"):
        join_pieces(tmp_path / "p", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_run_packed_on_one_machine_resumes_exactly_on_another(audio_dir: Path, tmp_path: Path) -> None:
    """Train 2 steps, pack (tiny pieces), unpack elsewhere, train on to step 4: steps 2-3 have the losses of an
    uninterrupted 4-step run. Through the CLI, as on the GPU machine and here."""
    straight = tmp_path / "straight"
    run("diffusion", _cfg(audio_dir, straight, max_steps=4))
    there = tmp_path / "gpu_run"
    run("diffusion", _cfg(audio_dir, there, max_steps=2))
    assert main(["pack", str(there), "-o", str(tmp_path / "pieces"), "--piece-mib", "0.25"]) == 0
    assert max(p.stat().st_size for p in (tmp_path / "pieces").glob("*.part")) <= 256 * 1024
    here = tmp_path / "here"
    assert main(["unpack", str(tmp_path / "pieces"), "-o", str(here)]) == 0
    run("diffusion", _cfg(audio_dir, here, max_steps=4))
    a, b = _losses(straight), _losses(here)
    assert sorted(b) == [2, 3]
    for k in b:
        assert b[k] == pytest.approx(a[k], rel=1e-5, abs=1e-7), (k, a, b)
    assert main(["unpack", str(tmp_path / "nothing"), "-o", str(here)]) == 2


def test_unpack_onto_other_content_names_the_commands_flag(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`sagasr-train unpack` told its user to "pass overwrite=True", a Python argument, not the --overwrite flag."""
    pack_run(fake_run(tmp_path / "run"), tmp_path / "p", piece_bytes=4096)
    other = fake_run(tmp_path / "other")
    (other / "run.json").write_text('{"other": true}')
    assert main(["unpack", str(tmp_path / "p"), "-o", str(other)]) == 2
    assert "exists with other content (--overwrite replaces it)" in capsys.readouterr().err
