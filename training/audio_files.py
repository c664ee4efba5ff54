"""The audio files of a training corpus: every audio file under a folder, or those a file list names.

Shared by the data pipeline (:mod:`.data`), the pair bank and caption generation (:mod:`.captions`)."""
from __future__ import annotations

import os
from pathlib import Path

from sagasr_stream.input_files import AUDIO_SUFFIXES

# the runtime's suffixes (one list: training reads with the same decoder, pedalboard); `.m4a` is read on macOS only
AUDIO_EXTENSIONS = tuple(sorted(AUDIO_SUFFIXES))


def scan_audio(root: str | os.PathLike[str]) -> list[Path]:
    """All audio files under ``root`` (recursive, sorted, hidden files skipped); a name that is not UTF-8 (which
    the decoder, the caption cache and the split hash cannot take) is an error naming it."""
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    for p in files:
        try:
            str(p).encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(p).decode("ascii", "backslashreplace")
            raise ValueError(f"{shown}: the file name is not UTF-8; rename it (e.g. convmv -f latin1 -t utf8)"
                             ) from None
    return files


def listed_audio(root: str | os.PathLike[str], file_list: str | os.PathLike[str]) -> list[Path]:
    """The files named in ``file_list`` (one path relative to ``root`` per line; blank lines and # comments
    ignored), in that order; a listed file that does not exist is an error naming it."""
    root = Path(root)
    files = []
    for n, line in enumerate(Path(file_list).read_text(encoding="utf-8").splitlines()):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = root / line
        if not path.is_file():
            raise ValueError(f"{file_list}:{n + 1}: {path} is not a file")
        files.append(path)
    return files
