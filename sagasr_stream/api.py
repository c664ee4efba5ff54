"""Offline API: restore an array or a file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .audio_io import atomic_writer, open_input, read_blocks, resample
from .chunking import WindowPlan
from .engine import WindowRestorer
from .errors import AudioFileError
from .integrity import check_audio_file
from .model import SagaSRModel
from .processor import ChunkedProcessor
from .rates import ExactLengthResampler, choose_output_rate, describe_rates, exact_length, fit_length
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
    output_rate: int | None = None,
) -> np.ndarray:
    """Restore the top band of ``audio``.

    ``audio``: float32/float64, (samples,), (channels, samples) or (samples, channels) (the smaller dimension
    is channels; pass ``layout`` for a square array). Input at another rate is resampled to the model's rate
    (44.1 kHz) and restored there; the output is at ``output_rate`` (default: the input's rate when it is
    >= 44.1 kHz, else 44.1 kHz) with exactly ``round(samples * output_rate / sample_rate)`` samples, in the
    input's layout, float32.
    """
    rate = check_sample_rate(sample_rate)
    planar, layout = prepare_audio(audio, layout)
    model = model or SagaSRModel.load()
    resolved = resolve(settings or RestoreSettings(), model.manifest)
    out_rate = choose_output_rate(output_rate, rate, model.manifest.sample_rate)
    samples = planar.shape[1]
    planar = resample(planar, rate, model.manifest.sample_rate)
    processor = offline_processor(model, resolved, planar.shape[0])
    out = np.concatenate([processor.push(planar), processor.finish()], axis=1)
    if out_rate != model.manifest.sample_rate:
        out = fit_length(resample(out, model.manifest.sample_rate, out_rate), exact_length(samples, rate, out_rate))
    return from_channels_first(out, layout)


def restore_file(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    model: SagaSRModel | None = None,
    settings: RestoreSettings | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    output_rate: int | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Restore an audio file into ``destination`` (.wav/.flac/.aiff).

    The file is checked first (a damaged, truncated or undecodable file raises :class:`AudioFileError`
    naming it, see :mod:`sagasr_stream.integrity`), restored at the model's rate and written at
    ``output_rate`` (default: the input's rate when it is >= 44.1 kHz, else 44.1 kHz) with exactly
    ``round(frames * output_rate / input_rate)`` frames. ``log`` receives one line on what happens to the rate.
    Reads and writes incrementally (memory does not grow with the file's length) and writes atomically.
    Refuses to overwrite ``source``; refuses an existing ``destination`` unless ``overwrite``.
    ``progress(done_windows, total_windows)`` is called once before the first window and as windows finish.
    """
    source, destination = Path(source), Path(destination)
    if destination.exists() and source.exists() and destination.resolve() == source.resolve():
        raise AudioFileError(f"refusing to overwrite the input file {source}")
    if destination.exists() and not overwrite:
        raise AudioFileError(f"output exists: {destination} (pass overwrite=True / --force to replace it)")
    model = model or SagaSRModel.load()
    resolved = resolve(settings or RestoreSettings(), model.manifest)
    sr = model.manifest.sample_rate
    with open_input(source, sr) as (reader, channels, rate):
        source_frames = check_audio_file(source)
        out_rate = choose_output_rate(output_rate, rate, sr)
        if log:
            log(f"{source.name}: {source_frames / rate:.2f} s, {describe_rates(rate, sr, out_rate)}")
        model_frames = exact_length(source_frames, rate, sr)
        total_windows = WindowPlan(resolved.window, resolved.overlap).n_windows(model_frames)
        done = 0

        def on_windows(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(min(done, total_windows), total_windows)

        if progress:
            progress(0, total_windows)
        processor = offline_processor(model, resolved, channels, on_windows)
        rerate = ExactLengthResampler(sr, out_rate, channels, exact_length(source_frames, rate, out_rate))
        with atomic_writer(destination, out_rate, channels) as writer:
            for block in _model_rate_blocks(reader, source, model_frames, channels):
                if not np.isfinite(block).all():
                    raise AudioFileError(f"{source} holds NaN/Inf samples")
                writer.write(rerate.process(processor.push(block)))  # type: ignore[attr-defined]
            writer.write(rerate.process(processor.finish()))  # type: ignore[attr-defined]
            writer.write(rerate.finish())  # type: ignore[attr-defined]
    return destination


def _model_rate_blocks(reader: object, source: Path, length: int, channels: int) -> Iterator[np.ndarray]:
    """The file at the model's rate in blocks, exactly ``length`` frames in all (a resampler's short tail is
    zero-padded, an overshoot cut); a decoder error raises :class:`AudioFileError` naming ``source``."""
    fed = 0
    blocks = read_blocks(reader, FILE_BLOCK)
    while fed < length:
        try:
            block = next(blocks, None)
        except Exception as exc:  # the decoder's own error types
            raise AudioFileError(f"{source} is damaged: decoding failed after {fed} frames ({exc})") from exc
        if block is None:
            break
        block = block[:, : length - fed]
        fed += block.shape[1]
        yield block
    if fed < length:
        yield np.zeros((channels, length - fed), np.float32)
