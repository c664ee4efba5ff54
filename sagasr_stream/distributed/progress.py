"""A batch job's progress in audio seconds: a tqdm bar on a terminal, plain lines in a log.

A job on a cluster writes its stderr to a log file, where a bar redrawn with carriage returns becomes one endless
line. So when the stream is not a terminal, :class:`AudioProgress` prints a whole line at most every
``log_every_s`` seconds (and one at the end): seconds of audio done of the total, files done, hours restored, the
speed against real time and the time left.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

LOG_EVERY_S = 60.0  # seconds between progress lines in a log


class AudioProgress:
    """Progress of ``total_s`` seconds of audio in ``files`` files; ``enabled`` False shows nothing.

    ``stream``: where it goes (stderr); ``clock``: seconds, monotonic (a test passes its own)."""

    def __init__(self, total_s: float, files: int, enabled: bool = True, stream: TextIO | None = None,
                 log_every_s: float = LOG_EVERY_S, clock: Callable[[], float] = time.perf_counter) -> None:
        self.total_s, self.files, self.done_s, self.done_files = total_s, files, 0.0, 0
        self.stream = sys.stderr if stream is None else stream
        self.log_every_s, self.clock = log_every_s, clock
        self.started = self.last_line = clock()
        terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar = self._bar() if enabled and terminal else None
        self.lines = enabled and not terminal

    def _bar(self) -> Any:  # a tqdm bar
        from tqdm import tqdm

        return tqdm(total=self.total_s, unit="s", desc="audio", file=self.stream, dynamic_ncols=True,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}, "
                               "{rate_fmt}{postfix}]")

    def advance(self, seconds: float = 0.0, files: int = 0) -> None:
        """``seconds`` more of audio done and ``files`` more files finished."""
        self.done_s += seconds
        self.done_files += files
        if self.bar is not None:
            self.bar.set_postfix_str(f"files {self.done_files}/{self.files}, {self.done_s / 3600:.3f} h", refresh=False)
            self.bar.update(seconds)
        elif self.lines and self.clock() - self.last_line >= self.log_every_s:
            self._line()

    def close(self) -> None:
        """The last line (in a log) or the bar closed."""
        if self.bar is not None:
            self.bar.close()
        elif self.lines:
            self._line()

    def line(self) -> str:
        """Where the job stands, in one line."""
        elapsed = max(self.clock() - self.started, 1e-9)
        share = self.done_s / self.total_s if self.total_s > 0 else 1.0
        speed = self.done_s / elapsed
        left = f"{max(0.0, self.total_s - self.done_s) / speed / 60:.1f} min left" if speed > 0 else "time left unknown"
        return (f"audio {self.done_s:.1f}/{self.total_s:.1f} s ({100 * share:.0f} %), files {self.done_files}/"
                f"{self.files}, {self.done_s / 3600:.3f} h restored, {speed:.1f}x real time, {left}")

    def _line(self) -> None:
        self.last_line = self.clock()
        print(self.line(), file=self.stream, flush=True)
