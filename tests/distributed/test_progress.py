"""A batch job's progress: plain lines at most every interval in a log (not a terminal), a bar on a terminal."""
import io

from sagasr_stream.distributed.progress import AudioProgress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_whole_lines_at_most_every_interval_and_one_at_the_end():
    log, clock = io.StringIO(), Clock()
    progress = AudioProgress(600.0, 3, stream=log, log_every_s=60.0, clock=clock)
    for _ in range(10):  # 10 s of audio every 10 s: one line a minute
        clock.now += 10.0
        progress.advance(10.0)
    progress.advance(500.0, files=3)
    progress.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 2  # at 60 s (none at 100 s, too soon), and at the end
    assert lines[0] == "audio 60.0/600.0 s (10 %), files 0/3, 0.017 h restored, 1.0x real time, 9.0 min left"
    assert lines[-1].startswith("audio 600.0/600.0 s (100 %), files 3/3, 0.167 h restored, 6.0x real time, 0.0 min")


def test_a_terminal_gets_a_bar_and_disabled_progress_nothing():
    terminal = Terminal()
    progress = AudioProgress(10.0, 1, stream=terminal)
    progress.advance(4.0, files=1)
    progress.close()
    assert "\r" in terminal.getvalue() and "files 1/1" in terminal.getvalue()
    for stream in (io.StringIO(), Terminal()):
        quiet = AudioProgress(10.0, 1, enabled=False, stream=stream, log_every_s=0.0)
        quiet.advance(10.0, files=1)
        quiet.close()
        assert stream.getvalue() == ""


def test_segments_summing_past_the_total_leave_no_negative_time():
    """Segment seconds add up to a hair over the file's (float sums): the last line said "-0.0 min left"."""
    log, clock = io.StringIO(), Clock()
    progress = AudioProgress(0.3, 1, stream=log, clock=clock)
    clock.now = 1.0
    for _ in range(3):
        progress.advance(0.1)  # 0.1 + 0.1 + 0.1 > 0.3
    progress.advance(files=1)
    progress.close()
    assert "-0.0" not in log.getvalue() and "0.0 min left" in log.getvalue()
