"""Ogg Vorbis channel order against an independent decoder and encoder (ffmpeg).

A 5.1 FLAC with one tone per channel (WAV order: FL 300, FR 500, FC 700, LFE 90, BL 1100, BR 1300 Hz) is restored
to ``.ogg`` by ``sagasr restore`` and decoded by ffmpeg; ffmpeg's own 5.1 Ogg (libvorbis) of the same file is restored
to FLAC by ``sagasr restore``. Each channel's strongest tone below 2 kHz must be its own in both. ffmpeg is not a
dependency: give its path (e.g. the binary in the ``imageio-ffmpeg`` wheel).

    python benchmarks/ogg_channel_check.py --ffmpeg /path/to/ffmpeg [--work DIR]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

SR = 44100
TONES = {"FL": 300, "FR": 500, "FC": 700, "LFE": 90, "BL": 1100, "BR": 1300}  # WAV's 5.1 order


def strongest_tones(path: Path) -> list[int]:
    """Each channel's strongest frequency (Hz, rounded) below 2 kHz."""
    with AudioFile(str(path)) as f:
        audio, rate = f.read(f.frames), f.samplerate
    freqs = np.fft.rfftfreq(audio.shape[1], 1 / rate)
    low = freqs < 2000
    return [int(round(freqs[low][np.argmax(np.abs(np.fft.rfft(ch))[low])])) for ch in audio]


def run(ffmpeg: str, work: Path) -> dict[str, list[int]]:
    t = np.arange(2 * SR) / SR
    with AudioFile(str(work / "in51.flac"), "w", SR, 6, bit_depth=24) as f:
        f.write(np.stack([0.2 * np.sin(2 * np.pi * hz * t) for hz in TONES.values()]).astype(np.float32))
    sagasr = [sys.executable, "-m", "sagasr_stream", "restore"]
    quiet = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(sagasr + [str(work / "in51.flac"), "-o", str(work / "ours.ogg")], check=True)
    subprocess.run(quiet + ["-i", str(work / "ours.ogg"), "-c:a", "pcm_f32le", str(work / "ours_by_ffmpeg.wav")],
                   check=True)
    subprocess.run(quiet + ["-i", str(work / "in51.flac"), "-c:a", "libvorbis", "-q:a", "8", str(work / "theirs.ogg")],
                   check=True)
    subprocess.run(sagasr + [str(work / "theirs.ogg"), "-o", str(work / "theirs_by_us.flac")], check=True)
    return {"our .ogg, decoded by ffmpeg": strongest_tones(work / "ours_by_ffmpeg.wav"),
            "ffmpeg's .ogg, restored by sagasr": strongest_tones(work / "theirs_by_us.flac")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ffmpeg", required=True, help="path of an ffmpeg binary with libvorbis")
    p.add_argument("--work", type=Path, help="folder for the files (default: a temporary one)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = run(args.ffmpeg, work)
    expected = list(TONES.values())
    for name, tones in results.items():
        print(f"{name}: {tones} ({'each on its speaker' if tones == expected else 'WRONG, expected ' + str(expected)})")
    return 0 if all(t == expected for t in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
