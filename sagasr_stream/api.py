"""Offline API: restore an array or a file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .audio_io import (
    AudioReader, atomic_writer, check_finite_block, check_writable, open_input, read_blocks, speaker_mask,
)
from .errors import AudioFileError, OutputExistsError
from .formats import check_output_layout, check_output_rate, output_bit_depth, output_quality
from .integrity import check_audio_file
from .model import SagaSRModel
from .quantization import file_grid_step, grid_step, resampled_floor
from .rates import choose_output_rate, describe_rates
from .restorer import Restorer
from .settings import RestoreSettings
from .source_rate import SourceRateRestore
from .streaming import ResampleStage, Series, Stream, exact_length, run_whole
from .validation import (
    Layout, check_bool, check_callback, check_path, check_sample_rate, from_channels_first, prepare_audio,
)

FILE_BLOCK = 1 << 16


def restore(
    audio: np.ndarray,
    sample_rate: float,
    model: SagaSRModel | Restorer | None = None,
    settings: RestoreSettings | None = None,
    layout: Layout | None = None,
    output_rate: float | None = None,
) -> np.ndarray:
    """Restore the top band of ``audio``.

    ``audio``: float32/float64, (samples,), (channels, samples) or (samples, channels) (the smaller dimension
    is channels; pass ``layout`` for a square array). ``model``: a :class:`~sagasr_stream.restorer.Restorer`,
    or a model (with ``settings``); ``None``: the embedded default model, loaded and verified anew on each call (to
    restore many arrays, load it once: ``Restorer.load()``). Input at another rate is resampled to the model's rate
    (44.1 kHz) first (its band then ends at the source's Nyquist at most) and restored there; the output is at
    ``output_rate`` (default: the input's rate when it is >= 44.1 kHz, else 44.1 kHz) with exactly
    ``round(samples * output_rate / sample_rate)`` samples, in the input's layout, float32. The input is kept
    up to its band edge; full-band windows pass unchanged.
    """
    rate = check_sample_rate(sample_rate)
    planar, layout = prepare_audio(audio, layout)
    restorer = Restorer.of(model, settings)
    out_rate = choose_output_rate(output_rate, rate, restorer.sample_rate)
    length = exact_length(planar.shape[1], rate, out_rate)
    pipeline = restore_pipeline(restorer, planar.shape[0], rate, out_rate, length,
                                source_grid_step=array_grid_step(planar, rate, restorer.sample_rate))
    return from_channels_first(run_whole(pipeline, planar), layout)


def restore_pipeline(
    restorer: Restorer,
    channels: int,
    input_rate: int,
    output_rate: int,
    output_length: int | None = None,
    model_length: int | None = None,
    on_windows: Callable[[int], None] | None = None,
    source_grid_step: float = 0.0,
) -> Stream:
    """The offline pipeline as stream stages: resample to the model's rate -> restore -> resample to ``output_rate``.

    When the output keeps the input's rate (and that is not the model's), only the restorer's change is
    resampled back and added to the input itself (:class:`~sagasr_stream.source_rate.SourceRateRestore`): what
    the restorer leaves alone comes out bit for bit. ``model_length`` / ``output_length``: the signal's exact
    total at the model's / output rate (default: the resampler's rounded count). Windows are grouped to fill
    ``settings.batch_size`` per model call. ``source_grid_step``: the input's integer grid
    (:func:`~sagasr_stream.quantization.grid_step`; 0: none), whose rounding floor a resampled input keeps.
    """
    model_rate = restorer.sample_rate
    down = ResampleStage(input_rate, model_rate, channels, model_length)
    restore = restorer.stream(channels, None, source_band_limit(input_rate, model_rate), on_windows,
                              resampled_floor(source_grid_step, input_rate, model_rate))
    if output_rate == input_rate != model_rate:
        return SourceRateRestore(down, restore, output_length)
    return Series([down, restore, ResampleStage(model_rate, output_rate, channels, output_length)])


def array_grid_step(planar: np.ndarray, rate: int, model_rate: int) -> float:
    """A whole (channels, n) input's integer grid (:func:`~sagasr_stream.quantization.grid_step`, of all its
    channels) for :func:`restore_pipeline`'s ``source_grid_step``: 0 at the model's rate, where each window
    sees its own."""
    return float(np.min(grid_step(planar))) if rate != model_rate else 0.0


def file_source_grid_step(source: Path, reader: object, frames: int, rate: int, model_rate: int) -> float:
    """A file's integer grid for :func:`restore_pipeline`'s ``source_grid_step``: its sample format's (8/16-bit,
    :func:`~sagasr_stream.quantization.file_grid_step`); for another format resampled to the model's rate, the grid
    all its first ``frames`` samples lie on, as :func:`array_grid_step` finds for the same samples given to
    :func:`restore` (a float file of 16-bit samples; the scan stops at the first block off every grid). ``reader``:
    the file open (:func:`~sagasr_stream.audio_io.open_input`), not read from here."""
    step = file_grid_step(reader)
    if step > 0.0 or rate == model_rate:
        return step
    step = np.inf
    with open_input(source) as (scan, _, _):
        for block in source_blocks(scan, source, frames):
            step = min(step, float(np.min(grid_step(block))))
            if step == 0.0:
                break
    return step


def source_band_limit(source_rate: float, model_rate: int) -> float | None:
    """The band limit (Hz) a source rate puts on resampled audio: its Nyquist when below the model's."""
    return source_rate / 2 if source_rate < model_rate else None


def restore_file(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    model: SagaSRModel | Restorer | None = None,
    settings: RestoreSettings | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    output_rate: float | None = None,
    log: Callable[[str], None] | None = None,
    bit_depth: int | None = None,
    quality: str | int | None = None,
) -> Path:
    """Restore an audio file into ``destination`` (.wav/.flac/.aiff/.mp3/.ogg). ``model``: as in :func:`restore`.

    The file is checked first (a damaged, truncated or undecodable file raises :class:`AudioFileError`
    naming it, see :mod:`sagasr_stream.integrity`), restored at the model's rate and written at
    ``output_rate`` (default: the input's rate when it is >= 44.1 kHz, else 44.1 kHz) with exactly
    ``round(frames * output_rate / input_rate)`` frames (an MP3's frames: the samples its encoder was given, see
    :func:`~sagasr_stream.audio_io.open_input`). ``log`` receives one line on what happens to the rate.
    Reads and writes incrementally (memory does not grow with the file's length) and writes atomically.
    Refuses to overwrite ``source``; refuses an existing ``destination`` unless ``overwrite``.
    WAV is 32-bit float and keeps every value; FLAC and AIFF are 24-bit, so samples over full scale are brought
    under it by a peak limiter that leaves every sample away from them as it is (:mod:`sagasr_stream.headroom`)
    and a warning says how many there were. ``bit_depth``: 16 (rounded with TPDF dither,
    :mod:`sagasr_stream.dither`; limited too), 24, or 32 (float, WAV only) instead. A WAV output of more than two
    channels and a FLAC output keep a WAV or FLAC input's speaker layout (a WAV's WAVE_FORMAT_EXTENSIBLE channel mask,
    a FLAC's WAVEFORMATEXTENSIBLE_CHANNEL_MASK comment: 5.1 with side surrounds).
    MP3 and Ogg Vorbis outputs are lossy: no ``bit_depth``; ``quality``
    (:func:`~sagasr_stream.formats.output_quality`): MP3 "V0".."V9" (LAME VBR) or 32..320 kbps (CBR), Vorbis
    64..500 kbps; by default the highest (MP3 320 kbps, whose encoder cuts above 20 kHz; Vorbis 500 kbps, the whole
    band); overs limited as for FLAC. MP3 holds 8, 11.025, 12, 16, 22.05, 24, 32, 44.1 and 48 kHz and one or two
    channels, Vorbis 1..200 kHz; a rate or channel count the output cannot hold is refused from the input's header,
    before the model loads. An MP3 output reads back (here, or in a gapless player) at the input's exact length, a
    Vorbis one by itself; the same samples give the same bytes (an Ogg stream's serial number is its content's).
    An output keeps the tags of its input (an MP3's ID3 tags as they are into an MP3, Vorbis comments and pictures
    into a FLAC or an Ogg Vorbis file, an ID3v2.4 tag into an MP3 from the others, a WAV's LIST/INFO or ID3 chunk
    and an AIFF's text or ID3 chunks read alike, a LIST/INFO and an ID3 chunk into a WAV, a WAV's bext chunk kept,
    an ID3 chunk into an AIFF: :mod:`sagasr_stream.tags`).
    ``progress(done_windows, total_windows)`` is called once before the first window and as windows finish.
    """
    source, destination = Path(check_path(source, "source")), Path(check_path(destination, "destination"))
    overwrite = check_bool(overwrite, "overwrite")
    check_callback(progress, "progress")
    check_callback(log, "log")
    if destination.exists() and source.exists() and destination.resolve() == source.resolve():
        raise AudioFileError(f"refusing to overwrite the input file {source}")
    check_writable(destination)  # a folder, a format we cannot write, a name too long: before anything is read
    output_quality(destination, quality)  # a quality the format has not, or one for a lossless output
    output_bit_depth(destination, bit_depth)  # a bad depth (FLAC at 32 bits, any for an MP3): before the file is read
    if output_rate is not None:  # a rate the format cannot hold (FLAC above 655350 Hz): before the model loads
        check_output_rate(destination, check_sample_rate(output_rate, "output_rate"))
    if destination.exists() and not overwrite:
        raise OutputExistsError(f"output exists: {destination} (pass overwrite=True / --force to replace it)")
    given = Restorer.of(model, settings) if model is not None else None  # the embedded model: loaded below
    with open_input(source) as (reader, channels, rate):
        out_rate = choose_output_rate(output_rate, rate, model_rate(given))
        # the input's rate (unless given, checked above) and channels, known from its header: checked before the
        # model loads or the input is decoded
        check_output_layout(destination, out_rate if output_rate is None else None, channels, source)
        restorer = given or Restorer.of(None, settings)
        sr = restorer.sample_rate
        source_frames = check_audio_file(source)
        if log:
            log(f"{source.name}: {source_frames / rate:.2f} s, {describe_rates(rate, sr, out_rate)}")
        model_frames = exact_length(source_frames, rate, sr)
        total_windows = restorer.plan.n_windows(model_frames)
        done = 0

        def on_windows(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(min(done, total_windows), total_windows)

        if progress:
            progress(0, total_windows)
        out_frames = exact_length(source_frames, rate, out_rate)
        pipeline = restore_pipeline(restorer, channels, rate, out_rate, out_frames, model_frames, on_windows,
                                    file_source_grid_step(source, reader, source_frames, rate, sr))
        with atomic_writer(destination, out_rate, channels, bit_depth, speaker_mask(source),  # kept in WAV and FLAC
                           quality, tags_from=source) as writer:  # integers and lossy: overs limited
            for block in source_blocks(reader, source, source_frames):
                writer.write(pipeline.process(block))
            writer.write(pipeline.flush())
    return destination


def model_rate(restorer: Restorer | None) -> int:
    """The rate ``restorer`` restores at; None: the embedded default model's, from its manifest (nothing loaded)."""
    if restorer is not None:
        return restorer.sample_rate
    from .bundle import load_bundle
    from .model import default_bundle_path

    return load_bundle(default_bundle_path(), verify=False).manifest.sample_rate


def source_blocks(reader: AudioReader, source: Path, length: int) -> Iterator[np.ndarray]:
    """(channels, <= FILE_BLOCK) float32 blocks of an open file (``reader``, see :func:`audio_io.open_input`)
    at its own rate, at most ``length`` frames in all (the resample stage zero-pads a short file to its exact
    length); a decoder error, or NaN/Inf samples, raise :class:`AudioFileError` naming ``source``. What
    :func:`restore_file` feeds its pipeline."""
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
        check_finite_block(block, source)
        fed += block.shape[1]
        yield block
