"""Helpers shared by the examples: pick a model, make a synthetic band-limited input file."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import numpy as np
from pedalboard.io import AudioFile

from sagasr_stream import SagaSRModel
from sagasr_stream.model import DEFAULT_BUNDLE_DIR

MIN_SYNTHETIC_SECONDS = 0.1  # the synthetic input's zero-phase low-pass needs this much


def load_model(path: str | None, provider: str = "auto") -> SagaSRModel:
    """``path`` if given; else the embedded default model; else a tiny untrained test bundle (and say so).

    ``provider``: ONNX Runtime provider, ``auto``, ``cpu`` or ``cuda``.
    """
    if path:
        return SagaSRModel.load(path, provider=provider)
    if (DEFAULT_BUNDLE_DIR / "manifest.json").is_file():
        return SagaSRModel.load(provider=provider)
    from sagasr_stream.testing import build_tiny_bundle

    folder = Path(tempfile.mkdtemp(prefix="sagasr-tiny-")) / "bundle"
    print(
        f"NOTE: no embedded default model in this installation and no --model given: using a tiny UNTRAINED "
        f"test bundle built in {folder}. It exercises the pipeline but restores nothing meaningful.",
        file=sys.stderr,
    )
    return SagaSRModel.load(build_tiny_bundle(folder), provider=provider)


def synthetic_input(path: Path, seconds: float, sample_rate: int = 44100, cutoff_hz: float = 5000.0, channels: int = 2) -> Path:
    """Write ``seconds`` of a chord plus noise, low-passed at ``cutoff_hz`` (no top band), to ``path``."""
    from scipy import signal

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tones = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate([220.0, 330.0, 440.0, 660.0, 1320.0]))
    audio = np.stack([tones + 0.1 * rng.standard_normal(t.shape) for _ in range(channels)])
    sos = signal.cheby1(8, 0.1, min(cutoff_hz, 0.45 * sample_rate), fs=sample_rate, output="sos")
    audio = signal.sosfiltfilt(sos, audio, axis=-1)
    audio = (0.4 * audio / np.abs(audio).max()).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(path), "w", sample_rate, channels, bit_depth=24) as f:
        f.write(audio)
    print(f"wrote synthetic band-limited input {path} ({seconds:g} s, {channels} ch, {sample_rate} Hz, cut at {cutoff_hz:g} Hz)")
    return path


def fail(message: str) -> NoReturn:
    """End the example as the ``sagasr`` command does on a bad argument: one ``error:`` line, exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def input_or_synthetic(path: str | None, out_dir: Path, seconds: float, sample_rate: int = 44100) -> Path:
    """The given input file, or a synthetic one written into a fresh temporary folder (never into ``out_dir``
    or the current folder, where examples would overwrite each other's inputs). A missing input file or a length
    under :data:`MIN_SYNTHETIC_SECONDS` ends the example with one ``error:`` line (exit 2)."""
    if path:
        if not Path(path).is_file():
            fail(f"input file {path} does not exist or is not a file")
        return Path(path)
    if not seconds >= MIN_SYNTHETIC_SECONDS:
        fail(f"--seconds must be at least {MIN_SYNTHETIC_SECONDS:g} (the synthetic input's length), got {seconds:g}")
    folder = Path(tempfile.mkdtemp(prefix="sagasr-example-input-"))
    return synthetic_input(folder / "synthetic_input.wav", seconds, sample_rate)
