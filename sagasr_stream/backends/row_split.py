"""Run a batched graph call as concurrent row groups, one per CPU core, on single-threaded sessions.

Why: ONNX Runtime's CPU ``Sin`` kernel is single-threaded, and the snake activations of the VAE spend about
40 % of its time in it (benchmarks/speed_results.md), so a multi-threaded session leaves the other cores idle
for that share. Splitting the rows (windows) of one call into groups that run at the same time, each on a
one-thread session, keeps every core busy through every op; it also avoids the intra-op thread pool's
barrier waits, which cost most on a loaded machine. Rows of the VAE and of the DiT are computed
independently, so the result is bit-identical to one call on the whole batch (tests/runtime/test_row_split.py).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from ..errors import ParameterError

#: graphs whose rows are computed independently -> the fewest rows per worker for which a call is split.
#: The VAE's time is dominated by single-threaded kernels (split from 2 rows = 2 windows); the DiT's by
#: multi-threaded MatMuls (split when every worker gets 2 rows or more, i.e. from 2 windows of 3 CFG rows,
#: never the 3 rows of one live window, where the groups would be uneven). 0: every call, one row too, runs
#: on the one-thread session: the encoder's multi-threaded convolution sums in another order (up to 5e-7 of
#: the latent), so one window alone and the same window in a batch would differ.
ROW_SPLIT_GRAPHS = {"vae_encoder": 0, "vae_decoder": 1, "dit": 2}


def row_groups(rows: int, workers: int) -> list[tuple[int, int]]:
    """``rows`` split into at most ``workers`` contiguous (start, stop) groups, sizes differing by at most 1."""
    groups = max(1, min(rows, workers))
    edges = np.linspace(0, rows, groups + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def default_workers() -> int:
    """Concurrent row groups: the cores this process may use (``SAGASR_ROW_SPLIT=0`` or ``1`` turns it off)."""
    setting = os.environ.get("SAGASR_ROW_SPLIT", "").strip()
    if setting:
        if not setting.isdigit():
            raise ParameterError(f"SAGASR_ROW_SPLIT must be a whole number of row groups (0 or 1: off), got {setting!r}")
        return max(1, int(setting))
    return available_cores()


def available_cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_setting(threads: int | None = None) -> int | None:
    """The threads asked for: ``threads``, else ``SAGASR_THREADS``; None when neither is given (or 0)."""
    return int(threads or os.environ.get("SAGASR_THREADS") or 0) or None


def cpu_workers(threads: int | None = None) -> int:
    """Threads the CPU-side work of a restore may use at once: :func:`thread_setting` (a backend's ``threads``,
    else ``SAGASR_THREADS``), else :func:`available_cores`."""
    return thread_setting(threads) or available_cores()


class RowSplitter:
    """Runs ``session.run`` on row groups of the first input, concurrently, and concatenates the outputs.

    ``make_session()`` builds a one-thread session of the graph; it is called once, on the first split call
    (a session may be run from several threads at once).
    """

    def __init__(self, make_session: Callable[[], Any], workers: int, rows_per_worker: int = 1) -> None:
        self.workers = workers
        self.rows_per_worker = rows_per_worker
        self._make_session = make_session
        self._session: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def applies(self, rows: int) -> bool:
        """Whether a call with ``rows`` rows is split: two or more workers, each with ``rows_per_worker`` (0:
        every call, on the one-thread session, however few its rows and workers: with row groups off too, so
        that the values never depend on the batch or on the thread settings)."""
        if self.rows_per_worker == 0:
            return True
        return self.workers >= 2 and rows >= max(2, self.workers * self.rows_per_worker)

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The first output of the graph for ``feeds``, every input split along axis 0 (rows)."""
        with self._lock:
            if self._session is None:
                self._session = self._make_session()
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sagasr-rows")
        session, pool = self._session, self._pool
        assert pool is not None
        rows = next(iter(feeds.values())).shape[0]
        futures = [pool.submit(session.run, None, {k: v[a:b] for k, v in feeds.items()})
                   for a, b in row_groups(rows, self.workers)]
        return np.concatenate([f.result()[0] for f in futures])
