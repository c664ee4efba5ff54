"""Make examples/audio/example_16k.flac: 6.2 s of a synthetic plucked melody with bright harmonics, rendered at
44.1 kHz and then band-limited the way old recordings are (resampled to 16 kHz, so nothing above 8 kHz).

    python examples/make_example_audio.py [--out PATH]

It reproduces the committed file sample for sample (tests/test_examples.py checks it).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from sagasr_stream.audio_io import resample

RATE = 44100


def pluck(freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A harmonic tone with a decaying, brightness-dependent envelope (partials up to 20 kHz)."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for k in range(1, int(20000 / freq) + 1):
        out += rng.uniform(0.5, 1.0) / k**0.8 * np.exp(-t * (2.0 + 0.6 * k)) * np.sin(2 * np.pi * k * freq * t + rng.uniform(0, 6.28))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "audio" / "example_16k.flac")
    out = parser.parse_args().out
    rng = np.random.default_rng(7)
    notes = [220.0, 277.2, 329.6, 440.0, 329.6, 277.2, 246.9, 329.6, 392.0, 493.9, 392.0, 329.6]
    audio = np.zeros(int(6.2 * RATE))
    for i, f in enumerate(notes):
        start = int(i * 0.5 * RATE)
        tone = pluck(f, 1.2, rng)
        audio[start : start + len(tone)] += tone[: len(audio) - start]
    hats = rng.standard_normal(len(audio)) * np.exp(-((np.arange(len(audio)) % int(0.25 * RATE)) / RATE) * 40)
    audio = audio + 0.3 * hats
    audio = (0.5 * audio / np.abs(audio).max()).astype(np.float32)[None]
    low = resample(audio, RATE, 16000)
    out.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(out), "w", 16000, 1, bit_depth=16) as f:
        f.write(low)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
