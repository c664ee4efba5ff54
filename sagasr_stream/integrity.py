"""Damaged audio files: decoders zero-fill what they cannot read, so check a file before trusting it.

:func:`check_audio_file` decodes the whole file once (in blocks, memory stays flat) and raises
:class:`AudioFileError` naming the file when

- the decoder raises, or returns fewer frames than the header declares (a short read);
- a FLAC file's decoded samples do not match the MD5 signature in its STREAMINFO header (truncated or
  garbled data: the decoder returns silence where it lost sync);
- a FLAC file without an MD5 signature decodes to all zeros although its size shows it holds audio;
- a WAV/AIFF file holds less sample data after its header than the header declares (any format of a fixed
  size per frame: 8 to 32-bit integers, float, A-law, mu-law);
- an MP3 file whose Xing/Info header counts its frames holds fewer whole frames than that (the decoder returns
  silence for the missing ones);
- an Ogg file's pages do not run whole to a last page marked as the end of the stream (a cut file: the decoder
  returns what the last whole page reaches, and no error), or a page's CRC does not match it (garbled data).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .errors import AudioFileError
from .mp3 import mp3_frame_counts, mp3_gapless
from .ogg import OggPageError, page_crc_matches, pages

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


MAX_CHUNKS = 4096  # chunks walked to find the sample data before giving up (then the file is not checked)
WAV_CODES = {1, 3, 6, 7}  # WAV sample formats of a fixed size per frame (block align): PCM, float, A-law, mu-law
PLACEHOLDER_SIZE = 0x7FFFF000  # a data size this large is a streaming writer's "unknown", not a length
EXTENSIBLE = 0xFFFE  # WAVE_FORMAT_EXTENSIBLE: the format code is the first two bytes of its sub-format GUID
AIFC_BYTES = {b"fl32": 4, b"FL32": 4, b"fl64": 8, b"FL64": 8, b"ulaw": 1, b"ULAW": 1, b"alaw": 1, b"ALAW": 1}
AIFC_PCM = {b"NONE", b"twos", b"sowt", b"raw ", b"in24", b"in32", b"IN24", b"IN32"}  # sample size from COMM


def _sample_data(path: Path) -> tuple[int, int, int] | None:
    """(where the sample data starts, bytes per frame, frames its ``data`` chunk's size declares: 0 when not
    said) of a WAV (``fmt `` and ``data`` chunks) or AIFF / AIFF-C (``COMM`` and ``SSND``) file whose frames all
    have one size, read from the header itself (pedalboard's ``file_dtype`` is the decoded format: 16 bits for
    a mu-law file that stores 8, whose frames it counts from the bytes there are). None for another file, a
    compressed format (ADPCM) or chunks not found."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] not in (b"RIFF", b"RF64", b"FORM"):
            return None
        aiff = head[:4] == b"FORM"
        order: Literal["big", "little"] = "big" if aiff else "little"
        frame_bytes = None
        for _ in range(MAX_CHUNKS):
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            size = int.from_bytes(chunk[4:], order)
            if chunk[:4] in (b"fmt ", b"COMM"):
                body = f.read(min(size, 40))
                frame_bytes = _aiff_frame_bytes(body, head[8:12]) if aiff else _wav_frame_bytes(body)
                if frame_bytes is None:
                    return None
                f.seek(size - len(body) + (size & 1), os.SEEK_CUR)
                continue
            if chunk[:4] == (b"SSND" if aiff else b"data"):
                if frame_bytes is None:
                    return None
                if aiff:  # offset and block size, then the samples from that offset on
                    extra = f.read(8)
                    return (f.tell() + int.from_bytes(extra[:4], "big"), frame_bytes, 0) if len(extra) == 8 else None
                said = size // frame_bytes if head[:4] == b"RIFF" and size < PLACEHOLDER_SIZE else 0
                return f.tell(), frame_bytes, said
            f.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even size
    return None


def _wav_frame_bytes(fmt: bytes) -> int | None:
    """Bytes per frame (block align) of a WAV ``fmt `` chunk of a fixed-size format, else None."""
    if len(fmt) < 16:
        return None
    code, block_align = int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[12:14], "little")
    if code == EXTENSIBLE:
        code = int.from_bytes(fmt[24:26], "little") if len(fmt) >= 26 else 0
    return block_align if code in WAV_CODES and block_align > 0 else None


def _aiff_frame_bytes(comm: bytes, form: bytes) -> int | None:
    """Bytes per frame of an AIFF / AIFF-C ``COMM`` chunk of a fixed-size format, else None."""
    if len(comm) < 8:
        return None
    channels, bits = int.from_bytes(comm[0:2], "big"), int.from_bytes(comm[6:8], "big")
    compression = comm[18:22] if form == b"AIFC" else b"NONE"
    if compression in AIFC_PCM:
        width = (bits + 7) // 8
    else:
        width = AIFC_BYTES.get(compression, 0)
    return channels * width if channels and width else None


@dataclass(frozen=True)
class OggEnd:
    """What walking an Ogg file's pages finds: ``problem`` (None when every page is whole, its CRC matches and
    the last one ends the stream) and the number of pages."""

    problem: str | None
    pages: int


def read_ogg_end(path: Path) -> OggEnd | None:
    """Walk the pages of an Ogg file (by its ``OggS`` magic), checking each one's CRC, or None for another
    file."""
    with open(path, "rb") as f:
        if f.read(4) != b"OggS":
            return None
        count, flags = 0, 0
        try:
            for position, page in pages(f):
                if not page_crc_matches(page):
                    return OggEnd(f"has a page whose CRC does not match at byte {position}", count)
                flags, count = page[5], count + 1
        except OggPageError as exc:
            return OggEnd(exc.problem, count)
    if not flags & 4:
        return OggEnd("ends without its end-of-stream page", count)
    return OggEnd(None, count)


def header_problem(path: Path, declared: int) -> str | None:
    """What ``path``'s own structure shows to be wrong, decoding no samples (one line naming the file), or None:
    WAV/AIFF sample data shorter than its header declares, a FLAC header whose frame count is not the decoder's
    (``declared``), an Ogg file cut or garbled (its pages walked), an MP3 with fewer whole frames than its
    Xing/Info header counts. The checks of :func:`check_audio_file` before it decodes."""
    layout = _sample_data(path)
    if layout is not None:
        frames = max(declared, layout[2])  # a mu-law file's decoder counts what is there, its header more
        data_bytes, held = frames * layout[1], path.stat().st_size - layout[0]
        if held < data_bytes:
            return (f"{path} is truncated: its header declares {frames} frames ({data_bytes} bytes of samples) "
                    f"but the file holds {max(held, 0)} bytes of them")
        return None
    flac = read_flac_info(path)
    if flac is not None:
        if flac.total_frames and flac.total_frames != declared:
            return f"{path}: the FLAC header declares {flac.total_frames} frames, the decoder {declared}"
        return None
    ogg = read_ogg_end(path)
    if ogg is not None:
        return f"{path} is damaged (truncated or corrupted): it {ogg.problem}" if ogg.problem else None
    counts = mp3_frame_counts(path)
    if counts is not None and counts[1] < counts[0] - 1:  # encoders differ on counting the header's own frame
        return (f"{path} is damaged (truncated or corrupted): its MP3 header declares {counts[0]} "
                f"frames, {counts[1]} whole frames follow it")
    return None


def check_audio_file(path: str | os.PathLike[str]) -> int:
    """Decode ``path`` fully; return its frames (at its own rate; an MP3's without the encoder delay and padding
    its LAME tag records, :func:`~sagasr_stream.mp3.mp3_gapless`) or raise :class:`AudioFileError` if it is
    damaged (see the module docstring)."""
    from pedalboard.io import AudioFile

    from .audio_io import decoder_message, decoder_path, unreadable_message

    path = Path(path)
    try:
        handle = AudioFile(decoder_path(path))
    except Exception as exc:
        raise AudioFileError(unreadable_message(exc, path)) from exc
    flac = read_flac_info(path)
    with handle:
        declared, channels = int(handle.frames), handle.num_channels
        problem = header_problem(path, declared)
        if problem:
            raise AudioFileError(problem)
        gapless = mp3_gapless(path) if flac is None else None  # None for any file but an MP3 with a LAME tag
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
    if gapless is not None:  # the samples its encoder was given, as open_input reads them
        return max(0, min(gapless[1], frames_read - gapless[0]))
    return frames_read
