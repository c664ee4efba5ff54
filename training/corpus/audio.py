"""Audio file I/O for the corpus (the runtime's reader, pedalboard): mono loading with resampling, FLAC/WAV writing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import signal


def load_mono(path: str | Path, sample_rate: int = 44100, keep_rate: bool = False) -> tuple[np.ndarray, int]:
    """Read an audio file -> (mono float64 (samples,), rate). Channels are averaged. The audio is resampled
    to ``sample_rate`` unless ``keep_rate`` (then the file's own rate is returned with it). Read as the runtime
    reads it (:func:`~sagasr_stream.audio_io.open_input`: an MP3 without its encoder delay and padding)."""
    from sagasr_stream.audio_io import open_input
    from sagasr_stream.errors import AudioFileError

    try:
        with open_input(path) as (f, _channels, rate):
            audio = f.read(f.frames)
    except AudioFileError as exc:  # names the file
        raise ValueError(str(exc)) from exc
    except Exception as exc:  # pedalboard raises ValueError/RuntimeError for unreadable files
        raise ValueError(f"cannot read audio file {path}: {exc}") from exc
    mono = np.asarray(audio, dtype=np.float64).mean(axis=0)
    if keep_rate or rate == sample_rate:
        return mono, rate
    g = np.gcd(rate, sample_rate)
    return signal.resample_poly(mono, sample_rate // g, rate // g), sample_rate


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int = 44100) -> Path:
    """Write mono float audio (samples,) as 24-bit FLAC or WAV (by suffix), atomically, where Python puts ``path``
    (pedalboard is given its :func:`~sagasr_stream.audio_io.decoder_path`: a leading "~" is a folder of that name)."""
    from pedalboard.io import AudioFile

    from sagasr_stream.audio_io import decoder_path

    path = Path(path)
    if path.suffix.lower() not in (".flac", ".wav"):
        raise ValueError(f"{path}: clip format must be .flac or .wav")
    data = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)[None, :]
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    with AudioFile(decoder_path(tmp), "w", sample_rate, 1, bit_depth=24) as f:
        f.write(data)
    tmp.replace(path)
    return path
