"""The work a batch worker does, without Ray: whole files, and long files as prepare -> segments -> stitch.

Each function returns a plain dict (picklable, JSON-able) and raises :class:`~sagasr_stream.errors.SagasrError`
(or OSError/ValueError) for a bad input; the Ray actor (:mod:`.worker`) turns those into error records.

Exactness for long files: the segments read the model-rate input. A WAV/AIFF file at the model's rate is read
directly (seek + read gives the same floats as the single pass's sequential reads). Any other file (another
rate, or a compressed format) is decoded and resampled ONCE, by the same blocks and resample stage as
:func:`~sagasr_stream.api.restore_file` (:func:`~sagasr_stream.api.source_blocks`,
:class:`~sagasr_stream.streaming.ResampleStage`), into a 32-bit float staging WAV that the segments then read: no
segment ever resamples a piece on its own (a resampler started mid-file would give other samples).
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from pedalboard.io import AudioFile

from ..api import FILE_BLOCK, file_source_grid_step, restore_file, source_band_limit, source_blocks
from ..audio_io import atomic_writer, decoder_path, open_input, speaker_mask
from ..bandlimit import BandLimitTracker, SignalBandLimit
from ..chunking import WindowPlan, zero_pad_to
from ..errors import AudioFileError
from ..files import atomic_path, atomic_write_text, sha256_file
from ..integrity import check_audio_file
from ..quantization import resampled_floor
from ..rates import choose_output_rate
from ..restorer import Restorer, offline_windows_per_call
from ..source_rate import SourceKeeper
from ..streaming import ResampleStage, exact_length
from .segments import Segment, restore_segment

DIRECT_SUFFIXES = {".wav", ".aif", ".aiff"}  # uncompressed: a seek lands on the exact sample


@dataclass(frozen=True)
class FileJob:
    """One input file and where its restoration goes; ``work`` is its private scratch folder (long files)."""

    source: str
    destination: str
    work: str


@dataclass(frozen=True)
class Prepared:
    """A long file after :func:`prepare`: source frames and rate, channels, the file segments read, and every
    window's signal band limit (:mod:`~sagasr_stream.bandlimit`: what a single pass measures on the way), and
    the rounding floor of its integer samples once resampled (:func:`~sagasr_stream.quantization.resampled_floor`)."""

    frames: int
    rate: int
    channels: int
    model_frames: int
    read_from: str
    input_sha256: str
    band_limits: tuple[tuple[SignalBandLimit | None, ...], ...] = ()
    source_floor: float = 0.0


def worker_name() -> str:
    """``host:pid`` of this process (the manifest's "worker")."""
    return f"{socket.gethostname()}:{os.getpid()}"


def restore_whole(restorer: Restorer, output_rate: int | None, job: FileJob, bit_depth: int | None = None,
                  quality: str | None = None) -> dict[str, Any]:
    """Restore one file with :func:`restore_file` (overwriting an output the manifest does not vouch for)."""
    start = time.perf_counter()
    source, destination = Path(job.source), Path(job.destination)
    input_sha = sha256_file(source)
    restore_file(source, destination, restorer, overwrite=True, output_rate=output_rate, bit_depth=bit_depth,
                 quality=quality)
    return write_done(job, {"input_sha256": input_sha, "output_sha256": sha256_file(destination),
                            "worker": worker_name(), "elapsed_s": time.perf_counter() - start, "segments": 1})


def done_path(job: FileJob) -> Path:
    """The worker's own note that ``job``'s output is written (beside its scratch folder)."""
    return Path(job.work + ".done.json")


def write_done(job: FileJob, result: dict[str, Any]) -> dict[str, Any]:
    """Note ``result`` in :func:`done_path` (atomically) and return it: if the driver dies before it records
    the file in the run manifest, the next run finds the note, checks the output's hash and records it instead
    of restoring the file again."""
    Path(job.work).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(done_path(job), json.dumps(result))
    return result


def read_done(job: FileJob) -> dict[str, Any] | None:
    """The worker's note for ``job``, or None (absent or unreadable)."""
    try:
        note = json.loads(done_path(job).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def staged_path(job: FileJob) -> Path:
    return Path(job.work) / "input-at-model-rate.wav"


def segment_path(job: FileJob, segment: Segment) -> Path:
    """The scratch file of ``segment``, named by its windows: a segment planned otherwise (another
    ``segment_seconds`` after an interrupted run) never reads one cut for another plan."""
    return Path(job.work) / f"segment-{segment.first:06d}-{segment.stop:06d}.npy"


def prepare(restorer: Restorer, job: FileJob) -> Prepared:
    """Check a long file (:func:`check_audio_file`), hash it, and stage it at the model's rate unless it can be
    read directly (see the module docstring). A staging file left by an earlier run is reused."""
    source = Path(job.source)
    sr = restorer.sample_rate
    frames = check_audio_file(source)
    with open_input(source) as (reader, channels, rate):
        model_frames = exact_length(frames, rate, sr)
        floor = resampled_floor(file_source_grid_step(source, reader, frames, rate, sr), rate, sr)
        direct = rate == sr and source.suffix.lower() in DIRECT_SUFFIXES
        read_from = source if direct else staged_path(job)
        if not direct and not read_from.is_file():
            Path(job.work).mkdir(parents=True, exist_ok=True)
            to_model_rate = ResampleStage(rate, sr, channels, model_frames)
            with atomic_writer(read_from, sr, channels) as writer:
                for block in source_blocks(reader, source, frames):
                    writer.write(to_model_rate.process(block))
                writer.write(to_model_rate.flush())
    tracker = BandLimitTracker(restorer.plan, channels, restorer.settings.stereo == "mono",
                               restorer.window_floor(floor, channels), restorer.model.manifest.slope_condition)
    limits = model_rate_limits(str(read_from), model_frames, tracker)
    return Prepared(frames, rate, channels, model_frames, str(read_from), sha256_file(source), limits, floor)


def model_rate_limits(
    path: str, model_frames: int, tracker: BandLimitTracker
) -> tuple[tuple[SignalBandLimit | None, ...], ...]:
    """Every window's band limits (per channel) of the model-rate file ``path`` (its first ``model_frames``
    frames), read in blocks with a fresh ``tracker``: the same floats as the single pass's tracker sees."""
    with AudioFile(decoder_path(path)) as f:
        done = 0
        while done < model_frames:
            block = np.asarray(f.read(min(FILE_BLOCK, model_frames - done)), dtype=np.float32)
            if block.shape[1] == 0:
                break
            tracker.push(block)
            done += block.shape[1]
    tracker.end()
    return tuple(tuple(tracker.limits(k)) for k in range(tracker.plan.n_windows(model_frames)))


def read_model_rate(path: str, start: int, stop: int) -> np.ndarray:
    """(channels, <= stop - start) float32 samples [start, stop) of a model-rate file."""
    with AudioFile(decoder_path(path)) as f:
        start = min(start, f.frames)
        f.seek(start)
        return np.ascontiguousarray(f.read(max(0, min(stop, f.frames) - start)), dtype=np.float32)


def run_segment(restorer: Restorer, job: FileJob, prepared: Prepared, index: int, segment: Segment) -> dict[str, Any]:
    """Restore one segment into its ``.npy`` scratch file (written atomically; an existing one is kept)."""
    start_time = time.perf_counter()
    target = segment_path(job, segment)
    if not target.is_file():
        start, stop = segment.input_range(restorer.plan, offline_windows_per_call(restorer.settings, prepared.channels))
        audio = read_model_rate(prepared.read_from, start, min(stop, prepared.model_frames))
        band_limit = source_band_limit(prepared.rate, restorer.sample_rate)
        out = restore_segment(restorer, segment, audio, band_limit, source=job.source, limits=prepared.band_limits,
                              source_floor=prepared.source_floor)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp, open(tmp, "xb") as f:
            np.save(f, out, allow_pickle=False)
    return {"worker": worker_name(), "elapsed_s": time.perf_counter() - start_time}


def segment_blocks(
    job: FileJob, channels: int, segments: Sequence[Segment], plan: WindowPlan
) -> Iterator[np.ndarray]:
    """The restored (channels, n) float32 model-rate segments of ``job``, in order (a damaged one, or one of
    another length than its windows emit, raises)."""
    for index, segment in enumerate(segments):
        block = np.load(segment_path(job, segment), allow_pickle=False)
        start, stop = segment.output_range(plan)
        if block.dtype != np.float32 or block.shape != (channels, stop - start):
            raise AudioFileError(f"segment {index} of {job.source} is damaged: {block.dtype} {block.shape}, "
                                 f"expected float32 {(channels, stop - start)}")
        yield block


def resampled(blocks: Iterable[np.ndarray], stage: ResampleStage) -> Iterator[np.ndarray]:
    """``blocks`` through ``stage``, then its flush."""
    for block in blocks:
        yield stage.process(block)
    yield stage.flush()


def with_source_kept(
    restored: Iterable[np.ndarray], job: FileJob, prepared: Prepared, sr: int
) -> Iterator[np.ndarray]:
    """The output at the source's own rate as the single pass makes it
    (:class:`~sagasr_stream.source_rate.SourceRateRestore`): the source (decoded again, by the same blocks) plus
    the restorer's change (restored minus the staged model-rate input) resampled to its rate."""
    keeper = SourceKeeper(sr, prepared.rate, prepared.channels, prepared.frames)
    restored_frames = 0
    with AudioFile(decoder_path(prepared.read_from)) as given_file, open_input(Path(job.source)) as (reader, _, _):
        source = source_blocks(reader, Path(job.source), prepared.frames)

        def feed_source(upto: int) -> None:
            while keeper.source_fed < upto and (block := next(source, None)) is not None:
                keeper.feed_source(block)

        for block in restored:
            given = zero_pad_to(np.asarray(given_file.read(block.shape[1]), dtype=np.float32), block.shape[1])
            restored_frames += block.shape[1]
            feed_source(min(prepared.frames, exact_length(restored_frames, sr, prepared.rate)))
            yield keeper.process(block - given)
        feed_source(prepared.frames)
        yield keeper.flush()


def stitch(
    restorer: Restorer, output_rate: int | None, job: FileJob, prepared: Prepared, segments: Sequence[Segment],
    bit_depth: int | None = None,
    quality: str | None = None,
) -> dict[str, Any]:
    """Concatenate the segments into the output file, through the same output stage (a resample, or at the
    source's own rate the source kept and the change added), limiter, ``bit_depth`` and ``quality`` as
    :func:`restore_file` (all work sample by sample, so block sizes do not change a bit). Atomic."""
    start = time.perf_counter()
    sr = restorer.sample_rate
    destination = Path(job.destination)
    out_rate = choose_output_rate(output_rate, prepared.rate, sr)
    restored = segment_blocks(job, prepared.channels, segments, restorer.plan)
    if out_rate == prepared.rate != sr:  # as restore_pipeline: the source kept, the change added
        outputs = with_source_kept(restored, job, prepared, sr)
    else:
        outputs = resampled(restored, ResampleStage(sr, out_rate, prepared.channels,
                                                    exact_length(prepared.frames, prepared.rate, out_rate)))
    with atomic_writer(destination, out_rate, prepared.channels, bit_depth, speaker_mask(job.source),  # as restore_file
                       quality, tags_from=job.source) as writer:  # integers and lossy: overs limited; tags kept
        for out in outputs:
            writer.write(out)
    return write_done(job, {"input_sha256": prepared.input_sha256, "output_sha256": sha256_file(destination),
                            "worker": worker_name(), "elapsed_s": time.perf_counter() - start,
                            "segments": len(segments)})
