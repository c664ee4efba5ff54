"""Audio files and resampling through pedalboard.io, with atomic writes."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np
from pedalboard.io import AudioFile

from .errors import AudioFileError
from .files import atomic_path
from .streaming import resample as resample_planar

WRITABLE_SUFFIXES = {".wav", ".flac", ".aiff", ".aif"}


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """(channels, samples) float32 at ``source_rate`` -> (channels, round(samples * target/source)) float32
    (the resample stage of :mod:`sagasr_stream.streaming` over the whole signal)."""
    return resample_planar(audio, source_rate, target_rate)


@contextlib.contextmanager
def open_input(path: str | os.PathLike[str], sample_rate: int | None = None) -> Iterator[tuple[object, int, int]]:
    """Open an audio file for reading at ``sample_rate`` (resampled on the fly if needed; ``None``: its own rate).

    Yields (reader, num_channels, original_rate); ``reader.read(n)`` returns (channels, <= n) float32.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"input file not found: {path}")
    try:
        handle = AudioFile(str(path))
    except Exception as exc:
        raise AudioFileError(f"cannot read audio file {path}: {decoder_message(exc, path)}") from exc
    with handle:
        rate = int(round(handle.samplerate))
        if handle.frames == 0:
            raise AudioFileError(f"audio file {path} holds no samples")
        reader = handle if sample_rate is None or rate == sample_rate else handle.resampled_to(float(sample_rate))
        yield reader, handle.num_channels, rate


def decoder_message(exc: BaseException, path: Path) -> str:
    """The decoder's message without the file name (our message names the file once)."""
    text = str(exc)
    for name in (f'file "{path}"', f'"{path}"', str(path)):
        text = text.replace(name, "the file")
    return text


def read_blocks(reader: object, block: int) -> Iterator[np.ndarray]:
    """Blocks of (channels, <= block) float32 until the reader is exhausted."""
    while True:
        chunk = reader.read(block)  # type: ignore[attr-defined]
        if chunk.shape[1] == 0:
            return
        yield np.ascontiguousarray(chunk, dtype=np.float32)


def partial_path(destination: Path) -> Path:
    """Hidden temporary name next to ``destination``, keeping its suffix so the format is known."""
    return destination.with_name(f".{destination.stem}.partial-{os.getpid()}{destination.suffix}")


@contextlib.contextmanager
def atomic_writer(destination: str | os.PathLike[str], sample_rate: int, channels: int) -> Iterator[object]:
    """Write to a temporary file beside ``destination`` and rename it into place only on success.

    WAV and AIFF are written as 32-bit float, FLAC as 24-bit. On any error the partial file is removed.
    """
    destination = Path(destination)
    suffix = destination.suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise AudioFileError(f"cannot write {destination}: output format must be one of {sorted(WRITABLE_SUFFIXES)}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(destination)
    bit_depth = 24 if suffix == ".flac" else 32
    with atomic_path(destination, tmp), AudioFile(str(tmp), "w", float(sample_rate), channels, bit_depth=bit_depth) as out:
        yield out
