"""Synthetic audio folders for the training tests (written with pedalboard; nothing downloaded)."""
from __future__ import annotations

from pathlib import Path

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("lightning") is not None:
    # Lightning's log handler keeps the sys.stderr of its import: imported inside a test that captures stderr
    # (capsys), it wrote to that closed capture in later tests ("--- Logging error ---" in their stderr)
    import lightning.pytorch  # noqa: F401


def write_audio(path: Path, x: np.ndarray, sr: int) -> Path:
    """x (channels, n) float32 -> audio file."""
    from pedalboard.io import AudioFile

    path.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(path), "w", sr, x.shape[0]) as f:
        f.write(x.astype(np.float32))
    return path


def tone_clip(sr: int, channels: int, seconds: float, f0: float, seed: int) -> np.ndarray:
    """Harmonic tone + a little noise: broadband content up to Nyquist. (channels, n) float32."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    x = sum(0.2 / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) for k in range(1, 40) if f0 * k < sr / 2)
    x = x + 0.02 * rng.standard_normal(n)
    return np.stack([x * (1.0 - 0.3 * c) for c in range(channels)]).astype(np.float32)


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 clips at 22.05/48/44.1 kHz, mono and stereo, in sub-folders, + one silent file."""
    root = tmp_path_factory.mktemp("audio")
    write_audio(root / "piano" / "piano_a.wav", tone_clip(48000, 2, 3.2, 220.0, 0), 48000)
    write_audio(root / "piano" / "piano_b.flac", tone_clip(22050, 2, 3.2, 330.0, 1), 22050)
    write_audio(root / "guitar" / "strum_c.wav", tone_clip(44100, 1, 3.2, 196.0, 2), 44100)
    write_audio(root / "guitar" / "strum_d.wav", tone_clip(48000, 1, 3.2, 147.0, 3), 48000)
    write_audio(root / "silence" / "quiet.wav", np.zeros((1, 48000 * 2), np.float32), 48000)
    return root
