"""End-to-end builds: drums only (synthetic kits, always runs) and one fluidsynth render (when installed)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from sagasr_training.corpus.build import BuildConfig, build
from sagasr_training.corpus.midi import Event, MidiFile, write_midi
from sagasr_training.corpus.sf2 import sine_bank, write_sf2


def _config(out, kit_root, workers, seed=7):
    return BuildConfig(out=out, hours=30 / 3600, seed=seed, workers=workers, clip_seconds=2.0, max_clips_per_piece=4,
                       sources=("drums",), kit_roots=(kit_root,), audio_format="flac")


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "clips").iterdir())}


def test_drums_only_build_writes_corpus_and_is_deterministic(tmp_path, kit_root):
    m1 = build(_config(tmp_path / "a", kit_root, workers=1), log=lambda *_: None)
    m2 = build(_config(tmp_path / "b", kit_root, workers=2), log=lambda *_: None)
    assert m1["clips"] == m2["clips"] and _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert m1["stats"]["seconds"] >= 30 and m1["stats"]["clips"] == 15
    # every listed clip exists, is 44.1 kHz mono of the right length, and has a caption
    from pedalboard.io import AudioFile

    captions = [json.loads(line) for line in (tmp_path / "a" / "captions.jsonl").read_text().splitlines()]
    assert [c["path"] for c in captions] == [c["path"] for c in m1["clips"]]
    for c in captions:
        with AudioFile(str(tmp_path / "a" / c["path"])) as f:
            assert (f.samplerate, f.num_channels, f.frames) == (44100, 1, 88200)
        assert "kit" in c["caption"] and "BPM" in c["caption"]
    # split by kit: all clips of a kit on one side, both sides present
    sides = {c["group"]: set() for c in m1["clips"]}
    for c in m1["clips"]:
        sides[c["group"]].add(c["split"])
    assert all(len(s) == 1 for s in sides.values())
    assert {next(iter(s)) for s in sides.values()} == {"train", "validation"}
    assert set(m1["groups"]) == {"kit:Kit A", "kit:Kit B"}
    files = {r["file"].rsplit("/", 1)[-1]: r["kept"] for k in m1["inputs"]["kits"] for r in k["files"]}
    assert files["dull.wav"] is False and files["kick_hard.wav"] is True
    assert len(list((tmp_path / "a" / "clips").iterdir())) == 15  # extra clips were removed
    # another seed gives another corpus; rerunning over an existing corpus needs --overwrite
    build(_config(tmp_path / "c", kit_root, workers=1, seed=8), log=lambda *_: None)
    assert _digest(tmp_path / "c") != _digest(tmp_path / "a")
    with pytest.raises(FileExistsError, match="overwrite"):
        build(_config(tmp_path / "a", kit_root, workers=1), log=lambda *_: None)


def test_cli_reports_bad_arguments(tmp_path, kit_root):
    proc = subprocess.run([sys.executable, "-m", "sagasr_training.corpus", "build", "--out", str(tmp_path / "o"),
                           "--hours", "-1", "--sources", "drums", "--kits", str(kit_root)], capture_output=True, text=True)
    assert proc.returncode == 2 and "--hours must be positive" in proc.stderr


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth CLI not installed (apt-get install fluidsynth)")
def test_fluidsynth_renders_a_two_second_midi_through_a_synthesized_bank(tmp_path):
    from sagasr_training.corpus.render import render_midi
    from sagasr_training.corpus.probe import probe_programs

    bank = write_sf2(sine_bank({(0, 5): 44100}, seconds=0.5), tmp_path / "bank.sf2")
    events = [Event(0, 0xC0, bytes([5])), Event(0, 0x90, bytes([69, 110])), Event(1800, 0x80, bytes([69, 0]))]
    midi = write_midi(MidiFile(480, [[Event(0, 0xFF, b"\x51" + (500_000).to_bytes(3, "big"))] + events]), tmp_path / "a.mid")
    audio = render_midi(midi, bank, tmp_path / "out.wav", reverb=False)
    assert 1.8 * 44100 < audio.size < 4 * 44100
    assert not (tmp_path / "out.wav").exists()
    spectrum = np.abs(np.fft.rfft(audio[: 44100]))
    assert abs(np.argmax(spectrum) * 44100 / 44100 - 440) < 3  # the A4 sine sample at its root key
    # a plain sine has no top band: the preset probe rejects it
    assert probe_programs(bank, [5])[5]["ok"] is False


def test_a_render_that_does_not_end_is_stopped_with_a_clear_error(tmp_path, monkeypatch):
    # a stand-in fluidsynth that writes its -F file without end (as a held note on a looping sample can)
    fake = tmp_path / "bin" / "fluidsynth"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "-F" ]; do shift; done\nexec cat /dev/zero > "$2"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    from sagasr_training.corpus.render import RenderError, render_midi

    out = tmp_path / "render.wav"
    started = time.monotonic()
    with pytest.raises(RenderError, match="piece.mid: rendered more than 1 MB: the file does not end"):
        render_midi(tmp_path / "piece.mid", tmp_path / "bank.sf2", out, max_seconds=2.0)
    assert time.monotonic() - started < 30
    assert not out.exists()


def test_a_midi_job_without_a_prepared_bank_reports_it(tmp_path):
    # MIDI jobs render through the SoundFont that prepare() puts in the context; a context without one fails
    # the job with an error that says so (it used to reach fluidsynth as the soundfont path "None")
    from sagasr_training.corpus.config import Context
    from sagasr_training.corpus.jobs import run_job

    events = [Event(0, 0xC0, bytes([5])), Event(0, 0x90, bytes([69, 110])), Event(1800, 0x80, bytes([69, 0]))]
    piece = write_midi(MidiFile(480, [events]), tmp_path / "piece.mid")
    ctx = Context(BuildConfig(out=tmp_path / "out", hours=0.01, sources=("openmsx",)), melodic=[5])
    result = run_job(ctx, {"index": 3, "kind": "openmsx", "seed": 0, "piece": str(piece)})
    assert result["clips"] == []
    assert result["error"] is not None and "openmsx job 3: no SoundFont" in result["error"]


def test_a_clip_under_a_folder_named_tilde_is_written_where_python_puts_it(tmp_path, monkeypatch):
    """The corpus writer gave pedalboard the raw path, whose file layer reads a leading "~" as the home folder: the
    partial file went to $HOME and the rename from ./~ (Python's reading) failed. Now it is written into ./~."""
    from pedalboard.io import AudioFile

    from sagasr_training.corpus.audio import load_mono, write_audio

    home, cwd = tmp_path / "home", tmp_path / "cwd"
    (cwd / "~").mkdir(parents=True)
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    x = np.array([0.5, -0.25, 0.125, 0.0], np.float32)
    write_audio("~/clip.flac", x)
    assert os.listdir(home) == [] and os.listdir(cwd / "~") == ["clip.flac"]
    with AudioFile(str(cwd / "~" / "clip.flac")) as f:
        np.testing.assert_allclose(f.read(4)[0], x, atol=2**-22)
    np.testing.assert_allclose(load_mono("~/clip.flac")[0], x, atol=2**-22)
