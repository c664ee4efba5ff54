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
from .headroom import SoftLimiter
from .integrity import check_audio_file
from .model import SagaSRModel
from .processor import ChunkedProcessor
from .rates import ExactLengthResampler, choose_output_rate, describe_rates, exact_length, fit_length
from .settings import ResolvedSettings, RestoreSettings, resolve
from .stereo import signals_per_window, stereo_window_fn
from .validation import Layout, check_sample_rate, from_channels_first, prepare_audio

FILE_BLOCK = 1 << 16


def offline_processor(
    model: SagaSRModel,
    settings: ResolvedSettings,
    channels: int,
    on_windows: Callable[[int], None] | None = None,
    band_limit_hz: float | None = None,
) -> ChunkedProcessor:
    """The processor offline restoration uses: windows grouped to fill ``settings.batch_size`` per DiT call.
    ``band_limit_hz``: the input's known bandwidth (a lower source rate's Nyquist); band edges stay below it."""
    plan = WindowPlan(settings.window, settings.overlap)
    restorer = stereo_window_fn(WindowRestorer(model, settings, band_limit_hz), channels)
    signals = signals_per_window(channels, settings.stereo)  # what the model restores per window index
    per_call = max(1, -(-settings.batch_size // signals))  # enough windows to fill a batch
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
    (44.1 kHz) first (its band then ends at the source's Nyquist at most) and restored there; the output is at
    ``output_rate`` (default: the input's rate when it is >= 44.1 kHz, else 44.1 kHz) with exactly
    ``round(samples * output_rate / sample_rate)`` samples, in the input's layout, float32. The input is kept
    up to its band edge; full-band windows pass unchanged.
    """
    rate = check_sample_rate(sample_rate)
    planar, layout = prepare_audio(audio, layout)
    model = model or SagaSRModel.load()
    target = model.manifest.sample_rate
    out_rate = choose_output_rate(output_rate, rate, target)
    samples = planar.shape[1]
    out = restore_planar(resample(planar, rate, target), model, settings, source_band_limit(rate, target))
    if out_rate != target:
        out = fit_length(resample(out, target, out_rate), exact_length(samples, rate, out_rate))
    return from_channels_first(out, layout)


def source_band_limit(source_rate: float, model_rate: int) -> float | None:
    """The band limit (Hz) a source rate puts on resampled audio: its Nyquist when below the model's."""
    return source_rate / 2 if source_rate < model_rate else None


def restore_planar(
    planar: np.ndarray, model: SagaSRModel, settings: RestoreSettings | None, band_limit_hz: float | None = None
) -> np.ndarray:
    """Restore (channels, samples) float32 at the model's rate -> same shape; ``band_limit_hz`` as in
    :func:`offline_processor`."""
    resolved = resolve(settings or RestoreSettings(), model.manifest)
    processor = offline_processor(model, resolved, planar.shape[0], band_limit_hz=band_limit_hz)
    return np.concatenate([processor.push(planar), processor.finish()], axis=1)


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
    WAV/AIFF are 32-bit float and keep every value; FLAC is 24-bit, so peaks above -1 dBFS are soft-limited
    (:mod:`sagasr_stream.headroom`) and a warning says how many samples were bent.
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
        processor = offline_processor(model, resolved, channels, on_windows, source_band_limit(rate, sr))
        rerate = ExactLengthResampler(sr, out_rate, channels, exact_length(source_frames, rate, out_rate))
        limiter = SoftLimiter() if destination.suffix.lower() == ".flac" else None  # integer samples
        with atomic_writer(destination, out_rate, channels) as writer:

            def emit(out: np.ndarray) -> None:
                writer.write(limiter(out) if limiter else out)  # type: ignore[attr-defined]

            for block in _model_rate_blocks(reader, source, model_frames, channels):
                if not np.isfinite(block).all():
                    raise AudioFileError(f"{source} holds NaN/Inf samples")
                emit(rerate.process(processor.push(block)))
            emit(rerate.process(processor.finish()))
            emit(rerate.finish())
    if limiter:
        limiter.report(destination)
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
