"""MP3 headers: the frame count of a Xing/Info header, and the encoder delay and padding of the LAME tag after it
(what a gapless player trims: pedalboard's decoder returns them, so a file is read late and long without it)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from .id3 import tag_length


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


def _mp3_info_frame(f: BinaryIO) -> tuple[int, bytes, int] | None:
    """(where the first frame starts, its bytes, where its Xing/Info tag starts in them) of an open MP3 file (past
    an ID3v2 tag), or None when it is no layer III stream or its first frame has no such tag with a frame count."""
    head = f.read(10)
    start = 0
    if head[:3] == b"ID3" and len(head) == 10:  # an ID3v2 tag first: its size is syncsafe, footer optional
        start = tag_length(head)
    f.seek(start)
    first = f.read(4)
    length = _mp3_frame_bytes(first)
    if length is None:
        return None
    frame = first + f.read(length - 4)
    tag = max(frame.find(b"Xing"), frame.find(b"Info"))
    if tag < 0 or len(frame) < tag + 12 or not int.from_bytes(frame[tag + 4 : tag + 8], "big") & 1:
        return None
    return start, frame, tag


def mp3_frame_counts(path: Path) -> tuple[int, int] | None:
    """(frames its Xing/Info header declares, whole frames that follow that header) of an MP3 file, or None when
    it is no layer III stream or has no such count (then its length is the decoder's estimate)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        info = _mp3_info_frame(f)
        if info is None:
            return None
        start, frame, tag = info
        declared = int.from_bytes(frame[tag + 8 : tag + 12], "big")
        position, found = start + len(frame), 0
        while found < declared and position + 4 <= size:
            f.seek(position)
            length = _mp3_frame_bytes(f.read(4))
            if length is None or position + length > size:
                break
            found += 1
            position += length
    return declared, found


MP3_DECODER_DELAY = 529  # samples a layer III decoder's filter bank puts before the first sample it was given
LAME_TAGS = (b"LAME", b"Lavf", b"Lavc")  # encoders that write a LAME tag (delay and padding) after Xing/Info
XING_FIELDS = (4, 4, 100, 4)  # bytes of the frames, bytes, TOC and quality fields, present by flag bits 0-3


def mp3_gapless(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(decoded samples before the first one its encoder was given, samples it was given) of an MP3 file whose
    LAME tag records its encoder delay and padding (12 bits each, from byte 21 of the tag, which begins with a
    9-byte encoder string such as ``LAME3.100``), as a gapless player trims it: the encoder's delay plus
    :data:`MP3_DECODER_DELAY` skipped, frames x samples per frame - delay - padding kept. None without such a tag, or
    when both are 0 (read as decoded)."""
    with open(path, "rb") as f:
        info = _mp3_info_frame(f)
    if info is None:
        return None
    _, frame, tag = info
    flags = int.from_bytes(frame[tag + 4 : tag + 8], "big")
    lame = tag + 8 + sum(size for bit, size in enumerate(XING_FIELDS) if flags >> bit & 1)
    if frame[lame : lame + 4] not in LAME_TAGS or len(frame) < lame + 24:
        return None
    packed = int.from_bytes(frame[lame + 21 : lame + 24], "big")
    delay, padding = packed >> 12, packed & 0xFFF
    if not delay and not padding:
        return None
    samples = int.from_bytes(frame[tag + 8 : tag + 12], "big") * (1152 if (frame[1] >> 3) & 3 == 3 else 576)
    return delay + MP3_DECODER_DELAY, max(0, samples - delay - padding)
