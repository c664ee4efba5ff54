"""MIDI sources and rendering: music21 corpus pieces, openmsx files, generated mma songs -> fluidsynth."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from .audio import load_mono
from .midi import MidiFile, read_midi

SAMPLE_RATE = 44100
MAX_RENDER_CHANNELS = 2  # fluidsynth writes stereo files
RENDER_TIMEOUT_S = 900.0
RENDER_POLL_S = 0.1
NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
# progressions as (semitones above the key, chord quality) per bar
PROGRESSIONS = (
    ((0, ""), (7, ""), (9, "m"), (5, "")),
    ((2, "m7"), (7, "7"), (0, "maj7"), (0, "maj7")),
    ((0, ""), (5, ""), (7, "7"), (0, "")),
    ((0, "7"), (5, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"), (0, "7"), (0, "7"), (7, "7"), (5, "7"), (0, "7"), (7, "7")),
    ((0, "m"), (8, ""), (3, ""), (10, "")),
    ((0, "m7"), (5, "m7"), (10, "7"), (3, "maj7")),
)


class RenderError(RuntimeError):
    """An external tool (fluidsynth, mma, music21) failed."""


def require_tool(name: str) -> str:
    """Path of an executable, or RenderError naming the Debian package to install."""
    path = shutil.which(name)
    if path is None:
        raise RenderError(f"'{name}' not found on PATH: run training/corpus/install.sh (apt-get install {name})")
    return path


def render_midi(midi_path: Path, bank: Path, wav_path: Path, gain: float = 0.4, reverb: bool = True,
                max_seconds: float = 1800.0) -> np.ndarray:
    """Render a MIDI file with the fluidsynth CLI at 44.1 kHz -> mono float64 (samples,).

    The render is stopped, with a RenderError, once its file holds more than ``max_seconds`` of audio: a file
    whose notes or tempo make it render without end (a held note on a looping sample, a near-zero tempo) would
    otherwise fill the disk (seen: 28 GB in 5 minutes).
    """
    exe = require_tool("fluidsynth")
    cmd = [exe, "-ni", "-q", "-g", f"{gain:g}", "-r", str(SAMPLE_RATE), "-O", "float", "-T", "wav",
           "-R", "1" if reverb else "0", "-F", str(wav_path), str(bank), str(midi_path)]
    max_bytes = 4096 + max_seconds * SAMPLE_RATE * MAX_RENDER_CHANNELS * 4  # float32 frames
    with tempfile.TemporaryFile("w+") as log, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log) as proc:
        try:
            _wait_bounded(proc, wav_path, max_bytes, RENDER_TIMEOUT_S)
        except RenderError as exc:
            proc.kill()
            proc.wait()
            wav_path.unlink(missing_ok=True)
            raise RenderError(f"fluidsynth on {midi_path}: {exc}") from None
        log.seek(0)
        stderr = log.read()
    if proc.returncode != 0 or not wav_path.is_file():
        raise RenderError(f"fluidsynth failed on {midi_path} (exit {proc.returncode}): {stderr.strip()[-500:]}")
    audio, _ = load_mono(wav_path, SAMPLE_RATE)
    wav_path.unlink()
    return audio


def _wait_bounded(proc: subprocess.Popen, out_path: Path, max_bytes: float, timeout_s: float) -> None:
    """Wait for ``proc``; RenderError once ``out_path`` grows past ``max_bytes`` or after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        if out_path.is_file() and out_path.stat().st_size > max_bytes:
            raise RenderError(f"rendered more than {max_bytes / 1e6:.0f} MB: the file does not end")
        if time.monotonic() > deadline:
            raise RenderError(f"no end after {timeout_s:g} s")
        time.sleep(RENDER_POLL_S)


def music21_paths() -> list[str]:
    """Sorted paths of the music21 core corpus (raises RenderError when music21 is missing)."""
    try:
        from music21 import corpus
    except ImportError as exc:
        raise RenderError("music21 is not installed: pip install music21") from exc
    return sorted(str(p) for p in corpus.getPaths())


def music21_to_midi(piece: str, out: Path, max_seconds: float) -> MidiFile:
    """Parse a music21 corpus file and write it as MIDI to ``out`` (only its first ``max_seconds``)."""
    try:
        from music21 import converter
        from music21.midi import translate

        score = converter.parse(piece)
        mf = translate.streamToMidiFile(score)
        mf.open(str(out), "wb")
        mf.write()
        mf.close()
    except Exception as exc:  # music21 raises many exception types on odd files
        raise RenderError(f"music21 could not convert {piece}: {type(exc).__name__}: {exc}") from exc
    return read_midi(out)


def mma_grooves() -> list[str]:
    """Groove names defined in mma's standard library (no intros/endings), sorted."""
    names = set()
    for lib in (Path("/usr/share/mma/lib/stdlib"), Path("/usr/local/share/mma/lib/stdlib")):
        for f in sorted(lib.glob("*.mma")):
            for m in re.finditer(r"^\s*DefGroove\s+(\S+)", f.read_text(errors="replace"), re.M | re.I):
                if not re.search(r"intro|end|metronome|fill", m.group(1), re.I):
                    names.add(m.group(1))
    return sorted(names)


def mma_song(rng: np.random.Generator, grooves: list[str], bars: int) -> tuple[str, dict]:
    """An mma song text (random groove, key, tempo, chord progression) and its metadata."""
    groove = grooves[int(rng.integers(len(grooves)))]
    key = int(rng.integers(12))
    tempo = int(rng.integers(70, 170))
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    lines = [f"RndSeed {int(rng.integers(2**31))}", f"Tempo {tempo}", f"Groove {groove}"]  # mma's humanising is seeded
    for bar in range(bars):
        step, quality = prog[bar % len(prog)]
        lines.append(f"{bar + 1} {NOTE_NAMES[(key + step) % 12]}{quality}")
    return "\n".join(lines) + "\n", {"groove": groove, "key": NOTE_NAMES[key], "tempo": tempo}


def mma_to_midi(song: str, work: Path, name: str) -> MidiFile:
    """Run mma on a song text; the MIDI lands at work/name.mid."""
    exe = require_tool("mma")
    src = work / f"{name}.mma"
    out = work / f"{name}.mid"
    src.write_text(song)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run([exe, str(src), "-f", str(out)], capture_output=True, text=True, timeout=300, env=env)
    if proc.returncode != 0 or not out.is_file():
        raise RenderError(f"mma failed on {src} (exit {proc.returncode}): {proc.stdout[-300:]} {proc.stderr[-300:]}")
    return read_midi(out)
