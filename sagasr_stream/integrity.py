"""Damaged audio files: decoders zero-fill what they cannot read, so check a file before trusting it.

:func:`check_audio_file` decodes the whole file once (in blocks, memory stays flat) and raises
:class:`AudioFileError` naming the file when

- the decoder raises, or returns fewer frames than the header declares (a short read);
- a FLAC file's decoded samples do not match the MD5 signature in its STREAMINFO header (truncated or
  garbled data: the decoder returns silence where it lost sync);
- a FLAC file without an MD5 signature decodes to all zeros although its size shows it holds audio;
- a WAV/AIFF file holds less sample data after its header than the header declares (8 to 32-bit integer
  or float samples);
- an MP3 file whose Xing/Info header counts its frames holds fewer whole frames than that (the decoder returns
  silence for the missing ones);
- an Ogg file's pages do not run whole to a last page marked as the end of the stream (a cut file: the decoder
  returns what the last whole page reaches, and no error), or a page's CRC does not match it (garbled data).
"""
from __future__ import annotations

import hashlib
import os
import zlib
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


SAMPLE_WIDTHS = {"int24": 3}  # pedalboard's file_dtype names numpy does not know -> bytes per sample
MAX_CHUNKS = 4096  # chunks walked to find the sample data before giving up (then it is taken to start at 0)


def _uncompressed_data_bytes(path: Path, frames: int, channels: int, dtype: str) -> int | None:
    """Bytes of sample data a WAV/AIFF header declares (frames x channels x sample width), else None."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"RIFF", b"RF64", b"FORM"):
        return None
    try:
        width = SAMPLE_WIDTHS.get(dtype) or np.dtype(dtype).itemsize
    except TypeError:
        return None
    return frames * channels * width


def _sample_data_offset(path: Path) -> int:
    """Where the sample data of a WAV (``data`` chunk) or AIFF (``SSND`` chunk) file starts: the bytes before
    it (header, metadata chunks) hold no samples. 0 when it is not found (then only the data's size is
    compared with the file's)."""
    with open(path, "rb") as f:
        magic = f.read(12)[:4]
        order = "big" if magic == b"FORM" else "little"
        wanted = b"SSND" if magic == b"FORM" else b"data"
        for _ in range(MAX_CHUNKS):
            head = f.read(8)
            if len(head) < 8:
                return 0
            size = int.from_bytes(head[4:], order)
            if head[:4] == wanted:
                if wanted == b"SSND":  # offset and block size, then the samples from that offset on
                    extra = f.read(4)
                    return f.tell() + 4 + (int.from_bytes(extra, "big") if len(extra) == 4 else 0)
                return f.tell()
            f.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even size
    return 0


MP3_BITRATES = {  # kbit/s by bitrate index, layer III: MPEG-1, and MPEG-2 / 2.5
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits


def _mp3_frame_bytes(header: bytes) -> int | None:
    """Length in bytes of the MPEG layer III frame whose 4-byte header this is, or None (no valid header,
    another layer, free format)."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    rate_index, bitrate_index, padding = (header[2] >> 2) & 3, header[2] >> 4, (header[2] >> 1) & 1
    if version == 1 or layer != 1 or rate_index == 3 or bitrate_index in (0, 15):
        return None
    bitrate = MP3_BITRATES[1 if version == 3 else 2][bitrate_index] * 1000
    per_frame = 144 if version == 3 else 72  # bytes per (bit/s / Hz): 1152 or 576 samples per frame
    return per_frame * bitrate // MP3_RATES[version][rate_index] + padding


def mp3_frame_counts(path: Path) -> tuple[int, int] | None:
    """(frames its Xing/Info header declares, whole frames that follow that header) of an MP3 file, or None when
    it is no layer III stream or has no such count (then its length is the decoder's estimate)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(10)
        start = 0
        if head[:3] == b"ID3" and len(head) == 10:  # an ID3v2 tag first: its size is syncsafe, footer optional
            syncsafe = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | head[9] & 0x7F
            start = 10 + syncsafe + (10 if head[5] & 0x10 else 0)
        f.seek(start)
        first = f.read(4)
        length = _mp3_frame_bytes(first)
        if length is None:
            return None
        frame = first + f.read(length - 4)
        tag = max(frame.find(b"Xing"), frame.find(b"Info"))
        if tag < 0 or len(frame) < tag + 12 or not int.from_bytes(frame[tag + 4 : tag + 8], "big") & 1:
            return None
        declared = int.from_bytes(frame[tag + 8 : tag + 12], "big")
        position, found = start + length, 0
        while found < declared and position + 4 <= size:
            f.seek(position)
            length = _mp3_frame_bytes(f.read(4))
            if length is None or position + length > size:
                break
            found += 1
            position += length
    return declared, found


@dataclass(frozen=True)
class OggEnd:
    """What walking an Ogg file's pages finds: ``problem`` (None when every page is whole, its CRC matches and
    the last one ends the stream) and the number of pages."""

    problem: str | None
    pages: int


BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(data: bytes) -> int:
    """An Ogg page's CRC (polynomial 0x04C11DB7, most significant bit first, no initial or final XOR) from
    zlib's CRC-32 (the same polynomial, least significant bit first, with both): bytes and result bit-reversed,
    its initial and final XOR taken out."""
    linear = zlib.crc32(data.translate(BIT_REVERSED)) ^ zlib.crc32(bytes(len(data)))
    return int(f"{linear:032b}"[::-1], 2)


def read_ogg_end(path: Path) -> OggEnd | None:
    """Walk the pages of an Ogg file (by its ``OggS`` magic), checking each one's CRC, or None for another
    file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(4) != b"OggS":
            return None
        position, pages, flags = 0, 0, 0
        while position < size:
            f.seek(position)
            head = f.read(27)
            if len(head) < 27 or head[:4] != b"OggS":
                what = "is cut inside a page header" if len(head) < 27 else "has no page where one should begin"
                return OggEnd(f"{what} at byte {position}", pages)
            segments = f.read(head[26])
            body = sum(segments)
            if len(segments) < head[26] or position + 27 + head[26] + body > size:
                return OggEnd(f"is cut inside the page at byte {position}", pages)
            page = head[:22] + bytes(4) + head[26:] + segments + f.read(body)
            if ogg_crc(page) != int.from_bytes(head[22:26], "little"):
                return OggEnd(f"has a page whose CRC does not match at byte {position}", pages)
            flags = head[5]
            pages += 1
            position += 27 + head[26] + body
    if not flags & 4:
        return OggEnd("ends without its end-of-stream page", pages)
    return OggEnd(None, pages)


def check_audio_file(path: str | os.PathLike[str]) -> int:
    """Decode ``path`` fully; return its frames (at its own rate) or raise :class:`AudioFileError` if it is
    damaged (see the module docstring)."""
    from pedalboard.io import AudioFile

    from .audio_io import decoder_message

    path = Path(path)
    try:
        handle = AudioFile(str(path))
    except Exception as exc:
        raise AudioFileError(f"cannot read audio file {path}: {decoder_message(exc, path)}") from exc
    flac = read_flac_info(path)
    with handle:
        declared, channels = int(handle.frames), handle.num_channels
        data_bytes = _uncompressed_data_bytes(path, declared, channels, str(handle.file_dtype))
        if data_bytes is not None:
            held = path.stat().st_size - _sample_data_offset(path)
            if held < data_bytes:
                raise AudioFileError(
                    f"{path} is truncated: its header declares {declared} frames ({data_bytes} bytes of samples) "
                    f"but the file holds {max(held, 0)} bytes of them"
                )
        if flac and flac.total_frames and flac.total_frames != declared:
            raise AudioFileError(f"{path}: the FLAC header declares {flac.total_frames} frames, the decoder {declared}")
        ogg = read_ogg_end(path) if flac is None and data_bytes is None else None
        if ogg is not None and ogg.problem:
            raise AudioFileError(f"{path} is damaged (truncated or corrupted): it {ogg.problem}")
        counts = mp3_frame_counts(path) if flac is None and data_bytes is None else None
        if counts is not None and counts[1] < counts[0] - 1:  # encoders differ on counting the header's own frame
            raise AudioFileError(f"{path} is damaged (truncated or corrupted): its MP3 header declares {counts[0]} "
                                 f"frames, {counts[1]} whole frames follow it")
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
