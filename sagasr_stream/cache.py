"""A small per-user cache that makes loading a model faster the second time.

- Verified file hashes: the SHA-256 of a bundle file, recorded only after it matched the manifest, keyed by
  (absolute path, size, mtime_ns, ctime_ns, inode). A file that is rewritten, truncated, replaced or touched is
  hashed again. The graphs themselves are hashed again when a session is built from them (their bytes, as read).
- ONNX Runtime's optimised graphs (see :mod:`sagasr_stream.backends.onnx`), keyed by the graph's SHA-256.

Where: ``$SAGASR_CACHE_DIR``, else ``$XDG_CACHE_HOME/sagasr_stream``, else ``~/.cache/sagasr_stream``.
Set ``SAGASR_NO_CACHE=1`` to disable it (every file is then hashed and every graph optimised on each load).
The cache is an optimisation only: an unreadable or damaged cache is ignored, a failed write is not an error. It is
trusted like the rest of the user's home: whoever can write in it can also change the installed package.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from .files import atomic_write_text, file_stamp as stamp_of

HASHES_FILE = "verified_hashes.json"
MAX_HASH_ENTRIES = 512
_lock = threading.Lock()


def cache_enabled() -> bool:
    """False when ``SAGASR_NO_CACHE`` is set to anything but "", "0" or "false"."""
    return os.environ.get("SAGASR_NO_CACHE", "").strip().lower() in ("", "0", "false")


def cache_dir() -> Path:
    """The cache folder (not created here)."""
    explicit = os.environ.get("SAGASR_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sagasr_stream"


def file_stamp(path: Path) -> tuple[str, list[int]]:
    """(absolute path, [size, mtime_ns, ctime_ns, inode]): what must not change for a recorded hash to hold
    (:func:`~sagasr_stream.files.file_stamp`)."""
    return str(path.resolve()), list(stamp_of(path))


def _load_hashes() -> dict[str, list]:
    try:
        data = json.loads((cache_dir() / HASHES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def known_verified_hashes(paths: list[Path]) -> dict[Path, str]:
    """The SHA-256 recorded for each of ``paths`` whose :func:`file_stamp` is unchanged since it was verified
    (one read of the cache for all of them); files not in the cache, or changed since, are left out."""
    if not cache_enabled():
        return {}
    table, known = _load_hashes(), {}
    for path in paths:
        try:
            name, stamp = file_stamp(path)
        except OSError:
            continue
        entry = table.get(name)
        if isinstance(entry, list) and len(entry) == 5 and entry[:4] == stamp and isinstance(entry[4], str):
            known[path] = entry[4]
    return known


def remember_verified_hashes(hashes: dict[Path, tuple[list[int], str]]) -> None:
    """Record files whose SHA-256 was just checked against a manifest, each with the :func:`file_stamp` taken
    before it was hashed (a file changed while it was read is then hashed again next time); one cache write."""
    if not cache_enabled() or not hashes:
        return
    with _lock:
        try:
            data = _load_hashes()
            for path, (stamp, digest) in hashes.items():
                name = str(path.resolve())
                data.pop(name, None)
                data[name] = [*stamp, digest]  # newest last: the oldest entries go first when the cache is full
            while len(data) > MAX_HASH_ENTRIES:
                data.pop(next(iter(data)))
            cache_dir().mkdir(parents=True, exist_ok=True)
            atomic_write_text(cache_dir() / HASHES_FILE, json.dumps(data, indent=0))
        except OSError:
            pass  # a read-only home or a full disk must not stop a model from loading
