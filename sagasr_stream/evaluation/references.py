"""The evaluation's inputs: full-band reference clips (files, folders, globs or a corpus split list) and their
captions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import EvaluationError


def load_clips(patterns: list[str], seconds: float | None, max_clips: int | None, sample_rate: int) -> dict[str, np.ndarray]:
    """Reference files (files, folders, globs, or a corpus ``validation.txt`` list) -> mono clips at ``sample_rate``."""
    from ..audio_io import open_input, read_blocks
    from ..input_files import expand_inputs

    files: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.suffix == ".txt" and path.is_file():  # a split list written by the corpus builder
            files += [path.parent / line.strip() for line in path.read_text().splitlines() if line.strip()]
        else:
            files += [file for file, _ in expand_inputs([pattern])]
    clips: dict[str, np.ndarray] = {}
    for file in files[: max_clips or None]:
        with open_input(file, sample_rate) as (reader, _channels, _rate):
            audio = np.concatenate(list(read_blocks(reader, 1 << 16)), axis=1).mean(axis=0)
        if seconds:
            audio = audio[: int(seconds * sample_rate)]
        clips[file.stem] = audio.astype(np.float32)
    return clips


def load_captions(path: str | None) -> dict[str, str]:
    """{clip name (file stem): caption} from a captions.jsonl ({"path": ..., "caption": ...} per line); {} for None."""
    if not path:
        return {}
    captions: dict[str, str] = {}
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            captions[Path(str(record["path"])).stem] = str(record["caption"])
        except (ValueError, KeyError, TypeError):
            raise EvaluationError(f"{path}:{i}: expected a JSON object with 'path' and 'caption'") from None
    return captions
