"""Offline API: restore an array or a file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from .audio_io import atomic_writer, open_input, read_blocks, resample
from .chunking import WindowPlan
from .engine import WindowRestorer
from .errors import AudioFileError
from .model import SagaSRModel
from .processor import ChunkedProcessor
from .settings import ResolvedSettings, RestoreSettings, resolve
from .validation import Layout, check_sample_rate, from_channels_first, prepare_audio

FILE_BLOCK = 1 << 16


def offline_processor(
    model: SagaSRModel, settings: ResolvedSettings, channels: int, on_windows: Callable[[int], None] | None = None
) -> ChunkedProcessor:
    """The processor offline restoration uses: windows grouped to fill ``settings.batch_size`` per DiT call."""
    plan = WindowPlan(settings.window, settings.overlap)
    restorer = WindowRestorer(model, settings)
    per_call = max(1, -(-settings.batch_size // channels))  # enough windows to fill a batch
    return ChunkedProcessor(restorer, plan, channels, per_call, on_windows)


def restore(
    audio: np.ndarray,
    sample_rate: int,
    model: SagaSRModel | None = None,
    settings: RestoreSettings | None = None,
    layout: Layout | None = None,
) -> np.ndarray:
    """Restore the top band of ``audio``.

    ``audio``: float32/float64, (samples,), (channels, samples) or (samples, channels) (the smaller dimension
    is channels; pass ``layout`` for a square array). Input at another rate is resampled to the model's rate
    (44.1 kHz) first; the output is at the model's rate, in the input's layout, float32.
    """
    rate = check_sample_rate(sample_rate)
    planar, layout = prepare_audio(audio, layout)
    model = model or SagaSRModel.load()
    resolved = resolve(settings or RestoreSettings(), model.manifest)
    planar = resample(planar, rate, model.manifest.sample_rate)
    processor = offline_processor(model, resolved, planar.shape[0])
    out = np.concatenate([processor.push(planar), processor.finish()], axis=1)
    return from_channels_first(out, layout)


def restore_file(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    model: SagaSRModel | None = None,
    settings: RestoreSettings | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Restore an audio file into ``destination`` (.wav/.flac/.aiff) at the model's rate.

    Reads and writes incrementally (memory does not grow with the file's length) and writes atomically.
    Refuses to overwrite ``source``; refuses an existing ``destination`` unless ``overwrite``.
    ``progress(done_windows, total_windows)`` is called as windows finish.
    """
    source, destination = Path(source), Path(destination)
    if destination.exists() and source.exists() and destination.resolve() == source.resolve():
        raise AudioFileError(f"refusing to overwrite the input file {source}")
    if destination.exists() and not overwrite:
        raise AudioFileError(f"output exists: {destination} (pass overwrite=True / --force to replace it)")
    model = model or SagaSRModel.load()
    resolved = resolve(settings or RestoreSettings(), model.manifest)
    sr = model.manifest.sample_rate
    with open_input(source, sr) as (reader, channels, _rate):
        total_frames = int(round(reader.frames))  # type: ignore[attr-defined]
        total_windows = WindowPlan(resolved.window, resolved.overlap).n_windows(total_frames)
        done = 0

        def on_windows(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(min(done, total_windows), total_windows)

        processor = offline_processor(model, resolved, channels, on_windows)
        with atomic_writer(destination, sr, channels) as writer:
            for block in read_blocks(reader, FILE_BLOCK):
                if not np.isfinite(block).all():
                    raise AudioFileError(f"{source} holds NaN/Inf samples")
                writer.write(processor.push(block))  # type: ignore[attr-defined]
            writer.write(processor.finish())  # type: ignore[attr-defined]
    return destination
