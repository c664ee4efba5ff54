"""Batch inputs: files, folders and globs (:func:`~sagasr_stream.input_files.expand_inputs`), plus list files
(``.txt``/``.lst``/``.m3u``: one path, folder or glob a line, ``#`` comments, relative to the list's folder)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from ..input_files import check_collisions, expand_inputs
from ..errors import SagasrError

LIST_SUFFIXES = {".txt", ".lst", ".m3u"}


def read_path_list(path: Path) -> list[str]:
    """The entries of a list file, relative ones resolved against the list's folder."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SagasrError(f"cannot read the list of inputs {path}: {exc}") from exc
    entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not entries:
        raise SagasrError(f"the list of inputs {path} names no files")
    return [entry if os.path.isabs(entry) else str(path.parent / entry) for entry in entries]


def discover(patterns: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    """Sorted unique (input file, its path relative to its root) for files, folders, globs and list files
    (one path alone counts as a list of one, not as a sequence of letters). A list's entries keep their path
    below the list's folder (or just their name when outside it)."""
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    found: dict[Path, Path] = {}
    for pattern in map(str, patterns):
        path = Path(pattern)
        if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            for file, rel in expand_inputs(read_path_list(path)):
                try:
                    rel = file.relative_to(path.parent.resolve())
                except ValueError:
                    pass
                found.setdefault(file, rel)
        else:
            for file, rel in expand_inputs([pattern]):
                found.setdefault(file, rel)
    return sorted(found.items())


def output_paths(inputs: list[tuple[Path, Path]], folder: Path, suffix: str) -> list[Path]:
    """``folder / rel`` with ``suffix`` for each input; raises :class:`SagasrError` when two inputs share an
    output or an output would be an input file."""
    outputs = [folder / rel.with_suffix(suffix) for _, rel in inputs]
    sources = {file.resolve() for file, _ in inputs}
    for (file, _), out in zip(inputs, outputs):
        if out.resolve() in sources:
            raise SagasrError(f"the output {out} of {file} is an input file (choose another -o folder)")
    check_collisions(inputs, outputs)
    return outputs


def plan_outputs(
    found: list[tuple[Path, Path]], folder: Path, suffix: str, scratch: Path, written: Callable[[Path], bool]
) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(inputs, their :func:`output_paths`) without the scratch folder ``scratch``'s files and without the inputs
    that are another input's output and that ``written`` says an earlier run wrote there (its manifest records
    them, unchanged): a rerun whose output folder is inside an input folder skips or redoes its outputs, it does
    not restore them again (nor refuse to run). Any other input that an output would land on is the user's own
    file (``x.flac`` beside ``x.wav`` with ``-o`` the folder itself): :func:`output_paths` refuses the run."""
    of = {(folder / rel.with_suffix(suffix)).resolve(): file for file, rel in found}  # output -> its input
    kept = [(file, rel) for file, rel in found
            if not file.is_relative_to(scratch) and (of.get(file, file) == file or not written(file))]
    return kept, output_paths(kept, folder, suffix)
