"""Partial files left by killed runs are removed on the next run: only ours, only of dead processes."""
import os
import subprocess
import sys

from pedalboard.io import AudioFile

from sagasr_stream.cli import main
from sagasr_stream.partials import process_is_running, remove_stale_partials
from tests.conftest import band_limited_noise


def dead_pid() -> int:
    """The PID of a process that has exited (a simulated kill -9 victim)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_our_partials_of_dead_processes_are_removed(tmp_path):
    dead, live = dead_pid(), os.getppid()
    assert not process_is_running(dead) and process_is_running(live) and process_is_running(os.getpid())
    stale = [tmp_path / f".a.partial-{dead}.wav", tmp_path / f".b c.partial-{dead}.flac"]
    kept = [
        tmp_path / f".a.partial-{live}.wav",  # a run that is writing now
        tmp_path / f".a.partial-{os.getpid()}.wav",  # this very process
        tmp_path / f"a.partial-{dead}.wav",  # not hidden: not our name
        tmp_path / f".a.partial-{dead}.txt",  # not an audio suffix we write
        tmp_path / f".a.partial-x{dead}.wav",
        tmp_path / "a.wav",
    ]
    for path in stale + kept:
        path.write_bytes(b"x")
    assert sorted(remove_stale_partials(tmp_path)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in kept)


def test_the_next_cli_run_cleans_up_after_a_killed_one(tiny_bundle, tmp_path, capsys):
    src = tmp_path / "in.wav"
    with AudioFile(str(src), "w", 44100, 1) as f:
        f.write(band_limited_noise(5000, channels=1))
    out = tmp_path / "out"
    out.mkdir()
    leftover = out / f".in.partial-{dead_pid()}.wav"  # what kill -9 during a write leaves
    leftover.write_bytes(b"RIFF....")
    assert main(["upsample", str(src), "-o", str(out), "--model", str(tiny_bundle)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["in.wav"]
    assert f"removed {leftover}" in capsys.readouterr().err
