"""Damaged audio files: decoders zero-fill what they cannot read, so check a file before trusting it.

:func:`check_audio_file` decodes the whole file once (in blocks, memory stays flat) and raises
:class:`AudioFileError` naming the file when

- the decoder raises, or returns fewer frames than the header declares (a short read);
- a FLAC file's decoded samples do not match the MD5 signature in its STREAMINFO header (truncated or
  garbled data: the decoder returns silence where it lost sync);
- a FLAC file without an MD5 signature decodes to all zeros although its size shows it holds audio;
- a WAV/AIFF file is shorter than the sample data its header declares.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AudioFileError

CHECK_BLOCK = 1 << 16  # frames decoded per read
MD5_BIT_DEPTHS = (8, 16, 24)  # integer depths whose float samples map back to the exact PCM the MD5 covers
SILENT_FLAC_BYTES_PER_SAMPLE = 0.05  # digital silence compresses far below this (constant subframes)


@dataclass(frozen=True)
class FlacInfo:
    """What a FLAC STREAMINFO block declares: bits per sample, total frames (0 = unknown), MD5 (None = unset)."""

    bits_per_sample: int
    total_frames: int
    md5: bytes | None


def read_flac_info(path: Path) -> FlacInfo | None:
    """The STREAMINFO of a FLAC file (found by its ``fLaC`` magic, whatever the extension), or None."""
    with open(path, "rb") as f:
        head = f.read(42)
    if len(head) < 42 or head[:4] != b"fLaC" or head[4] & 0x7F != 0:  # STREAMINFO is always the first block
        return None
    info = head[8:42]
    packed = int.from_bytes(info[10:18], "big")  # rate 20 bits | channels-1 3 | bps-1 5 | total frames 36
    bits = ((packed >> 36) & 0x1F) + 1
    total = packed & ((1 << 36) - 1)
    md5 = info[18:34]
    return FlacInfo(bits, total, None if md5 == bytes(16) else md5)


def _pcm_bytes(block: np.ndarray, bits: int, scale: int) -> bytes:
    """(channels, n) float32 decoded as integer / ``scale`` -> the interleaved little-endian ``bits``-bit PCM
    that a FLAC MD5 signature covers."""
    ints = np.round(block.T.astype(np.float64) * scale).astype(np.int32)
    width = (bits + 7) // 8
    raw = ints.astype("<i4").reshape(-1, 1).view(np.uint8)[:, :width]  # low bytes of each little-endian int
    return raw.tobytes()


def _uncompressed_data_bytes(path: Path, frames: int, channels: int, dtype: str) -> int | None:
    """Bytes of sample data a WAV/AIFF header declares (frames x channels x sample width), else None."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"RIFF", b"RF64", b"FORM"):
        return None
    try:
        width = np.dtype(dtype).itemsize
    except TypeError:
        return None
    return frames * channels * width


def check_audio_file(path: str | os.PathLike[str]) -> int:
    """Decode ``path`` fully; return its frames (at its own rate) or raise :class:`AudioFileError` if it is
    damaged (see the module docstring)."""
    from pedalboard.io import AudioFile

    from .audio_io import decoder_message, unreadable_message

    path = Path(path)
    try:
        handle = AudioFile(str(path))
    except Exception as exc:
        raise AudioFileError(unreadable_message(exc, path)) from exc
    flac = read_flac_info(path)
    with handle:
        declared, channels = int(handle.frames), handle.num_channels
        data_bytes = _uncompressed_data_bytes(path, declared, channels, str(handle.file_dtype))
        if data_bytes is not None and path.stat().st_size < data_bytes:
            raise AudioFileError(
                f"{path} is truncated: its header declares {declared} frames ({data_bytes} bytes of samples) "
                f"but the file holds {path.stat().st_size} bytes"
            )
        if flac and flac.total_frames and flac.total_frames != declared:
            raise AudioFileError(f"{path}: the FLAC header declares {flac.total_frames} frames, the decoder {declared}")
        use_md5 = flac is not None and flac.md5 is not None and flac.bits_per_sample in MD5_BIT_DEPTHS
        # pedalboard decodes an integer i as i / (2^(bits-1) - 1); accept i / 2^(bits-1) too, so that a change
        # of that convention cannot turn every FLAC file into a "damaged" one
        digests = {}
        if use_md5:
            full = 1 << (flac.bits_per_sample - 1)  # type: ignore[union-attr]
            digests = {full - 1: hashlib.md5(), full: hashlib.md5()}
        frames_read, any_sound = 0, False
        exact = bool(getattr(handle, "exact_duration_known", True))  # MP3 headers may only estimate
        while True:
            try:
                block = handle.read(CHECK_BLOCK)
            except Exception as exc:
                raise AudioFileError(
                    f"{path} is damaged: decoding failed after {frames_read} frames ({decoder_message(exc, path)})"
                ) from exc
            if block.shape[1] == 0:
                break
            frames_read += block.shape[1]
            any_sound = any_sound or bool(np.any(block))
            for scale, digest in digests.items():
                digest.update(_pcm_bytes(block, flac.bits_per_sample, scale))  # type: ignore[union-attr]
    if frames_read < declared and exact:
        raise AudioFileError(f"{path} is damaged: decoded {frames_read} of the {declared} frames its header declares")
    if use_md5 and all(d.digest() != flac.md5 for d in digests.values()):  # type: ignore[union-attr]
        raise AudioFileError(
            f"{path} is damaged (truncated or corrupted): its decoded samples do not match the MD5 in its FLAC header"
        )
    if flac and not any_sound and path.stat().st_size > SILENT_FLAC_BYTES_PER_SAMPLE * declared * channels:
        raise AudioFileError(
            f"{path} is damaged: it decodes to digital silence although its size "
            f"({path.stat().st_size} bytes for {declared} frames) shows it holds audio"
        )
    return frames_read
