"""The shared file utilities: SHA-256, the path-inside check and atomic writes (nothing half-written is left)."""
from __future__ import annotations

import hashlib
import os

import pytest

from sagasr_stream import bundle
from sagasr_stream.files import (atomic_path, atomic_write_bytes, atomic_write_text, path_inside, sha256_file,
                                 temporary_name)


def test_sha256_file_matches_hashlib_across_blocks(tmp_path):
    data = os.urandom((1 << 20) + 123)  # more than one 1 MiB block
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    assert bundle.sha256_file is sha256_file and bundle.path_inside is path_inside  # still importable from there


def test_path_inside_refuses_traversal_and_absolute_names(tmp_path):
    assert path_inside(tmp_path, "a/b.txt") == (tmp_path / "a" / "b.txt").resolve()
    assert path_inside(tmp_path, "../x") is None
    assert path_inside(tmp_path, "a/../../x") is None
    assert path_inside(tmp_path, str(tmp_path / "abs")) is None


def test_atomic_writes_replace_the_file_and_leave_nothing_else(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    atomic_write_text(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["out.json"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_atomic_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, error):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(error):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            assert tmp.parent == tmp_path and tmp.name.startswith(".sagasr-") and tmp.name.endswith(".tmp")
            raise error()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_path_with_a_chosen_temporary_name(tmp_path):
    target, tmp_name = tmp_path / "a.wav", tmp_path / ".a.partial.wav"
    with atomic_path(target, tmp_name) as tmp:
        assert tmp == tmp_name
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x" and not tmp_name.exists()


def test_the_temporary_name_does_not_grow_with_the_name(tmp_path):
    short, long = tmp_path / "a.json", tmp_path / ("b" * 250 + ".json")
    assert len(temporary_name(short).name) == len(temporary_name(long).name) < 50
    assert temporary_name(short) != temporary_name(short)  # unique per call
    atomic_write_text(long, "x")  # a 255-byte name fits, so does its temporary
    assert os.listdir(tmp_path) == [long.name]


def test_atomic_folder_replaces_the_folder_whole_or_not_at_all(tmp_path) -> None:
    from sagasr_stream.files import atomic_folder

    target = tmp_path / "bundle"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"] and (target / "old.txt").is_file()
    with atomic_folder(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"] and [p.name for p in target.iterdir()] == ["new.txt"]


def test_a_link_planted_at_a_chosen_temporary_name_is_not_written_through(tmp_path):
    """``sagasr-train unpack`` and every audio output write through a temporary name that can be guessed
    (``.NAME.partial``, ``.sagasr-HASH.partial-PID.wav``): a symbolic link put there made the write land in its
    target, and the output end up a link."""
    victim, target, tmp_name = tmp_path / "victim.txt", tmp_path / "a.bin", tmp_path / ".a.bin.partial"
    victim.write_bytes(b"keep me")
    tmp_name.symlink_to(victim)
    with atomic_path(target, tmp_name) as tmp:
        tmp.write_bytes(b"new")
    assert victim.read_bytes() == b"keep me"
    assert target.read_bytes() == b"new" and not target.is_symlink() and not tmp_name.exists()


def test_a_destination_below_a_file_fails_with_the_write_error_not_the_cleanup_error(tmp_path):
    """``-o song.wav/out.wav``: the write's own error comes out, naming the destination; removing the temporary
    file that could not be made used to raise NotADirectoryError naming our hidden temporary file instead."""
    import numpy as np

    from sagasr_stream import AudioFileError
    from sagasr_stream.audio_io import atomic_writer

    (tmp_path / "song.wav").write_bytes(b"a file, not a folder")
    with pytest.raises(AudioFileError, match=r"cannot write .*song.wav/out.wav"):
        with atomic_writer(tmp_path / "song.wav" / "out.wav", 44100, 1) as writer:
            writer.write(np.zeros((1, 10), np.float32))
    with pytest.raises(ZeroDivisionError):
        with atomic_path(tmp_path / "song.wav" / "x.txt"):
            1 / 0
