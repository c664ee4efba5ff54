"""The batch worker: a Ray actor class that loads one :class:`~sagasr_stream.restorer.Restorer` (model + resolved
settings) once and runs :mod:`.jobs` tasks with it.

Plain Python here (no Ray import): :mod:`.runner` wraps it with ``ray.remote`` and restart/retry options, so a
killed worker process is restarted and its task run again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import SagasrError
from ..settings import RestoreSettings
from .jobs import FileJob, Prepared, prepare, restore_whole, run_segment, stitch, worker_name
from .segments import Segment

#: errors that mean "this input is bad": recorded for the file, the run goes on
FILE_ERRORS = (SagasrError, ValueError, OSError)


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker loads: the bundle (None: embedded), provider, settings, output rate, ORT threads, the
    inputs' known bandwidth (Hz; None: detected), the outputs' bit depth (None: the format's default) and a lossy
    output's quality (None: the format's default)."""

    model: str | None
    provider: str
    allow_torchscript: bool
    settings: RestoreSettings
    output_rate: int | None
    threads: int | None = None
    band_limit_hz: float | None = None
    bit_depth: int | None = None
    quality: str | None = None


class BatchWorker:
    """Holds one :class:`Restorer`; each method returns plain dicts (``"error"`` set for a bad input)."""

    def __init__(self, config: WorkerConfig) -> None:
        if config.threads:
            os.environ["SAGASR_THREADS"] = str(config.threads)
        from ..restorer import Restorer

        self.config = config
        self.restorer = Restorer.load(config.model, config.settings, config.provider, config.allow_torchscript,
                                      config.band_limit_hz)

    def pid(self) -> int:
        return os.getpid()

    def restore_files(self, jobs: list[FileJob]) -> list[dict[str, Any]]:
        """Whole files, one after the other; a bad file gives an error record and the next one runs."""
        return [self._guard(restore_whole, self.restorer, self.config.output_rate, job, self.config.bit_depth,
                            self.config.quality)
                for job in jobs]

    def prepare(self, job: FileJob) -> dict[str, Any]:
        return self._guard(lambda: {"prepared": prepare(self.restorer, job)})

    def segment(self, job: FileJob, prepared: Prepared, index: int, segment: Segment) -> dict[str, Any]:
        return self._guard(run_segment, self.restorer, job, prepared, index, segment)

    def stitch(self, job: FileJob, prepared: Prepared, segments: list[Segment]) -> dict[str, Any]:
        return self._guard(stitch, self.restorer, self.config.output_rate, job, prepared, segments,
                           self.config.bit_depth, self.config.quality)

    @staticmethod
    def _guard(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        try:
            return {"error": None, **fn(*args)}
        except FILE_ERRORS as exc:
            return {"error": f"{type(exc).__name__}: {exc}", "worker": worker_name()}
