"""Small file utilities shared by the runtime, the exporter and training: a file's SHA-256, a path that must
stay inside a folder, and atomic writes (a temporary file or folder beside the target, renamed into place with
``os.replace`` only on success, removed on failure: a reader never sees half a file or half a folder)."""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_stamp(path: str | os.PathLike[str]) -> tuple[int, int, int, int]:
    """(size, mtime_ns, ctime_ns, inode) of a file: what must stay the same for a result recorded about it (a
    verified hash, a finished output) to hold. The status-change time cannot be set back (``os.utime`` sets only
    mtime and atime, and itself moves it), so content rewritten in place with its size and mtime restored, or a
    file replaced by ``cp -p``, counts as changed."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


def path_inside(root: Path, name: str) -> Path | None:
    """``root / name`` resolved, or None when ``name`` is absolute or leads outside ``root`` (path traversal)."""
    target = (root / name).resolve()
    if os.path.isabs(name) or not target.is_relative_to(root.resolve()):
        return None
    return target


def name_hash(name: str) -> str:
    """12 hex digits of the SHA-256 of a file name: a short stand-in for it in temporary names."""
    return hashlib.sha256(os.fsencode(name)).hexdigest()[:12]


def temporary_name(destination: Path) -> Path:
    """A hidden, unique name beside ``destination`` (same folder, so the final rename is atomic), of a fixed
    length (about 45 bytes) whatever the length of ``destination``'s name: a name that fits fits its temporary."""
    return destination.with_name(f".sagasr-{name_hash(destination.name)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str], tmp: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``destination`` (``tmp``, or :func:`temporary_name`); when the block ends
    without error, rename it onto ``destination``; on any error (or interrupt) remove it and re-raise.

    A chosen ``tmp`` has a name that can be guessed: whatever lies there already (a file a killed run left, or a
    symbolic link planted to make the write land elsewhere) is removed first, never written through."""
    destination = Path(destination)
    if tmp is None:
        tmp = temporary_name(destination)
    elif tmp.is_symlink() or tmp.is_file():
        tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, destination)
    except BaseException:
        # nothing there (never made; a read-only file system refuses even that unlink): the error is the caller's
        if os.path.lexists(tmp):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_folder(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new empty folder beside ``destination`` (``.NAME.partial``, one left by an interrupted write
    removed first) to fill; when the block ends without error it replaces ``destination`` (an old one is renamed
    aside first and removed only after); on any error (or interrupt) it is removed and ``destination`` left as it
    was."""
    final = Path(destination)
    tmp, old = final.with_name(f".{final.name}.partial"), final.with_name(f".{final.name}.old")
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (the file gets the usual permissions for new files, per the umask)."""
    with atomic_path(path) as tmp, open(tmp, "xb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    with atomic_path(path) as tmp, open(tmp, "x", encoding=encoding) as f:
        f.write(text)
