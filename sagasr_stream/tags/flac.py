"""FLAC metadata blocks: an input's VORBIS_COMMENT and PICTURE blocks read, an output's rewritten with other ones
after its STREAMINFO (:mod:`sagasr_stream.tags`)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ..id3 import ID3V2_HEADER
from .mp3 import id3v2_length
from .vorbis import TagProblem, check_picture, comment_block, comment_count, comment_fields, comment_vendor

FLAC_MAGIC = b"fLaC"
STREAMINFO, VORBIS_COMMENT, PICTURE = 0, 4, 6
BLOCK_NAMES = {VORBIS_COMMENT: "VORBIS_COMMENT", PICTURE: "PICTURE"}
MAX_BLOCK = (1 << 24) - 1  # a FLAC metadata block's length: 24 bits
VENDOR = "sagasr_stream"  # a comment block's vendor string when the output has none of libFLAC's
COPY_BLOCK = 1 << 20


class FlacBlock(NamedTuple):
    """One FLAC metadata block: its type and its body (without the 4-byte header)."""

    kind: int
    body: bytes


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


def flac_tag_blocks(source: Path, problems: list[str]) -> list[FlacBlock]:
    """The VORBIS_COMMENT (the first, when it holds a comment) and PICTURE blocks of the FLAC file ``source`` that
    parse; each that does not, or the whole file when its blocks cannot be walked, is told in ``problems``."""
    blocks: list[FlacBlock] = []
    try:
        with open(source, "rb") as f:
            flac_start(f)
            headers = flac_headers(f, os.fstat(f.fileno()).st_size)
            comment_seen = False
            for kind, offset, length in headers:
                if kind not in BLOCK_NAMES or kind == VORBIS_COMMENT and comment_seen:
                    continue
                comment_seen |= kind == VORBIS_COMMENT
                f.seek(offset)
                body = f.read(length)
                try:
                    count = comment_count(body) if kind == VORBIS_COMMENT else check_picture(body)
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


def flac_vendor(f: BinaryIO) -> str:
    """The vendor string of the first VORBIS_COMMENT block of an open FLAC file (libFLAC's), or :data:`VENDOR`."""
    flac_start(f)
    for kind, offset, length in flac_headers(f, os.fstat(f.fileno()).st_size):
        if kind == VORBIS_COMMENT:
            f.seek(offset)
            return comment_vendor(f.read(length))
    return VENDOR


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
