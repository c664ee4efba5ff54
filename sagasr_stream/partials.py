"""Stale partial files: a killed run leaves its hidden ``.name.partial-PID.ext`` temporary behind.

:func:`remove_stale_partials` deletes only files with our naming scheme whose PID no longer runs; a
partial of a live process (another run writing now) is left alone.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

PARTIAL = re.compile(r"^\.(?P<stem>.+)\.partial-(?P<pid>\d+)(?P<suffix>\.(?:wav|flac|aiff|aif))$", re.IGNORECASE)


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


def remove_stale_partials(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete ``.NAME.partial-PID.EXT`` files in ``folder`` (not recursive) whose PID is not running; return them."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = PARTIAL.match(path.name)
        if not match or not path.is_file() or path.is_symlink() or process_is_running(int(match["pid"])):
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed
