"""The batch driver: list inputs, skip complete outputs, plan long files into segments, run everything on a
pool of Ray actors (one loaded model each), record every file in the run manifest, report progress.

Ray is imported only here, only when a batch runs (``pip install "ray>=2.9"``).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ParamSpec, Sequence

from .. import __version__
from ..audio_io import decoder_path, unreadable_message
from ..chunking import WindowPlan
from ..errors import AudioFileError, SagasrError
from ..files import sha256_file
from ..formats import output_bit_depth, output_layout_problem, output_quality, output_rate_problem
from ..mp3 import mp3_gapless
from ..partials import remove_stale_partials
from ..rates import choose_output_rate
from ..streaming import exact_length
from ..restorer import checked_user_band_limit, offline_windows_per_call, window_plan
from ..settings import AUTO_COMPLETE_BAND_HZ, ResolvedSettings, RestoreSettings, resolve
from ..validation import check_sample_rate
from .inputs import discover, plan_outputs
from .jobs import FileJob, Prepared, done_path, read_done, segment_path
from .manifest import RunManifest, input_identity, is_complete, output_folder_lock
from .progress import AudioProgress
from .segments import Segment, plan_segments
from .worker import BatchWorker, WorkerConfig

WORK_FOLDER = ".sagasr-batch"  # scratch space inside the output folder: staging files and finished segments
P = ParamSpec("P")
IN_FLIGHT_PER_WORKER = 2  # tasks queued on each actor, so that it never waits for the driver
TASK_RETRIES = 3  # a task whose worker died is run again this often (on the restarted actor)
START_REPORT_S = 60.0  # while workers have not started, a line this often says how many are still waiting
NODE_POLL_S = 30.0  # while tasks wait, the nodes are counted again this often: workers start on nodes that joined
NODES_LISTED = 8  # nodes named in the error when no node can hold a worker


@dataclass
class BatchSummary:
    """What a batch did: counts, failed files with their errors, audio seconds restored, wall time."""

    restored: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    elapsed_s: float = 0.0
    workers: int = 0
    startup_s: float = 0.0  # from the call until every worker had loaded the model (Ray start included)

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        speed = self.audio_seconds / self.elapsed_s if self.elapsed_s else 0.0
        files_per_min = 60 * self.restored / self.elapsed_s if self.elapsed_s else 0.0
        lines = [f"{self.restored} restored, {self.skipped} skipped (complete), {len(self.failed)} failed; "
                 f"{self.audio_seconds / 3600:.3f} h of audio in {self.elapsed_s:.1f} s on {self.workers} workers "
                 f"({speed:.2f} audio-s/s, {files_per_min:.1f} files/min; {self.startup_s:.1f} s of it starting Ray "
                 f"and the workers)"]
        lines += [f"  failed: {source}: {error}" for source, error in self.failed]
        return lines


@dataclass
class _File:
    """A file to restore and its progress through the pool."""

    job: FileJob
    source: Path
    destination: Path
    seconds: float
    long: bool
    identity: dict[str, Any]  # the input's path, size and mtime when it was planned
    prepared: Prepared | None = None
    segments: list[Segment] = field(default_factory=list)
    segments_done: set[int] = field(default_factory=set)
    segment_workers: set[str] = field(default_factory=set)
    credited: float = 0.0  # audio seconds already counted on the progress bar
    finished: bool = False


def settings_fingerprint(
    resolved: ResolvedSettings, manifest: Any, output_rate: int | None, suffix: str, band_limit_hz: float | None = None,
    bit_depth: int | None = None, quality: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """(hex digest, the JSON-able settings it covers): resolved settings, the inputs' known bandwidth, output rate,
    format, bit depth and a lossy format's quality (as :func:`~sagasr_stream.formats.output_quality` names it),
    model files, and the runtime's version and pass-through threshold (a file restored under other ones is redone)."""
    settings = {"restore": asdict(resolved), "band_limit_hz": band_limit_hz, "output_rate": output_rate,
                "format": suffix, "model": {"name": manifest.name, "files": manifest.files},
                "runtime": {"version": __version__, "complete_band_hz": AUTO_COMPLETE_BAND_HZ}}
    if bit_depth is not None:  # only when asked for: the runs before the option keep their fingerprints
        settings["bit_depth"] = bit_depth
    if quality is not None:  # lossy formats only
        settings["quality"] = quality
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return digest, {k: v for k, v in settings.items() if k not in ("model", "runtime")} | {"model": manifest.name}


def _holding_the_output_folder(run: Callable[P, BatchSummary]) -> Callable[P, BatchSummary]:
    """Run a batch with its output folder locked (:func:`~.manifest.output_folder_lock`)."""
    @functools.wraps(run)
    def locked(*args: P.args, **kwargs: P.kwargs) -> BatchSummary:
        output = kwargs["output"] if "output" in kwargs else args[1]
        with output_folder_lock(Path(output).resolve()):  # type: ignore[arg-type]
            return run(*args, **kwargs)

    return locked


@_holding_the_output_folder
def restore_batch(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    model: str | os.PathLike[str] | None = None,
    provider: str = "auto",
    allow_torchscript: bool = False,
    settings: RestoreSettings | None = None,
    band_limit_hz: float | None = None,
    output_rate: int | None = None,
    fmt: str = "wav",
    bit_depth: int | None = None,
    quality: str | int | None = None,
    ray_address: str | None = None,
    workers: int | None = None,
    gpus_per_worker: float = 0.0,
    files_per_task: int = 1,
    segment_seconds: float = 60.0,
    threads_per_worker: int | None = 1,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> BatchSummary:
    """Restore ``inputs`` (files, folders, globs, list files; or one of them) into the folder ``output`` on Ray actors.

    Outputs mirror the inputs' paths below ``output`` with suffix ``fmt`` (``bit_depth`` and ``quality`` as in
    :func:`~sagasr_stream.api.restore_file`) and are bit-identical to
    :func:`~sagasr_stream.api.restore_file` with the same settings (and a
    :class:`~sagasr_stream.restorer.Restorer` of ``band_limit_hz``, the inputs' known bandwidth in Hz). Files
    longer than ``segment_seconds`` are split into window-aligned segments restored in parallel and stitched
    exactly (:mod:`.segments`).
    Complete outputs (per ``output/batch-manifest.jsonl`` and their hash) are skipped; failed files are
    recorded with their error and the run goes on. ``ray_address``: None starts a local Ray (or uses the one
    this process is connected to), "auto" or "HOST:PORT" joins a cluster. ``on_record`` sees each manifest
    record as it is written. Returns a :class:`BatchSummary`.

    Each worker asks Ray for ``threads_per_worker`` CPUs and ``gpus_per_worker`` GPUs on one node. ``workers``
    None: as many as the cluster's alive nodes hold at once (at most one per task). More ``workers`` than the nodes
    hold: a warning (on ``log``), and the run goes on with those that fit (the others would never be placed).
    No node that holds one: :class:`SagasrError` naming the ask and each node's CPUs and GPUs, before any worker
    starts. Workers that fit but wait for CPUs/GPUs other jobs hold are reported every minute until they start.
    While tasks wait, the nodes are counted again every ``NODE_POLL_S`` seconds, and workers are started on what
    nodes that joined hold (up to ``workers``; None: as many as the nodes hold), each a line on ``log``.
    """
    from ..bundle import load_bundle
    from ..model import default_bundle_path

    started = time.perf_counter()
    say = log or _write_line
    if (files_per_task < 1 or (workers is not None and workers < 1) or gpus_per_worker < 0
            or not 0 < segment_seconds < math.inf):
        raise SagasrError("files_per_task and workers must be >= 1, gpus_per_worker >= 0, segment_seconds > 0 "
                          f"and finite (got {segment_seconds})")
    settings = settings or RestoreSettings()
    out = Path(output).resolve()  # workers may run elsewhere: absolute paths only
    suffix = "." + fmt.lower().lstrip(".")
    quality = output_quality(out / f"output{suffix}", quality)  # a quality the format has not: before anything runs
    output_bit_depth(out / f"output{suffix}", bit_depth)  # a bad depth for the format fails before anything runs
    if output_rate is not None:  # as a rate the format cannot hold (FLAC at 768 kHz)
        problem = output_rate_problem(suffix, check_sample_rate(output_rate, "output_rate"))
        if problem:
            raise AudioFileError(f"cannot write the {suffix} outputs in {out}: {problem}")
    run_manifest = RunManifest(out)
    found, destinations = plan_outputs(discover(inputs), out, suffix, out / WORK_FOLDER,
                                       written=run_manifest.wrote)
    manifest_model = load_bundle(model if model is not None else default_bundle_path(), verify=True).manifest
    resolved = resolve(settings, manifest_model)  # a bad setting fails here, before anything runs
    band_limit_hz = checked_user_band_limit(band_limit_hz, manifest_model.sample_rate)
    fingerprint, settings_record = settings_fingerprint(resolved, manifest_model, output_rate, suffix, band_limit_hz,
                                                        bit_depth, quality)
    summary = BatchSummary()
    plan = window_plan(manifest_model, resolved)
    files, unreadable, recovered = _pending_files(found, destinations, run_manifest, fingerprint, out,
                                                  manifest_model.sample_rate, plan, segment_seconds, summary,
                                                  output_rate)
    sources = [file for file, _ in found]
    _clean_leftovers(out, destinations, sources)

    def record(file: _File, result: dict[str, Any], count: bool = True) -> None:
        error = result.get("error")
        # the identity the file had when it was planned, not now: an input changed during the run is redone next time
        entry = {**file.identity, "output": str(file.destination), "fingerprint": fingerprint,
                 "settings": settings_record, "duration_s": round(file.seconds, 6), "status": "error" if error else "ok",
                 "error": error, "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        entry |= {k: result.get(k) for k in ("input_sha256", "output_sha256", "worker", "elapsed_s", "segments")}
        if file.segment_workers:
            entry["segment_workers"] = sorted(file.segment_workers)
        run_manifest.append(entry)
        done_path(file.job).unlink(missing_ok=True)  # the manifest has it now
        if not count:
            return
        if error:
            summary.failed.append((str(file.source), error))
            say(f"error: {file.source}: {error}")
        else:
            summary.restored += 1
            summary.audio_seconds += file.seconds
        if on_record:
            on_record(entry)

    for file, error in unreadable:
        record(file, {"error": error})
    for file, result in recovered:  # finished by a worker after its driver died: recorded, not redone
        record(file, {**result, "error": None}, count=False)
        shutil.rmtree(file.job.work, ignore_errors=True)  # its staged input and segments are done with
    if files:
        pool = _Pool(files, resolved, plan, manifest_model.sample_rate, files_per_task, segment_seconds, record)
        config = WorkerConfig(None if model is None else str(Path(model).resolve()), provider, allow_torchscript, settings,
                              output_rate, threads_per_worker, band_limit_hz, bit_depth, quality)
        summary.workers = pool.run(config, ray_address, workers, gpus_per_worker, progress, say)
        summary.startup_s = pool.ready_at - started
        _clean_leftovers(out, destinations, sources)  # partial files of workers that were killed (their task was redone)
    _remove_stale_scratch(out / WORK_FOLDER, keep={Path(f.job.work).name for f in files})
    try:
        (out / WORK_FOLDER).rmdir()  # gone once every long file is stitched (a failed file's scratch stays)
    except OSError:
        pass
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _pending_files(
    found: list[tuple[Path, Path]], destinations: list[Path], run_manifest: RunManifest, fingerprint: str,
    out: Path, model_rate: int, plan: WindowPlan, segment_seconds: float, summary: BatchSummary,
    output_rate: int | None = None,
) -> tuple[list[_File], list[tuple[_File, str]], list[tuple[_File, dict[str, Any]]]]:
    """(files still to do, files whose header cannot be read or whose rate or channels the output format cannot hold
    (an MP3 of a 96 kHz or a 5.1 file) with the error, files a worker finished but no manifest line records, with the
    worker's result); complete and recovered files count as skipped. A file longer than 1.5 ``segment_seconds`` is
    split into segments."""
    from pedalboard.io import AudioFile

    latest = run_manifest.latest()
    files, unreadable, recovered = [], [], []
    for (source, _), destination in zip(found, destinations):
        if is_complete(latest.get(str(destination)), source, destination, fingerprint):
            summary.skipped += 1
            continue
        identity = input_identity(source)
        key = hashlib.sha256(json.dumps([identity, fingerprint]).encode()).hexdigest()[:20]
        job = FileJob(str(source), str(destination), str(out / WORK_FOLDER / key))
        try:
            with AudioFile(decoder_path(source)) as f:
                frames, rate, channels = int(f.frames), int(round(f.samplerate)), int(f.num_channels)
            gapless = mp3_gapless(source)  # an MP3's samples as open_input reads them
            frames = frames if gapless is None else gapless[1]
        except Exception as exc:  # the decoder's own error types: recorded, the run goes on
            unreadable.append((_File(job, source, destination, 0.0, False, identity, finished=True),
                               f"AudioFileError: {unreadable_message(exc, source)}"))
            continue
        problem = output_layout_problem(destination.suffix, choose_output_rate(output_rate, rate, model_rate), channels,
                                        source)
        if problem:
            unreadable.append((_File(job, source, destination, frames / rate, False, identity, finished=True),
                               f"AudioFileError: cannot write {destination}: {problem}"))
            continue
        done = read_done(job)
        if done and destination.is_file() and sha256_file(destination) == done.get("output_sha256"):
            recovered.append((_File(job, source, destination, frames / rate, False, identity, finished=True), done))
            summary.skipped += 1
            continue
        windows = plan.n_windows(exact_length(frames, rate, model_rate))
        long = windows * plan.hop > 1.5 * segment_seconds * model_rate
        files.append(_File(job, source, destination, frames / rate, long, identity))
    return files, unreadable, recovered


def _remove_stale_scratch(work: Path, keep: set[str]) -> None:
    """Remove the scratch folders of ``work`` that no file of this run owns (``keep``: the keys of this run's
    files, whose scratch is gone once stitched and stays when they failed): those of an input changed since, or
    of other settings, which no rerun would ever use (a long file's staged input can take gigabytes)."""
    if not work.is_dir():
        return
    for folder in work.iterdir():
        if folder.is_dir() and not folder.is_symlink() and folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)
        elif folder.name.endswith(".done.json") and folder.name.removesuffix(".done.json") not in keep:
            folder.unlink(missing_ok=True)


def _clean_leftovers(out: Path, destinations: list[Path], sources: list[Path]) -> None:
    """Remove what killed runs left: hidden partial outputs (dead PIDs; never one of the ``sources``) and scratch
    temporaries."""
    for folder in sorted({d.parent for d in destinations}):
        remove_stale_partials(folder, keep=sources)
    work = out / WORK_FOLDER
    if work.is_dir():
        for tmp in work.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        for partial in {p.parent for p in work.rglob(".*partial-*")}:
            remove_stale_partials(partial)


class _Pool:
    """Runs the files' tasks on Ray actors: whole files in groups of ``files_per_task``, long files as
    prepare -> segments (in parallel) -> stitch. Finishing files comes first: follow-up tasks jump the queue."""

    def __init__(self, files: list[_File], resolved: ResolvedSettings, plan: WindowPlan, model_rate: int, files_per_task: int,
                 segment_seconds: float, record: Callable[[_File, dict[str, Any]], None]) -> None:
        self.files = files
        self.resolved = resolved
        self.model_rate = model_rate
        self.plan = plan
        self.windows_per_segment = max(1, math.ceil(segment_seconds * model_rate / self.plan.hop))
        self.record = record
        self.queue: deque[tuple[str, Any]] = deque(("prepare", f) for f in files if f.long)
        short = [f for f in files if not f.long]
        self.queue.extend(("files", short[i : i + files_per_task]) for i in range(0, len(short), files_per_task))
        self.in_flight: dict[Any, tuple[int, str, Any]] = {}

    def run(self, config: WorkerConfig, address: str | None, workers: int | None, gpus: float, progress: bool,
            say: Callable[[str], None]) -> int:
        """Start Ray (unless connected) and the actors, run every task, return the number of workers."""
        try:
            import ray
        except ImportError as exc:  # only here: a run with nothing left to do needs no Ray
            raise SagasrError(f'restore_batch needs Ray for files to restore: pip install "ray>=2.9" ({exc})') from exc

        started_ray = _connect(address, workers, config.threads or 1)
        try:
            actors, growth = self._start_actors(ray, config, workers, gpus, say)
            self.ready_at = time.perf_counter()
            total = sum(f.seconds for f in self.files)
            self.progress = AudioProgress(total, len(self.files), progress)
            while self.queue or self.in_flight:
                self._submit(actors)
                growth.poll(len(self.queue), say)
                if not self.in_flight:
                    continue  # what was queued belonged to files that had failed
                ready, _ = ray.wait([*self.in_flight, *growth.starting], num_returns=1,
                                    timeout=growth.wait_s(len(self.queue)))
                if not ready or growth.join(ready[0], actors, say):
                    continue  # time to count the nodes again, or a new worker is ready for tasks
                actor, kind, payload = self.in_flight.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except ray.exceptions.RayError as exc:  # the worker died more often than the retries allow
                    result = _task_failure(kind, payload, exc)
                self._handle(kind, payload, result)
            self.progress.close()
            return len(actors)
        finally:
            if started_ray:
                ray.shutdown()

    def _start_actors(self, ray: Any, config: WorkerConfig, asked: int | None, gpus: float,
                      say: Callable[[str], None]) -> tuple[list[Any], _Growth]:
        """The worker actors, started (model loaded): ``asked`` of them, or as many as the nodes hold (fewer
        when they hold fewer, with a warning), at most one per task; and the :class:`_Growth` that starts more
        on nodes that join."""
        cpus = config.threads or 1
        fit = _workers_that_fit(ray.nodes(), cpus, gpus)
        workers = fit if asked is None else min(asked, fit)
        if asked is not None and asked > fit:
            say(f"warning: {asked} workers asked for, but the Ray nodes hold {fit} of {_ask(cpus, gpus)} each: "
                f"running {fit} (more start on nodes that join while files remain)")
        tasks = len(self.queue) + sum(math.ceil(f.seconds * self.model_rate / self.plan.hop / self.windows_per_segment)
                                      for f in self.files if f.long)
        workers = max(1, min(workers, tasks))
        if gpus and config.provider == "auto":
            config = replace(config, provider="cuda")
        remote = ray.remote(BatchWorker).options(
            num_cpus=config.threads or 1, num_gpus=gpus, max_restarts=-1, max_task_retries=TASK_RETRIES,
        )
        actors = [remote.remote(config) for _ in range(workers)]
        try:
            _await_start(ray, [a.pid.remote() for a in actors], say)
        except ray.exceptions.RayError as exc:
            raise SagasrError(f"the batch workers could not start (loading the model failed?): {exc}") from exc
        return actors, _Growth(ray, remote, config, gpus, asked, started=len(actors))

    def _submit(self, actors: list[Any]) -> None:
        """Give queued tasks to the actors with the fewest tasks in flight (at most IN_FLIGHT_PER_WORKER)."""
        while self.queue:
            load = [0] * len(actors)
            for index, _, _ in self.in_flight.values():
                load[index] += 1
            index = min(range(len(actors)), key=load.__getitem__)
            if load[index] >= IN_FLIGHT_PER_WORKER:
                return
            kind, payload = self.queue.popleft()
            if kind in ("segment", "prepare", "stitch") and _file_of(kind, payload).finished:
                continue  # its file already failed
            actor = actors[index]
            if kind == "files":
                ref = actor.restore_files.remote([f.job for f in payload])
            elif kind == "prepare":
                ref = actor.prepare.remote(payload.job)
            elif kind == "segment":
                file, i = payload
                ref = actor.segment.remote(file.job, file.prepared, i, file.segments[i])
            else:
                ref = actor.stitch.remote(payload.job, payload.prepared, payload.segments)
            self.in_flight[ref] = (index, kind, payload)

    def _handle(self, kind: str, payload: Any, result: Any) -> None:
        if kind == "files":
            for file, outcome in zip(payload, result):
                self._finish(file, outcome)
        elif kind == "prepare":
            self._prepared(payload, result)
        elif kind == "segment":
            file, index = payload
            if file.finished:
                return
            if result.get("error"):
                self._finish(file, result)
                return
            file.segments_done.add(index)
            file.segment_workers.add(result["worker"])
            start, stop = file.segments[index].output_range(self.plan)
            self._credit(file, file.seconds * (stop - start) / max(1, file.segments[-1].frames))
            if len(file.segments_done) == len(file.segments):
                self.queue.appendleft(("stitch", file))
        else:
            if not payload.finished:
                self._finish(payload, result)
                if not result.get("error"):
                    shutil.rmtree(payload.job.work, ignore_errors=True)

    def _prepared(self, file: _File, result: dict[str, Any]) -> None:
        """Plan a checked long file's segments; queue the ones not already on disk (first), or its stitch."""
        if result.get("error"):
            self._finish(file, result)
            return
        file.prepared = prepared = result["prepared"]
        per_call = offline_windows_per_call(self.resolved, prepared.channels)
        file.segments = plan_segments(prepared.model_frames, self.plan, per_call, self.windows_per_segment)
        missing = [i for i, segment in enumerate(file.segments) if not segment_path(file.job, segment).is_file()]
        file.segments_done = set(range(len(file.segments))) - set(missing)
        self._credit(file, file.seconds * (len(file.segments) - len(missing)) / len(file.segments))
        if not missing:
            self.queue.appendleft(("stitch", file))
        for i in reversed(missing):
            self.queue.appendleft(("segment", (file, i)))

    def _finish(self, file: _File, result: dict[str, Any]) -> None:
        file.finished = True
        self.record(file, result)
        self.progress.advance(file.seconds - file.credited, files=1)
        file.credited = file.seconds

    def _credit(self, file: _File, seconds: float) -> None:
        file.credited += seconds
        self.progress.advance(seconds)


class _Growth:
    """Workers started during the run, on what the nodes hold beyond the ones started (nodes that joined): while
    tasks wait, every NODE_POLL_S the nodes are counted again and :func:`_more_workers` more are started; each
    joins the pool once its model is loaded. No worker is replaced (one whose node left is Ray's to restart), so
    at most ``asked`` (None: as many as the nodes hold at the most) are ever started."""

    def __init__(self, ray: Any, remote: Any, config: WorkerConfig, gpus: float, asked: int | None,
                 started: int) -> None:
        self.ray, self.remote, self.config, self.gpus, self.asked = ray, remote, config, gpus, asked
        self.started = started  # by this run, the first ones included, whether they started or not
        self.starting: dict[Any, Any] = {}  # a new worker's ``pid`` ref -> the worker, until its model is loaded
        self.next_poll = time.monotonic() + NODE_POLL_S

    def wait_s(self, waiting: int) -> float | None:
        """How long the driver may wait for a result before the next count (None: as long as it takes)."""
        if not waiting or (self.asked is not None and self.started >= self.asked):
            return None
        return max(0.0, self.next_poll - time.monotonic())

    def poll(self, waiting: int, say: Callable[[str], None]) -> None:
        """Start the workers the nodes hold now beyond those started, if it is time to count them again."""
        if self.wait_s(waiting) != 0.0:  # not time yet, or no task waits, or all asked for started
            return
        self.next_poll = time.monotonic() + NODE_POLL_S
        more = _more_workers(self.ray.nodes(), self.config.threads or 1, self.gpus, self.started, self.asked, waiting)
        for _ in range(more):
            actor = self.remote.remote(self.config)
            self.starting[actor.pid.remote()] = actor
        self.started += more
        if more:
            say(f"{more} more worker{'s' if more > 1 else ''} starting on Ray nodes that joined: {self.started} in all")

    def join(self, ref: Any, actors: list[Any], say: Callable[[str], None]) -> bool:
        """Whether ``ref`` is a new worker's ``pid``: then the worker is added to ``actors`` (its model is loaded),
        or left out with a warning when it could not start."""
        actor = self.starting.pop(ref, None)
        if actor is None:
            return False
        try:
            self.ray.get(ref)
            actors.append(actor)
        except self.ray.exceptions.RayError as exc:
            say(f"warning: a worker started on a node that joined could not start, the run goes on with "
                f"{len(actors)}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return True


def _file_of(kind: str, payload: Any) -> _File:
    return payload[0] if kind == "segment" else payload


def _task_failure(kind: str, payload: Any, exc: BaseException) -> Any:
    """Error records for the files of a task whose worker kept dying."""
    error = {"error": f"worker failed {TASK_RETRIES + 1} times: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return [error] * len(payload) if kind == "files" else error


def _workers_that_fit(nodes: list[dict[str, Any]], cpus: float, gpus: float) -> int:
    """How many workers of ``cpus`` CPUs and ``gpus`` GPUs the alive Ray ``nodes`` (``ray.nodes()``) hold at once,
    counted node by node (an actor runs on one node). None: a :class:`SagasrError` naming the ask and each node's
    offer (Ray would keep such an actor pending, and the run waited for it for ever)."""
    alive = [node for node in nodes if node.get("Alive")]
    fit = _alive_fit(nodes, cpus, gpus)
    if fit:
        return fit
    offers = "; ".join(f"{node.get('NodeManagerAddress', '?')}: CPU {node.get('Resources', {}).get('CPU', 0):g}, "
                       f"GPU {node.get('Resources', {}).get('GPU', 0):g}" for node in alive[:NODES_LISTED])
    if len(alive) > NODES_LISTED:
        offers += f"; and {len(alive) - NODES_LISTED} more"
    raise SagasrError(
        f"each batch worker asks for {_amount(cpus, 'CPU')} (threads_per_worker) and {_amount(gpus, 'GPU')} "
        f"(gpus_per_worker), but no Ray node has that: the nodes offer {offers or 'nothing (no node is alive)'}; "
        "lower --threads-per-worker or --gpus-per-worker, or join a cluster with such a node (--ray-address)")


def _more_workers(nodes: list[dict[str, Any]], cpus: float, gpus: float, started: int, asked: int | None,
                  waiting: int) -> int:
    """How many more workers to start now: as many as the alive ``nodes`` hold (counted as at the start), up to
    ``asked`` in all (None: no limit but theirs), less the ``started`` ones (all this run started, those of a node
    that left included: none is replaced), at most one per task ``waiting``."""
    fit = _alive_fit(nodes, cpus, gpus)
    return max(0, min((fit if asked is None else min(asked, fit)) - started, waiting))


def _alive_fit(nodes: list[dict[str, Any]], cpus: float, gpus: float) -> int:
    """Workers of ``cpus`` CPUs and ``gpus`` GPUs the alive ``nodes`` hold, node by node."""
    return sum(_fits(node.get("Resources", {}), cpus, gpus) for node in nodes if node.get("Alive"))


def _fits(resources: dict[str, float], cpus: float, gpus: float) -> int:
    """Workers of ``cpus`` CPUs and ``gpus`` GPUs one node's ``resources`` hold."""
    shares = [resources.get("CPU", 0) / cpus] + ([resources.get("GPU", 0) / gpus] if gpus else [])
    return int(min(shares) + 1e-9)  # a float quotient: 0.3 GPU / 0.1 is 2.999...


def _ask(cpus: float, gpus: float) -> str:
    return f"{_amount(cpus, 'CPU')} and {_amount(gpus, 'GPU')}"


def _amount(count: float, unit: str) -> str:
    return f"{count:g} {unit}" + ("" if count == 1 else "s")


def _await_start(ray: Any, started: list[Any], say: Callable[[str], None]) -> None:
    """Wait for the workers' ``started`` refs (their ``pid``), saying every START_REPORT_S how many are still
    waiting; a worker that failed to start raises its Ray error."""
    began = time.perf_counter()
    while True:
        _, pending = ray.wait(started, num_returns=len(started), timeout=START_REPORT_S)
        if not pending:
            break
        say(f"waiting for {len(pending)} of {len(started)} workers to start ({time.perf_counter() - began:.0f} s): "
            "loading the model, or their CPUs/GPUs are held by other Ray jobs (see 'ray status')")
    ray.get(started)


def _connect(address: str | None, workers: int | None, threads: int = 1) -> bool:
    """Connect to Ray: the current connection, a cluster (``address``), or a new local instance (returns True
    when this call started it, so the caller shuts it down). A local instance gets the CPUs of ``workers`` actors
    (at least one) of ``threads`` each, more than the machine's cores if so asked: an actor that asks for more
    CPUs than the instance has is never scheduled, and the run waited for it for ever."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing may reach the network at run time
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
        return False
    ray.init(address="local", num_cpus=max(os.cpu_count() or 1, (workers or 1) * threads), include_dashboard=False,
             logging_level=logging.WARNING)
    return True


def _write_line(line: str) -> None:
    """A line on stderr that does not break the progress bar."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)
