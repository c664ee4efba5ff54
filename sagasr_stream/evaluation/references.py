"""The evaluation's inputs: full-band reference clips (files, folders, globs or a corpus split list) and their
captions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import EvaluationError, ParameterError


def load_clips(patterns: list[str], seconds: float | None, max_clips: int | None, sample_rate: int,
               split: str = "all") -> dict[str, np.ndarray]:
    """Reference files (files, folders, globs, or a corpus ``validation.txt`` list) -> mono clips at ``sample_rate``,
    named by file stem. ``split`` ("tuning", "test" or "all") keeps the files of that split, ``seconds`` (> 0) cuts
    each clip, ``max_clips`` (>= 1) keeps the first files of the split; None: no limit. Two different files of the
    same stem raise :class:`EvaluationError` naming them (one clip each)."""
    from ..audio_io import open_input, read_blocks
    from ..integrity import check_audio_file

    check_limits(seconds, max_clips)
    files = split_files(reference_files(patterns), split)[:max_clips]
    check_unique_names(files)
    clips: dict[str, np.ndarray] = {}
    for file in files:
        check_audio_file(file)  # a truncated or garbled file is named, not scored as the silence it decodes to
        with open_input(file, sample_rate) as (reader, channels, rate):
            if rate < sample_rate:
                raise EvaluationError(f"reference {file} is at {rate:g} Hz: references must be full-band recordings "
                                      f"at >= {sample_rate} Hz (its band ends at {rate / 2:g} Hz, below the cutoffs)")
            blocks = list(read_blocks(reader, 1 << 16))
        audio = np.concatenate(blocks, axis=1).mean(axis=0) if blocks else np.zeros(0, np.float32)
        if seconds is not None:
            audio = audio[: int(seconds * sample_rate)]
        check_scorable(audio, file, sample_rate, channels)
        clips[file.stem] = audio.astype(np.float32)
    return clips


MIN_CLIP_SECONDS = 0.25  # the envelope correlation needs tens of 10 ms frames; LSD a few STFT frames


def check_scorable(audio: np.ndarray, file: Path, sample_rate: int, channels: int = 1) -> None:
    """Refuse a reference clip that cannot be scored: shorter than :data:`MIN_CLIP_SECONDS` (its envelope
    correlation comes out +-1 from a handful of frames), digital silence, or quieter than the metrics' floor (mean
    STFT power below :data:`~sagasr_stream.evaluation.metrics.LSD_EPS`: every system scores LSD 0, a tie averaged
    in). ``channels``: the file's, whose mean the clip is (opposite-polarity channels cancel), for the message."""
    from ..dsp import stft
    from .metrics import LSD_EPS

    if audio.size < MIN_CLIP_SECONDS * sample_rate:
        raise EvaluationError(f"reference {file} gives a clip of {audio.size / sample_rate:.3f} s: the evaluation "
                              f"needs >= {MIN_CLIP_SECONDS} s of audio per clip")
    if not audio.any():
        raise EvaluationError(f"reference {file} is digital silence: nothing to restore or score")
    power = float(np.mean(np.abs(stft(np.asarray(audio, dtype=np.float64))) ** 2))
    if power < LSD_EPS:
        mix = f" (the clip is the mean of its {channels} channels: do they cancel?)" if channels > 1 else ""
        raise EvaluationError(f"reference {file} is below the metrics' floor{mix}: mean STFT power {power:.1e} < "
                              f"{LSD_EPS:g}, where every system would score LSD 0")


def check_limits(seconds: float | None, max_clips: int | None) -> None:
    """Refuse a clip length (s) that is not > 0 and a clip count < 1 (None: no limit)."""
    if seconds is not None and not (np.isfinite(seconds) and seconds > 0):
        raise ParameterError(f"clip seconds must be a number > 0, got {seconds!r}")
    if max_clips is not None and (isinstance(max_clips, bool) or int(max_clips) != max_clips or max_clips < 1):
        raise ParameterError(f"max clips must be a whole number >= 1, got {max_clips!r}")


def reference_files(patterns: list[str]) -> list[Path]:
    """The files of ``patterns`` in order, each once (files, folders, globs, or a corpus ``validation.txt``)."""
    from ..input_files import expand_inputs

    files: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.suffix == ".txt" and path.is_file():  # a split list written by the corpus builder
            files += [path.parent / line.strip() for line in path.read_text().splitlines() if line.strip()]
        else:
            files += [file for file, _ in expand_inputs([pattern])]
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


def split_files(files: list[Path], split: str) -> list[Path]:
    """The files of ``split`` ("tuning", "test" or "all"; by their stem, as
    :func:`~sagasr_stream.evaluation.splits.split_of` reads it) in their order; raises :class:`EvaluationError`
    when none of the files is of the split."""
    from .splits import select_split

    if split == "all":
        return files
    chosen = select_split({file.stem: file for file in files}, split)
    return [file for file in files if file.stem in chosen]


def check_unique_names(files: list[Path]) -> None:
    """Raise :class:`EvaluationError` when two files share a stem (a clip is named by its file's stem)."""
    from ..input_files import clashes

    found = clashes(files, [file.stem for file in files])
    if found:
        raise EvaluationError("references must have distinct file names (clips are named by them; nothing was "
                              "done): " + "; ".join(f"{earlier} and {file} would both be clip {file.stem!r}"
                                                    for earlier, file, _ in found))


def load_captions(path: str | None) -> dict[str, str]:
    """{clip name (file stem): caption} from a captions.jsonl ({"path": ..., "caption": ...} per line); {} for None."""
    if not path:
        return {}
    captions: dict[str, str] = {}
    for i, line in enumerate(read_caption_lines(Path(path)), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            captions[Path(str(record["path"])).stem] = str(record["caption"])
        except (ValueError, KeyError, TypeError):
            raise EvaluationError(f"{path}:{i}: expected a JSON object with 'path' and 'caption'") from None
    return captions


def read_caption_lines(path: Path) -> list[str]:
    """The lines of a captions file; a missing, unreadable or non-UTF-8 file raises :class:`EvaluationError`."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvaluationError(f"captions file not found: {path}") from None
    except IsADirectoryError:
        raise EvaluationError(f"captions file {path} is a folder; expected a .jsonl file") from None
    except OSError as exc:
        raise EvaluationError(f"cannot read captions file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"captions file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
