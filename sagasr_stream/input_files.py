"""Finding the input audio files of a run: files, folders (searched recursively) and glob patterns, each with its
path below its root (so outputs can mirror the input tree). Used by ``sagasr restore`` and the evaluation."""
from __future__ import annotations

import glob
from pathlib import Path
from typing import Hashable, Sequence

from .errors import SagasrError

AUDIO_SUFFIXES = {".wav", ".flac", ".aiff", ".aif", ".mp3", ".ogg", ".m4a"}


def expand_inputs(patterns: Sequence[str]) -> list[tuple[Path, Path]]:
    """Files, folders (searched recursively) and globs -> sorted unique (file, path relative to its root).

    A folder's files and a glob's matches are those with an audio suffix (:data:`AUDIO_SUFFIXES`, not hidden:
    a README.md beside the audio is left out); a file named by itself is taken whatever its suffix. A folder's
    files keep their path below the folder; a glob's matches keep their path below the glob's fixed leading
    folders (:func:`glob_root`), so ``-o`` mirrors the input tree."""
    found: dict[Path, Path] = {}
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            files = [f for f in sorted(path.rglob("*")) if f.is_file() and is_audio_name(f)]
            if not files:
                raise SagasrError(f"no audio files found in {path} (looked for {', '.join(sorted(AUDIO_SUFFIXES))})")
            for file in files:
                found.setdefault(file.resolve(), file.relative_to(path))
        elif path.is_file():
            found.setdefault(path.resolve(), Path(path.name))
        else:
            matches = [Path(m) for m in sorted(glob.glob(pattern, recursive=True)) if Path(m).is_file()]
            if not matches:
                raise SagasrError(f"no input matches {pattern!r}")
            matches = [m for m in matches if is_audio_name(m)]
            if not matches:
                raise SagasrError(f"no audio files match {pattern!r} (looked for {', '.join(sorted(AUDIO_SUFFIXES))})")
            root = glob_root(pattern)
            for file in matches:
                found.setdefault(file.resolve(), file.relative_to(root))
    return sorted(found.items())


def is_audio_name(file: Path) -> bool:
    """Whether a file found in a folder or by a glob is taken as audio: an audio suffix, not a hidden name."""
    return file.suffix.lower() in AUDIO_SUFFIXES and not file.name.startswith(".")


def outside_folder(inputs: list[tuple[Path, Path]], folder: Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(the inputs, the files left out): :func:`expand_inputs`'s (file, relative path) pairs without the files in
    ``folder`` where it lies strictly below the folder or glob root they were found in (``restore in -o
    in/restored`` run again: the earlier results are not new inputs). A file named by itself, or found in
    ``folder`` as the root, stays."""
    folder = folder.resolve()
    kept: list[tuple[Path, Path]] = []
    left_out: list[Path] = []
    for file, rel in inputs:
        if file.is_relative_to(folder) and len(file.relative_to(folder).parts) < len(rel.parts):
            left_out.append(file)
        else:
            kept.append((file, rel))
    return kept, left_out


def glob_root(pattern: str) -> Path:
    """The folder a glob searches from: its leading parts without wildcards (``tapes/**/*.wav`` -> ``tapes``)."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def clashes(files: Sequence[Path], keys: Sequence[Hashable]) -> list[tuple[Path, Path, int]]:
    """(the first file with a key, a later file with the same key, that later file's index) for every file whose
    key (``keys[i]`` is ``files[i]``'s) an earlier one already had."""
    first: dict[Hashable, Path] = {}
    found = []
    for i, (file, key) in enumerate(zip(files, keys)):
        if key in first:
            found.append((first[key], file, i))
        first.setdefault(key, file)
    return found


def check_collisions(inputs: list[tuple[Path, Path]], outputs: list[Path]) -> None:
    """Raise :class:`SagasrError` when two inputs would be written to the same output file (``outputs[i]`` is
    ``inputs[i]``'s)."""
    found = clashes([source for source, _ in inputs], [destination.resolve() for destination in outputs])
    if found:
        raise SagasrError("several inputs would be written to the same output (nothing was done): " + "; ".join(
            f"{earlier} and {source} would both be written to {outputs[i]}" for earlier, source, i in found))
