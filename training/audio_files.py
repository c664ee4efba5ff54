"""The audio files of a training corpus: every audio file under a folder, or those a file list names, and the
check that each one is whole before a data set is built on them (:func:`checked_clips`).

Shared by the data pipeline (:mod:`.data`), the pair bank and caption generation (:mod:`.captions`)."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from sagasr_stream.errors import AudioFileError
from sagasr_stream.input_files import AUDIO_SUFFIXES

# the runtime's suffixes (one list: training reads with the runtime's reader, open_input); `.m4a` is read on macOS only
AUDIO_EXTENSIONS = tuple(sorted(AUDIO_SUFFIXES))


def named_folder(text: str) -> tuple[str, str, int | None]:
    """``NAME=FOLDER[:N]`` -> (NAME, FOLDER, N or None); a colon not followed by digits alone is part of FOLDER.
    Without ``=`` the name is the whole text and the folder empty (the caller's error)."""
    name, _, rest = text.partition("=")
    head, colon, tail = rest.rpartition(":")
    if colon and tail.isdigit():
        return name, head, int(tail)
    return name, rest, None


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


def corpus_audio(root: str | os.PathLike[str], file_list: str | os.PathLike[str] | None = None) -> list[Path]:
    """The audio files of a corpus: those ``file_list`` names (:func:`listed_audio`), or every one under ``root``
    (:func:`scan_audio`)."""
    return listed_audio(root, file_list) if file_list else scan_audio(root)


def runtime_frames(frames: int, path: str | os.PathLike[str]) -> int:
    """``frames`` (an audio file's count by its decoder, at its own rate) as the runtime reads the file
    (:func:`~sagasr_stream.audio_io.open_input`): an MP3's without the encoder delay and padding its LAME tag records
    (:func:`~sagasr_stream.mp3.mp3_gapless`), which pedalboard's decoder returns."""
    from sagasr_stream.mp3 import mp3_gapless

    gapless = mp3_gapless(path)
    return frames if gapless is None else gapless[1]


def frames_at(frames: int, rate: float, sample_rate: int) -> int:
    """``frames`` samples at ``rate`` counted at ``sample_rate`` (rounded down, as pedalboard's resampled reader
    counts them): a clip's length in a data set (:func:`sagasr_training.data.audio_frames`)."""
    return int(frames * sample_rate / rate)


TAIL_FRAMES = 4096  # frames decoded at a file's end: where a cut FLAC file decodes to zeros
MAX_NAMED = 20  # damaged files named in the error; the rest are counted


def clip_frames(path: str | os.PathLike[str]) -> tuple[int, float]:
    """(frames, sample rate) of an audio file that passes the checks a data set is built on, at the cost of its
    headers (and a FLAC file's last :data:`TAIL_FRAMES` frames): it opens, holds frames, its structure is whole
    (:func:`sagasr_stream.integrity.header_problem`: a cut WAV/AIFF, MP3 or Ogg file, a FLAC header at odds with
    its decoder) and a FLAC file's end decodes; one ending in digital silence (where a cut one decodes to zeros)
    is decoded whole against its MD5 (:func:`~sagasr_stream.integrity.check_audio_file`). Garbled data inside a
    file whose structure is whole is not looked for (the runtime's full check decodes every file). Raises
    :class:`~sagasr_stream.errors.AudioFileError`, one line naming the file and what is wrong. Remembered per path,
    size and modification time, so the train and validation sets of one run check a file once. The frames are those
    the runtime reads (:func:`runtime_frames`: an MP3's without its encoder delay and padding)."""
    from sagasr_stream.audio_io import decoder_path

    stat = os.stat(path)
    return _clip_frames(str(path), decoder_path(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _clip_frames(path: str, absolute: str, size: int, mtime_ns: int) -> tuple[int, float]:
    """:func:`clip_frames` of ``path`` (named in errors), decoded from ``absolute`` (its
    :func:`~sagasr_stream.audio_io.decoder_path`: a leading "~" is a folder of that name, as Python reads it; also
    the cache key, so a relative path is not taken for another folder's file of the same name)."""
    from pedalboard.io import AudioFile

    from sagasr_stream.audio_io import decoder_message, unreadable_message
    from sagasr_stream.integrity import check_audio_file, header_problem, read_flac_info

    file = Path(path)
    try:
        handle = AudioFile(absolute)
    except Exception as exc:
        raise AudioFileError(unreadable_message(exc, file)) from None
    with handle:
        frames, rate = int(handle.frames), float(handle.samplerate)
        kept = runtime_frames(frames, file)
        if kept <= 0:
            raise AudioFileError(f"{file} holds no audio frames")
        problem = header_problem(file, frames)
        if problem:
            raise AudioFileError(problem)
        if read_flac_info(file) is None:  # the header checks see a cut file; an MP3's seek would decode it all
            return kept, rate
        try:
            handle.seek(max(0, frames - TAIL_FRAMES))
            tail = handle.read(TAIL_FRAMES)
        except Exception as exc:
            raise AudioFileError(f"{file} is damaged: its last frames do not decode ({decoder_message(exc, file)})"
                                 ) from None
    if not np.any(tail):  # cut, or ending in digital silence: its MD5 tells
        check_audio_file(file)
    return frames, rate


def checked_clips(files: list[Path], root: str | os.PathLike[str]) -> list[tuple[int, float]]:
    """:func:`clip_frames` of every file (``files`` under ``root``), or one :class:`ValueError` naming each damaged
    file and why (the first :data:`MAX_NAMED`, then a count). Nothing is skipped: a data set, its split and a
    resume's data are those the folder or file list names."""
    found: list[tuple[int, float]] = []
    bad: list[str] = []
    for path in files:
        try:
            found.append(clip_frames(path))
        except AudioFileError as exc:
            bad.append(str(exc))
    if bad:
        named = [f"  - {text}" for text in bad[:MAX_NAMED]]
        if len(bad) > MAX_NAMED:
            named.append(f"  ... and {len(bad) - MAX_NAMED} more")
        raise ValueError(f"{len(bad)} of {len(files)} audio files under {root} cannot be trained on (repair or "
                         "remove them, or leave them out of the --file-list):\n" + "\n".join(named))
    return found
