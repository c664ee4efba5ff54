"""Pieces the command-line verbs share (``sagasr upsample``, ``sagasr eval``): finding the input files and
turning the parsed restore options into settings. Kept apart from :mod:`sagasr_stream.cli` so that the
evaluation's command can use them without importing the CLI that imports it."""
from __future__ import annotations

import argparse
import glob
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .errors import SagasrError

if TYPE_CHECKING:
    from .settings import RestoreSettings

AUDIO_SUFFIXES = {".wav", ".flac", ".aiff", ".aif", ".mp3", ".ogg", ".m4a"}


def expand_inputs(patterns: Sequence[str]) -> list[tuple[Path, Path]]:
    """Files, folders (searched recursively) and globs -> sorted unique (file, path relative to its root).

    A folder's files keep their path below the folder; a glob's matches keep their path below the glob's
    fixed leading folders (:func:`glob_root`), so ``-o`` mirrors the input tree."""
    found: dict[Path, Path] = {}
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            files = [f for f in sorted(path.rglob("*")) if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES
                     and not f.name.startswith(".")]
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
            root = glob_root(pattern)
            for file in matches:
                found.setdefault(file.resolve(), file.relative_to(root))
    return sorted(found.items())


def glob_root(pattern: str) -> Path:
    """The folder a glob searches from: its leading parts without wildcards (``tapes/**/*.wav`` -> ``tapes``)."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def settings_from_args(args: argparse.Namespace) -> "RestoreSettings":
    """The :class:`~sagasr_stream.settings.RestoreSettings` of the restore options (``add_restore_options``)."""
    from .settings import RestoreSettings

    return RestoreSettings().with_(
        steps=args.steps, cfg_acoustic=args.cfg_acoustic, cfg_text=args.cfg_text, cfg_form=args.cfg_form,
        target_rolloff_hz=args.target_rolloff, caption=args.caption, overlap=args.overlap,
        batch_size=args.batch_size, seed=args.seed, low_band=args.low_band,
        stereo=getattr(args, "stereo", None),
    )
