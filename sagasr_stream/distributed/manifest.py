"""The run manifest: one JSON line per finished (or failed) file in the output folder, appended as results
arrive, so that a rerun skips what is complete.

A file is complete when its latest record says ``"status": "ok"`` for the same settings fingerprint and the
same input (path, size, modification and status-change times, inode), and the output on disk still has the
recorded SHA-256. A line cut short by a killed run, or otherwise damaged, is ignored (that file is simply redone).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from ..errors import SagasrError
from ..files import file_stamp, sha256_file

MANIFEST_NAME = "batch-manifest.jsonl"


@contextlib.contextmanager
def output_folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder`` for one batch run: a second run into it at the same time is refused (two runs used to do
    every file twice and delete each other's scratch). An advisory ``flock`` on the folder itself (no file is left
    in it), released when the run ends or its process dies; where ``fcntl`` does not exist (Windows) nothing is
    held."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SagasrError(f"another sagasr batch is writing into {folder}: wait for it to end, or choose "
                              "another -o folder") from None
        yield
    finally:
        os.close(fd)


def input_identity(source: Path) -> dict[str, Any]:
    """What must not change for an output (or a long file's finished segments) to stay valid: the input's resolved
    path and its :func:`~sagasr_stream.files.file_stamp` (size, mtime, ctime, inode: an input replaced by other
    audio of the same length with its mtime kept, ``cp -p``, is redone)."""
    size, mtime_ns, ctime_ns, inode = file_stamp(source)
    return {"input": str(source.resolve()), "input_size": size, "input_mtime_ns": mtime_ns,
            "input_ctime_ns": ctime_ns, "input_inode": inode}


class RunManifest:
    """JSON-lines records in ``folder / MANIFEST_NAME``; :meth:`append` flushes and fsyncs each line."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / MANIFEST_NAME

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first (a damaged or cut-short line is skipped)."""
        if not self.path.is_file():
            return
        with open(self.path, "rb") as f:
            for raw in f:
                try:
                    record = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):  # a damaged line: that file is redone
                    continue
                if isinstance(record, dict) and isinstance(record.get("output"), str):
                    yield record

    def latest(self) -> dict[str, dict[str, Any]]:
        """Output path -> its newest record."""
        return {record["output"]: record for record in self.records()}

    def wrote(self, path: Path) -> bool:
        """Whether the newest record of the output ``path`` says a run restored it there and the file is as it
        was written (its hash): our output, not a file of the user's that has its name."""
        record = self.latest().get(str(path))
        if not record:
            return False
        try:
            return record.get("status") == "ok" and path.is_file() and sha256_file(path) == record.get("output_sha256")
        except OSError:
            return False

    def append(self, record: dict[str, Any]) -> None:
        """Add one record as one line (a line cut by a crash cannot spoil the ones before it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            if f.tell() and not self._ends_with_newline():
                f.write("\n")  # a previous run died mid-line: start a fresh line
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"


def is_complete(record: dict[str, Any] | None, source: Path, destination: Path, fingerprint: str) -> bool:
    """Whether ``record`` vouches for ``destination``: ok, same settings and input, output hash unchanged."""
    if not record or record.get("status") != "ok" or record.get("fingerprint") != fingerprint:
        return False
    try:
        identity = input_identity(source)
        if any(record.get(key) != value for key, value in identity.items()):
            return False
        return destination.is_file() and sha256_file(destination) == record.get("output_sha256")
    except OSError:
        return False
