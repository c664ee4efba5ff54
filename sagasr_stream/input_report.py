"""What restoration will do with an input file: its band edge per window (``sagasr info --input``).

The edges are the ones restoration itself uses, found by the same pipeline (resample stage, windows, the signal's
band limit so far, the last window's padding unseen) with a window function that only records them: nothing is
restored and the model does not run. Beside them, how fast the input's mean spectrum falls below its edge: a
recording that is dark at the source (muffled, low-passed) falls faster than ordinary music does, and the default
model makes its band too bright (model card, "Limits").
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .api import file_source_grid_step, restore_pipeline, source_blocks
from .audio_io import open_input
from .dsp import EDGE_DROP_DB, N_FFT, interior_power
from .engine import SILENCE, WindowFn, WindowJob, WindowRestorer
from .integrity import check_audio_file
from .quantization import grid_step
from .replication import SLOPE_RANGE_DB_PER_OCTAVE, slope_below_edge
from .rates import choose_output_rate
from .restorer import Restorer, lower_limit
from .streaming import exact_length

STEEPEST_DB_PER_OCTAVE = SLOPE_RANGE_DB_PER_OCTAVE[0]  # below an 8-12 kHz edge, 99 % of music's windows fall slower


@dataclass(frozen=True)
class InputReport:
    """Band edges (Hz) of an input's windows as restoration finds them: (windows, channels) float64, NaN for a
    silent window of a channel; ``passing``: (windows,) bool, the windows restoration leaves unchanged (every
    channel silent or reaching ``target_rolloff_hz``)."""

    path: str
    source_rate: int
    channels: int
    seconds: float
    edges_hz: np.ndarray
    passing: np.ndarray
    target_rolloff_hz: float
    grid_step: float = 0.0  # the samples' integer grid as read (quantization.grid_step); 0: none, inf: silence
    model_rate: int = 44100
    file_grid_step: float = 0.0  # the grid whose rounding floor restoration takes (api.file_source_grid_step); 0: none
    slope_db_per_octave: float | None = None  # the mean spectrum's slope below the median edge; None: silent

    @property
    def kept_windows(self) -> int:
        """Windows that pass through unchanged."""
        return int(self.passing.sum())

    def lines(self) -> list[str]:
        windows = self.edges_hz.shape[0]
        head = f"input:           {self.path} ({self.source_rate} Hz, {self.channels} ch, {self.seconds:.2f} s)"
        passing = (f"kept as is:      everything below each window's edge; {self.kept_windows} of {windows} "
                   f"window(s) reach {self.target_rolloff_hz / 1000:g} kHz or are silent and pass through unchanged")
        sounding = self.edges_hz[np.isfinite(self.edges_hz)]
        if sounding.size == 0:
            return [head, "band edge:       none (digital silence)", passing]
        nyquist = self.source_rate / 2
        median = float(np.median(sounding))
        full = (" (full band: nothing missing; for a low-pass you know of that shows no cut, "
                "`sagasr restore --band-limit HZ`)" if median >= min(nyquist, self.target_rolloff_hz) - 1 else "")
        edge = (f"band edge:       {median / 1000:.2f} kHz median over {windows} window(s) of {self.channels} "
                f"channel(s) (range {sounding.min() / 1000:.2f}-{sounding.max() / 1000:.2f} kHz; "
                f"source Nyquist {nyquist / 1000:.2f} kHz){full}")
        return [head, edge, self.samples_line(), self.slope_line(median, restored=not full), passing]

    def slope_line(self, edge_hz: float, restored: bool = True) -> str:
        """How fast the spectrum falls below the band edge at ``edge_hz``, and, where a band is ``restored``,
        what a fall that fast means."""
        if self.slope_db_per_octave is None:
            return "slope:           none (no sound below the edge)"
        line = (f"slope:           {self.slope_db_per_octave:.1f} dB per octave over the two octaves below "
                f"{edge_hz / 1000:.2f} kHz (the mean spectrum)")
        if self.slope_db_per_octave >= STEEPEST_DB_PER_OCTAVE or not restored:
            return line
        return (line + f": faster than {STEEPEST_DB_PER_OCTAVE:g}, which ordinary music rarely does (model card). "
                "If the recording is dark at the source (muffled, low-passed), its restored band will come out too "
                "bright: lower it (--band-gain, --band-tilt) or leave the file unrestored; a gentle low-pass just "
                "below the edge falls this fast too")

    def samples_line(self) -> str:
        """What the samples' grid means for finding a cut in a quiet passage."""
        if not 0.0 < self.grid_step < np.inf:
            return ("samples:         not on an 8-16-bit integer grid (float, 24-bit or converted): a cut shows when "
                    f"the band stands {EDGE_DROP_DB:g} dB over the floor above it")
        bits = int(round(np.log2(1.0 / self.grid_step))) + 1
        if self.source_rate != self.model_rate:
            return (f"samples:         {bits}-bit, resampled to {self.model_rate} Hz first: a cut in a quiet passage "
                    f"is also looked for under the source's rounding noise and dither")
        return (f"samples:         {bits}-bit: a cut in a quiet passage is also looked for under the rounding noise "
                f"and dither")


class _EdgeSurvey(Restorer):
    """A Restorer whose window function records each job's band edge and whether it would pass, and returns
    the job's samples unchanged."""

    def __init__(self, restorer: Restorer, band_limit_hz: float | None = None) -> None:
        super().__init__(restorer.model, restorer.user_settings, lower_limit(restorer.band_limit_hz, band_limit_hz))
        self.edges: dict[tuple[int, int], float] = {}  # (window, channel) -> Hz, NaN when silent
        self.passing: dict[tuple[int, int], bool] = {}
        self.power = np.zeros(N_FFT // 2 + 1)  # the sum of the sounding windows' mean STFT power per bin

    def window_fn(self, band_limit_hz: float | None = None, channels: int = 1, source_floor: float = 0.0) -> WindowFn:
        detector = WindowRestorer(self.model, self.settings, lower_limit(self.band_limit_hz, band_limit_hz),
                                  self.window_floor(source_floor, channels))

        def survey(jobs: list[WindowJob]) -> list[np.ndarray]:
            audio = np.stack([job.audio for job in jobs])
            bins = detector.edge_bins(audio, None, [job.signal_limit for job in jobs], [job.valid for job in jobs])
            silent = np.abs(audio).max(axis=1) < SILENCE
            complete = detector.complete(bins)
            for job, edge, quiet, full in zip(jobs, bins, silent, complete):
                self.edges[(job.index, job.channel)] = np.nan if quiet else float(edge * detector.bin_hz)
                self.passing[(job.index, job.channel)] = bool(quiet or full)
                if not quiet:
                    self.power += interior_power(job.audio[: job.valid].astype(np.float64))
            return [job.audio for job in jobs]

        return survey


def inspect_input(path: str | os.PathLike[str], restorer: Restorer, band_limit_hz: float | None = None) -> InputReport:
    """Run ``path`` through restoration's pipeline with ``restorer``'s settings (and ``band_limit_hz``, as
    ``sagasr restore --band-limit``), recording each window's band edge per channel instead of restoring it.
    Reads incrementally (:func:`~sagasr_stream.api.source_blocks`); a damaged file, or one holding NaN/Inf samples, raises :class:`AudioFileError` naming it."""
    source = Path(path)
    survey = _EdgeSurvey(restorer, band_limit_hz)
    with open_input(source) as (reader, channels, rate):
        frames = check_audio_file(source)
        out_rate = choose_output_rate(None, rate, survey.sample_rate)
        model_frames = exact_length(frames, rate, survey.sample_rate)
        out_frames = exact_length(frames, rate, out_rate)
        file_step = file_source_grid_step(source, reader, frames, rate, survey.sample_rate)
        pipeline = restore_pipeline(survey, channels, rate, out_rate, out_frames, model_frames,
                                    source_grid_step=file_step)
        step = np.inf
        for block in source_blocks(reader, source, frames):
            step = min(step, float(np.min(grid_step(block))))
            pipeline.process(block)
        pipeline.flush()
    windows = survey.plan.n_windows(model_frames)
    edges = np.array([[survey.edges[(k, c)] for c in range(channels)] for k in range(windows)], dtype=np.float64)
    passing = np.array([all(survey.passing[(k, c)] for c in range(channels)) for k in range(windows)], dtype=bool)
    complete_hz = survey.settings.complete_band_hz
    return InputReport(str(path), rate, channels, frames / rate, edges, passing, complete_hz, step,
                       survey.sample_rate, file_step, slope_below(survey.power, edges, survey.sample_rate))


def slope_below(power: np.ndarray, edges_hz: np.ndarray, sample_rate: int) -> float | None:
    """:func:`~.replication.slope_below_edge` of the mean power ``power`` (bins,) at the median of ``edges_hz``
    (windows, channels; NaN: silent); ``None`` when silent."""
    sounding = edges_hz[np.isfinite(edges_hz)]
    if sounding.size == 0 or not power.any():
        return None
    return slope_below_edge(power, int(round(float(np.median(sounding)) * N_FFT / sample_rate)), sample_rate)
