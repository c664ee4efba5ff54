"""FLAC metadata blocks: an input's VORBIS_COMMENT, PICTURE and CUESHEET blocks read (a CUESHEET's offsets counted
anew at the output's rate), an output's rewritten with other ones after its STREAMINFO (:mod:`sagasr_stream.tags`)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ..id3 import ID3V2_HEADER
from .mp3 import id3v2_length
from .vorbis import TagProblem, check_picture, comment_block, comment_count, comment_fields, comment_vendor

FLAC_MAGIC = b"fLaC"
STREAMINFO, VORBIS_COMMENT, CUESHEET, PICTURE = 0, 4, 5, 6
BLOCK_NAMES = {VORBIS_COMMENT: "VORBIS_COMMENT", PICTURE: "PICTURE", CUESHEET: "CUESHEET"}
SINGLE = (VORBIS_COMMENT, CUESHEET)  # only an input's first block of these kinds is carried
CUE_HEAD, CUE_TRACK, CUE_INDEX = 396, 36, 12  # CUESHEET: catalog, lead-in, flags, track count; a track; an index
CUE_FLAGS, CUE_LEAD_IN = 136, slice(128, 136)  # the flags byte (bit 7: a CD-DA cue sheet), the lead-in samples
CD_RATE, CD_SECTOR = 44100, 588  # a CD-DA cue sheet's rate, and what its offsets are multiples of
MAX_UINT64 = (1 << 64) - 1
STREAMINFO_LENGTH = 34
MAX_BLOCK = (1 << 24) - 1  # a FLAC metadata block's length: 24 bits
VENDOR = "sagasr_stream"  # a comment block's vendor string when the output has none of libFLAC's
COPY_BLOCK = 1 << 20


class FlacBlock(NamedTuple):
    """One FLAC metadata block: its type and its body (without the 4-byte header)."""

    kind: int
    body: bytes


class StreamInfo(NamedTuple):
    """A FLAC stream's sample rate (Hz) and its length in samples per channel (0: unknown), from its STREAMINFO."""

    rate: int
    samples: int


def stream_info(body: bytes) -> StreamInfo:
    """The :class:`StreamInfo` of a STREAMINFO block's ``body`` (:class:`TagProblem` when not 34 bytes or rate 0)."""
    if len(body) != STREAMINFO_LENGTH:
        raise TagProblem(f"its STREAMINFO block holds {len(body)} bytes, not {STREAMINFO_LENGTH}")
    rate = int.from_bytes(body[10:13], "big") >> 4
    if not rate:
        raise TagProblem("its STREAMINFO block gives a sample rate of 0")
    return StreamInfo(rate, int.from_bytes(body[13:18], "big") & 0xF_FFFF_FFFF)


def flac_stream_info(path: Path) -> StreamInfo:
    """The :class:`StreamInfo` of the FLAC file ``path`` (:class:`TagProblem` when its first block is none)."""
    with open(path, "rb") as f:
        flac_start(f)
        return first_stream_info(f, flac_headers(f, os.fstat(f.fileno()).st_size))


def first_stream_info(f: BinaryIO, headers: list[tuple[int, int, int]]) -> StreamInfo:
    """The :class:`StreamInfo` of an open FLAC file of block ``headers`` (:class:`TagProblem` when its first block
    is no STREAMINFO)."""
    kind, offset, length = headers[0]
    if kind != STREAMINFO:
        raise TagProblem("its first block is no STREAMINFO")
    f.seek(offset)
    return stream_info(f.read(length))


def cue_tracks(body: bytes) -> list[tuple[int, list[int]]]:
    """(where in ``body`` its offset is, where each of its index offsets is) of each track of a CUESHEET block's
    ``body``, the lead-out last; :class:`TagProblem` when the counts and the length disagree."""
    if len(body) < CUE_HEAD:
        raise TagProblem(f"{len(body)} bytes, less than the {CUE_HEAD} of its header")
    tracks, at = [], CUE_HEAD
    for number in range(body[CUE_HEAD - 1]):
        if at + CUE_TRACK > len(body):
            raise TagProblem(f"track {number + 1} of {body[CUE_HEAD - 1]} runs past its end")
        indexes = [at + CUE_TRACK + CUE_INDEX * index for index in range(body[at + CUE_TRACK - 1])]
        tracks.append((at, indexes))
        at += CUE_TRACK + CUE_INDEX * len(indexes)
    if not tracks:
        raise TagProblem("no tracks (it needs a lead-out one)")
    if at > len(body):
        raise TagProblem(f"the index points of track {len(tracks)} run past its end")
    if at < len(body):
        raise TagProblem(f"{len(body) - at} bytes past its last track")
    return tracks


def cuesheet_at_rate(body: bytes, rate: int, output: StreamInfo) -> bytes:
    """A CUESHEET block's ``body`` of a FLAC at ``rate`` Hz for the FLAC ``output``: each track's start and each
    index point counted at the output's rate (round(samples * output rate / rate)), index offsets again from their
    track's start, the lead-out track at the output's end, the lead-in samples too; a CD-DA cue sheet's CD flag
    cleared (and its lead-in, 0 then) when the output is no 44.1 kHz one or an offset or its lead-in is no multiple
    of 588. As it is when nothing changes."""
    tracks = cue_tracks(body)
    new = bytearray(body)

    def moved(samples: int) -> int:
        return min(round(samples * output.rate / rate), MAX_UINT64)

    def put(at: int, value: int) -> None:
        new[at : at + 8] = value.to_bytes(8, "big")

    offsets = []
    for number, (at, indexes) in enumerate(tracks):
        start = int.from_bytes(body[at : at + 8], "big")
        last = number == len(tracks) - 1
        new_start = (output.samples or moved(start)) if last else moved(start)
        put(at, new_start)
        offsets.append(new_start)
        for index in indexes:
            relative = moved(start + int.from_bytes(body[index : index + 8], "big")) - new_start
            put(index, relative)
            offsets.append(relative)
    lead_in = moved(int.from_bytes(body[CUE_LEAD_IN], "big"))
    put(CUE_LEAD_IN.start, lead_in)
    if new[CUE_FLAGS] & 0x80 and (output.rate != CD_RATE or any(n % CD_SECTOR for n in [lead_in, *offsets])):
        new[CUE_FLAGS] &= 0x7F
        new[CUE_LEAD_IN] = bytes(8)
    return bytes(new)


def flac_start(f: BinaryIO) -> int:
    """Where the ``fLaC`` marker of an open FLAC file is (past an ID3v2 tag some taggers put first)."""
    head = f.read(ID3V2_HEADER)
    start = id3v2_length(head) if head[:3] == b"ID3" else 0
    f.seek(start)
    if f.read(4) != FLAC_MAGIC:
        raise TagProblem("no FLAC stream marker (fLaC)")
    return start


def flac_headers(f: BinaryIO, size: int) -> list[tuple[int, int, int]]:
    """(type, body offset, body length) of each metadata block of an open FLAC file of ``size`` bytes, whose
    marker has just been read: after them the frames begin."""
    headers = []
    while True:
        header = f.read(4)
        if len(header) < 4:
            raise TagProblem("the file ends inside them")
        kind, length, offset = header[0] & 0x7F, int.from_bytes(header[1:], "big"), f.tell()
        if kind == 127 or offset + length > size:
            raise TagProblem(f"a block of type {kind} runs past the end of the file" if kind != 127
                             else "a block of the invalid type 127")
        headers.append((kind, offset, length))
        if header[0] & 0x80:
            return headers
        f.seek(length, os.SEEK_CUR)


def flac_tag_blocks(source: Path, problems: list[str], output: StreamInfo | None = None) -> list[FlacBlock]:
    """The VORBIS_COMMENT (the first, when it holds a comment) and PICTURE blocks of the FLAC file ``source`` that
    parse, and with ``output`` (a FLAC output's) its first CUESHEET block counted at the output's rate
    (:func:`cuesheet_at_rate`); each that does not parse, or the whole file when its blocks cannot be walked, is told
    in ``problems``."""
    blocks: list[FlacBlock] = []
    try:
        with open(source, "rb") as f:
            flac_start(f)
            headers = flac_headers(f, os.fstat(f.fileno()).st_size)
            seen: set[int] = set()
            for kind, offset, length in headers:
                if kind not in BLOCK_NAMES or kind in seen or kind == CUESHEET and output is None:
                    continue
                seen |= {kind} & set(SINGLE)
                f.seek(offset)
                body = f.read(length)
                try:
                    if kind == CUESHEET and output is not None:
                        body = cuesheet_at_rate(body, first_stream_info(f, headers).rate, output)
                    count = (comment_count(body) if kind == VORBIS_COMMENT
                             else check_picture(body) if kind == PICTURE else 1)
                except TagProblem as exc:
                    problems.append(f"its {BLOCK_NAMES[kind]} block does not parse ({exc})")
                    continue
                if count:
                    blocks.append(FlacBlock(kind, body))
    except (TagProblem, OSError) as exc:
        problems.append(f"its FLAC metadata blocks cannot be walked ({exc})")
        return []
    return blocks


def flac_fields(source: Path, problems: list[str]) -> tuple[list[bytes], list[bytes]]:
    """(the comments, the PICTURE bodies) of the FLAC file ``source``'s blocks that parse (:func:`flac_tag_blocks`)."""
    blocks = flac_tag_blocks(source, problems)
    fields = [field for block in blocks if block.kind == VORBIS_COMMENT for field in comment_fields(block.body)]
    return fields, [block.body for block in blocks if block.kind == PICTURE]


def block_header(kind: int, length: int, last: bool) -> bytes:
    return bytes([kind | (0x80 if last else 0)]) + length.to_bytes(3, "big")


def write_flac(src: BinaryIO, dst: BinaryIO, tags: list[FlacBlock]) -> None:
    """Copy the FLAC file ``src`` to ``dst`` with ``tags`` after its STREAMINFO, in place of its own blocks of
    those types (its VORBIS_COMMENT only when ``tags`` has one)."""
    start = flac_start(src)
    headers = flac_headers(src, os.fstat(src.fileno()).st_size)
    replaced = {block.kind for block in tags}
    kept = []
    for kind, offset, length in headers:
        if kind not in replaced:
            src.seek(offset)
            kept.append(FlacBlock(kind, src.read(length)))
    if not kept or kept[0].kind != STREAMINFO:
        raise TagProblem("its first block is no STREAMINFO")
    blocks = [kept[0], *tags, *kept[1:]]
    src.seek(0)
    dst.write(src.read(start) + FLAC_MAGIC)
    for index, block in enumerate(blocks):
        dst.write(block_header(block.kind, len(block.body), index == len(blocks) - 1) + block.body)
    _, last_offset, last_length = headers[-1]
    src.seek(last_offset + last_length)
    shutil.copyfileobj(src, dst, COPY_BLOCK)


def first_block(f: BinaryIO, wanted: int) -> bytes | None:
    """The body of the first block of type ``wanted`` of an open FLAC file, or None."""
    flac_start(f)
    for kind, offset, length in flac_headers(f, os.fstat(f.fileno()).st_size):
        if kind == wanted:
            f.seek(offset)
            return f.read(length)
    return None


def flac_vendor(f: BinaryIO) -> str:
    """The vendor string of the first VORBIS_COMMENT block of an open FLAC file (libFLAC's), or :data:`VENDOR`."""
    return vendor_of(first_block(f, VORBIS_COMMENT))


def vendor_of(body: bytes | None) -> str:
    """The vendor string of a VORBIS_COMMENT block's body, or :data:`VENDOR` without one."""
    return VENDOR if body is None else comment_vendor(body)


def blocks_of(fields: list[bytes], bodies: list[bytes], tmp: Path, problems: list[str]) -> list[FlacBlock]:
    """A VORBIS_COMMENT block of ``fields`` (with the vendor string of the FLAC file ``tmp``; none without fields)
    and a PICTURE block of each of ``bodies``, less those too large for a FLAC block (told in ``problems``).
    :class:`TagProblem` when ``tmp`` cannot be walked."""
    blocks = []
    if fields:
        with open(tmp, "rb") as f:
            blocks.append(FlacBlock(VORBIS_COMMENT, comment_block(flac_vendor(f), fields)))
    blocks += [FlacBlock(PICTURE, body) for body in bodies]
    for block in [block for block in blocks if len(block.body) > MAX_BLOCK]:
        problems.append(f"its {BLOCK_NAMES[block.kind]} of {len(block.body)} bytes is too large for a FLAC block")
        blocks.remove(block)
    return blocks
