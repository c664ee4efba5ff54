"""Stale partial files: a killed run leaves its hidden ``.sagasr-HASH.partial-PID.ext`` temporary behind
(:func:`sagasr_stream.audio_io.partial_path`; before 2026-12-02 ``.NAME.partial-PID.ext``).

:func:`remove_stale_partials` deletes only files with our naming scheme whose PID no longer runs, and never a
file the caller names as its input; a partial of a live process (another run writing now) is left alone.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Collection

PARTIAL = re.compile(r"^\.(?P<stem>.+)\.partial-(?P<pid>\d+)(?P<suffix>\.(?:wav|flac|aiff|aif|mp3|ogg))$", re.IGNORECASE)


def process_is_running(pid: int) -> bool:
    """Whether a process with ``pid`` exists (True when unsure, so that nothing live is deleted)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill would terminate the process on Windows: never guess there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists but belongs to someone else, or cannot tell
    return True


def stale_partials(folder: str | os.PathLike[str]) -> list[Path]:
    """Files in ``folder`` (not recursive, sorted) named as our partial files whose PID no longer runs."""
    try:
        entries = sorted(Path(folder).iterdir())
    except OSError:
        return []
    stale = []
    for path in entries:
        match = PARTIAL.match(path.name)
        if match and path.is_file() and not path.is_symlink() and not process_is_running(int(match["pid"])):
            stale.append(path)
    return stale


def remove_stale_partials(folder: str | os.PathLike[str], keep: Collection[Path] = ()) -> list[Path]:
    """Delete :func:`stale_partials` of ``folder``, but none whose resolved path is in ``keep`` (a run's inputs:
    a user's file may be named like ours); return those deleted."""
    kept = {Path(p).resolve() for p in keep}
    removed: list[Path] = []
    for path in stale_partials(folder):
        if path.resolve() in kept:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed
