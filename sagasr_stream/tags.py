"""An input's tags carried into its restored output (pedalboard writes none): the same container in and out, or an
MP3 or Ogg Vorbis file restored to FLAC.

- FLAC -> FLAC: the input's VORBIS_COMMENT block as it is (when it holds a comment: TITLE, ARTIST, ALBUM,
  TRACKNUMBER, ...; it replaces the one libFLAC wrote, which names only its encoder) and its PICTURE blocks
  (cover art), put right after the output's STREAMINFO. The output's STREAMINFO (sample count, MD5), its other
  blocks (SEEKTABLE: offsets from the first frame) and its frames stay as written. Not carried: APPLICATION,
  CUESHEET (its offsets count the input's samples, at the input's rate), SEEKTABLE and PADDING blocks of the input,
  and an ID3v2 tag before its ``fLaC`` marker (looked past, not kept).
- MP3 -> MP3: the input's ID3v2 tag (2.2, 2.3 or 2.4, with a footer if it has one) put first and its ID3v1 tag
  (the last 128 bytes, from ``TAG``) last, both verbatim; the output's frames between them as written, its LAME
  tag first, so it reads back at the exact length (:func:`~sagasr_stream.mp3.mp3_gapless` skips an ID3v2 tag). Not
  carried: APEv2, Lyrics3 and "TAG+" tags, an ID3v2 tag at the end of the file.
- MP3 -> FLAC: the input's ID3v2 tag (or, without one, its ID3v1 tag) read by :mod:`sagasr_stream.id3` as Vorbis
  comments (TITLE, ARTIST, ALBUM, TRACKNUMBER and TRACKTOTAL, DATE, GENRE, COMMENT, TXXX frames by their
  description, ...: the mapping is there) in a VORBIS_COMMENT block under the vendor string libFLAC gave the output,
  and its APIC frames as PICTURE blocks, both put after the output's STREAMINFO as for FLAC -> FLAC.
- Ogg Vorbis -> FLAC: the comment header (the second packet) of the input's first logical stream, reassembled from
  its pages (:func:`~sagasr_stream.ogg.first_packets`: CRCs and page numbers checked, at most
  :data:`MAX_OGG_COMMENT` bytes), as a VORBIS_COMMENT block under the vendor string libFLAC gave the output (the
  comments byte for byte, in their order; Vorbis' framing bit dropped), and each METADATA_BLOCK_PICTURE comment
  (the base64 of a PICTURE block's body) decoded into a PICTURE block instead of a comment, both put after the
  output's STREAMINFO as for FLAC -> FLAC. An old COVERART comment (a bare image in base64) stays a comment.
- Any other pair (WAV, AIFF in or out; Ogg Vorbis out: Ogg -> Ogg, MP3 -> Ogg, Ogg -> MP3; FLAC -> MP3): nothing
  is carried.

Between the same containers only block and tag headers are parsed (and a comment's or a picture's lengths). An input
block, tag or ID3 frame that does not parse is skipped, one warning naming the input says which; the restore goes
on. The output is rewritten by streaming into a second temporary file beside it (:func:`retagged_path`), which then
replaces it.
"""
from __future__ import annotations

import base64
import binascii
import logging
import os
import shutil
from pathlib import Path
from typing import BinaryIO, Callable, Literal, NamedTuple

from .errors import AudioFileError
from .id3 import ID3V2_HEADER, Comments, Picture, id3v1_fields, id3v2_fields, tag_length
from .ogg import first_packets

log = logging.getLogger("sagasr_stream")

FLAC_MAGIC = b"fLaC"
STREAMINFO, VORBIS_COMMENT, PICTURE = 0, 4, 6
BLOCK_NAMES = {VORBIS_COMMENT: "VORBIS_COMMENT", PICTURE: "PICTURE"}
ID3V1_BYTES = 128
MAX_BLOCK = (1 << 24) - 1  # a FLAC metadata block's length: 24 bits
VENDOR = "sagasr_stream"  # a comment block's vendor string when the output has none of libFLAC's
COPY_BLOCK = 1 << 20
MAX_OGG_COMMENT = 16 << 20  # bytes of an Ogg Vorbis comment packet read at most (a larger one: skipped)
VORBIS_HEADERS = (b"\x01vorbis", b"\x03vorbis")  # an Ogg Vorbis stream's identification and comment packets
PICTURE_COMMENT = b"METADATA_BLOCK_PICTURE"  # a Vorbis comment of a FLAC PICTURE block's body in base64
CARRIED = {(".flac", ".flac"), (".mp3", ".mp3"), (".mp3", ".flac"), (".ogg", ".flac")}
Copier = Callable[[BinaryIO, BinaryIO], None]  # streams one open file into another


class TagProblem(Exception):
    """An input's tags cannot be read as their format says (skipped with a warning)."""


class FlacBlock(NamedTuple):
    """One FLAC metadata block: its type and its body (without the 4-byte header)."""

    kind: int
    body: bytes


def carry_tags(source: str | os.PathLike[str], tmp: Path, destination: Path) -> None:
    """Give the output file ``tmp`` (being written for ``destination``) the tags of the input ``source`` kept in
    the same container or an MP3's into a FLAC (see the module docstring). An odd input tag is skipped with one
    warning naming ``source``; a failure to rewrite ``tmp`` raises :class:`AudioFileError` naming ``destination``."""
    source = Path(source)
    kind, out_kind = source.suffix.lower(), destination.suffix.lower()
    if (kind, out_kind) not in CARRIED:
        log.debug("tags of %s are not carried into %s (only FLAC -> FLAC, MP3 -> MP3, MP3 -> FLAC and "
                  "Ogg Vorbis -> FLAC)", source, destination)
        return
    problems: list[str] = []
    try:
        if out_kind == ".flac":
            blocks = (flac_tag_blocks(source, problems) if kind == ".flac"
                      else INTO_FLAC[kind](source, tmp, problems))
            if blocks:
                rewrite(tmp, destination, lambda src, dst: write_flac(src, dst, blocks))
        else:
            head, tail = id3_tags(source, problems)
            if head or tail:
                rewrite(tmp, destination, lambda src, dst: write_mp3(src, dst, head, tail))
    except TagProblem as exc:  # the output itself cannot be walked as a FLAC: left as written
        problems.append(f"the output's own metadata cannot be walked ({exc})")
    if problems:
        log.warning("tags of %s left out of %s: %s", source, destination, "; ".join(problems))


# --- FLAC ---------------------------------------------------------------------------------------------------------

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


def _field(body: bytes, pos: int, order: Literal["little", "big"], what: str) -> tuple[int, int]:
    """(the 32-bit length or number at ``pos`` of ``body``, the position after it)."""
    if pos + 4 > len(body):
        raise TagProblem(f"{what} runs past the block")
    return int.from_bytes(body[pos : pos + 4], order), pos + 4


def comment_fields(body: bytes) -> list[bytes]:
    """The comments (``NAME=value``, UTF-8) of a VORBIS_COMMENT block's body (little-endian lengths: vendor
    string, count, each comment; what follows them, as Vorbis' framing bit, ignored); :class:`TagProblem` when a
    length runs past the block."""
    vendor, pos = _field(body, 0, "little", "the vendor length")
    count, pos = _field(body, pos + vendor, "little", "the comment count")
    fields: list[bytes] = []
    for index in range(count):
        length, pos = _field(body, pos, "little", f"comment {index + 1} of {count}")
        if pos + length > len(body):
            raise TagProblem(f"comment {index + 1} of {count} runs past the block")
        fields.append(body[pos : pos + length])
        pos += length
    return fields


def comment_count(body: bytes) -> int:
    """The number of comments of a VORBIS_COMMENT block's body; :class:`TagProblem` when a length runs past it."""
    return len(comment_fields(body))


def check_picture(body: bytes) -> int:
    """1 for a PICTURE block's body whose lengths (big-endian: MIME type, description, 4 numbers, data) fit in
    it; :class:`TagProblem` otherwise."""
    mime, pos = _field(body, 4, "big", "the MIME type length")
    description, pos = _field(body, pos + mime, "big", "the description length")
    data, pos = _field(body, pos + description + 16, "big", "the picture data length")
    if pos + data > len(body):
        raise TagProblem(f"{data} bytes of picture data run past the block")
    return 1


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


# --- MP3 -> FLAC ---------------------------------------------------------------------------------------------------

def id3_flac_blocks(source: Path, tmp: Path, problems: list[str]) -> list[FlacBlock]:
    """A VORBIS_COMMENT block (with the vendor string of the FLAC file ``tmp``) and PICTURE blocks made of the
    ID3v2 tag of the MP3 file ``source``, or of its ID3v1 tag where it has no ID3v2 tag that parses; what is left
    out is told in ``problems``. :class:`TagProblem` when ``tmp`` cannot be walked."""
    head, tail = id3_tags(source, problems)
    comments, pictures = id3v2_fields(head, problems) if head else (id3v1_fields(tail) if tail else [], [])
    blocks = []
    if comments:
        with open(tmp, "rb") as f:
            blocks.append(FlacBlock(VORBIS_COMMENT, vorbis_comment(flac_vendor(f), comments)))
    blocks += [FlacBlock(PICTURE, picture_block(picture)) for picture in pictures]
    return fitting(blocks, problems)


def fitting(blocks: list[FlacBlock], problems: list[str]) -> list[FlacBlock]:
    """``blocks`` less those too large for a FLAC block (told in ``problems``)."""
    for block in [block for block in blocks if len(block.body) > MAX_BLOCK]:
        problems.append(f"its {BLOCK_NAMES[block.kind]} of {len(block.body)} bytes is too large for a FLAC block")
        blocks.remove(block)
    return blocks


def flac_vendor(f: BinaryIO) -> str:
    """The vendor string of the first VORBIS_COMMENT block of an open FLAC file (libFLAC's), or :data:`VENDOR`."""
    flac_start(f)
    for kind, offset, length in flac_headers(f, os.fstat(f.fileno()).st_size):
        if kind == VORBIS_COMMENT:
            f.seek(offset)
            body = f.read(length)
            vendor, pos = _field(body, 0, "little", "the output's vendor length")
            return body[pos : pos + vendor].decode("utf-8", "replace")
    return VENDOR


def _lengthed(data: bytes, order: Literal["little", "big"]) -> bytes:
    return len(data).to_bytes(4, order) + data


def vorbis_comment(vendor: str, comments: Comments) -> bytes:
    """A VORBIS_COMMENT block's body: the vendor string, the number of comments, each ``NAME=value`` (UTF-8)."""
    return comment_block(vendor, [f"{name}={value}".encode() for name, value in comments])


def comment_block(vendor: str, fields: list[bytes]) -> bytes:
    """A VORBIS_COMMENT block's body of comments already encoded (``NAME=value``)."""
    lengthed = [_lengthed(field, "little") for field in fields]
    return _lengthed(vendor.encode(), "little") + len(lengthed).to_bytes(4, "little") + b"".join(lengthed)


def picture_block(picture: Picture) -> bytes:
    """A PICTURE block's body: type, MIME type, description (UTF-8), width, height, depth and colours (0: not
    known), data."""
    return (picture.kind.to_bytes(4, "big") + _lengthed(picture.mime.encode("ascii"), "big")
            + _lengthed(picture.description.encode(), "big") + bytes(16) + _lengthed(picture.data, "big"))


# --- Ogg Vorbis -> FLAC -------------------------------------------------------------------------------------------

def ogg_flac_blocks(source: Path, tmp: Path, problems: list[str]) -> list[FlacBlock]:
    """A VORBIS_COMMENT block (with the vendor string of the FLAC file ``tmp``) of the comments of the Ogg Vorbis
    file ``source``, and a PICTURE block of each of its METADATA_BLOCK_PICTURE comments; what is left out is told
    in ``problems``. :class:`TagProblem` when ``tmp`` cannot be walked."""
    try:
        fields = ogg_comment_fields(source)
    except (TagProblem, AudioFileError, OSError) as exc:
        reason = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
        problems.append(f"its Vorbis comment header cannot be read ({reason})")
        return []
    comments: list[bytes] = []
    blocks: list[FlacBlock] = []
    for index, field in enumerate(fields, 1):
        if field.partition(b"=")[0].upper() != PICTURE_COMMENT:
            comments.append(field)
            continue
        try:
            body = base64.b64decode(b"".join(field.partition(b"=")[2].split()), validate=True)
            check_picture(body)
        except (binascii.Error, TagProblem) as exc:
            problems.append(f"its METADATA_BLOCK_PICTURE comment (comment {index}) does not parse ({exc})")
            continue
        blocks.append(FlacBlock(PICTURE, body))
    if comments:
        with open(tmp, "rb") as f:
            blocks.insert(0, FlacBlock(VORBIS_COMMENT, comment_block(flac_vendor(f), comments)))
    return fitting(blocks, problems)


def ogg_comment_fields(source: Path) -> list[bytes]:
    """The comments of the comment header (the second packet) of the first logical stream of the Ogg Vorbis file
    ``source``; :class:`TagProblem` for a stream that is no Vorbis stream or a header that does not parse,
    :class:`AudioFileError` for pages that cannot be walked (:func:`~sagasr_stream.ogg.first_packets`)."""
    with open(source, "rb") as f:
        packets = first_packets(f, 2, MAX_OGG_COMMENT)
    for packet, prefix, what in zip(packets, VORBIS_HEADERS, ["identification", "comment"]):
        if not packet.startswith(prefix):
            raise TagProblem(f"its first stream has no Vorbis {what} header")
    return comment_fields(packets[1][len(VORBIS_HEADERS[1]) :])


INTO_FLAC = {".mp3": id3_flac_blocks, ".ogg": ogg_flac_blocks}  # a FLAC output's tags made of another input's


# --- MP3 ----------------------------------------------------------------------------------------------------------

def id3v2_length(head: bytes) -> int:
    """Bytes of the ID3v2 tag whose 10-byte header is ``head`` (header, syncsafe size, a 2.4 footer);
    :class:`TagProblem` for a header that is none (a version other than 2.2-2.4, a size byte >= 0x80, a footer
    flag before 2.4)."""
    if len(head) < ID3V2_HEADER or head[:3] != b"ID3":
        raise TagProblem("no ID3v2 header")
    version, flags, size = head[3], head[5], head[6:10]
    if version not in (2, 3, 4) or head[4] == 0xFF:
        raise TagProblem(f"unknown version 2.{version}")
    if any(byte & 0x80 for byte in size):
        raise TagProblem("its size is not syncsafe")
    if flags & 0x10 and version != 4:
        raise TagProblem(f"a footer flag in a version 2.{version} tag")
    return tag_length(head)


def id3_tags(source: Path, problems: list[str]) -> tuple[bytes, bytes]:
    """(the ID3v2 tag the MP3 file ``source`` begins with, its ID3v1 tag), each b"" when there is none or (told in
    ``problems``) when it does not parse."""
    head = tail = b""
    try:
        with open(source, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = f.read(ID3V2_HEADER)
            end = 0
            if start[:3] == b"ID3":
                try:
                    end = id3v2_length(start)
                    if end > size:
                        raise TagProblem(f"{end} bytes said, the file is shorter")
                    head = start + f.read(end - ID3V2_HEADER)
                except TagProblem as exc:
                    problems.append(f"its ID3v2 tag does not parse ({exc})")
                    end = 0
            if size - ID3V1_BYTES >= end:
                f.seek(size - ID3V1_BYTES)
                last = f.read(ID3V1_BYTES)
                tail = last if last[:3] == b"TAG" else b""
    except OSError as exc:
        problems.append(f"its ID3 tags cannot be read ({exc.strerror or exc})")
        return b"", b""
    return head, tail


def write_mp3(src: BinaryIO, dst: BinaryIO, head: bytes, tail: bytes) -> None:
    """Copy the MP3 file ``src`` to ``dst`` between ``head`` and ``tail`` (an ID3v2 tag ``src`` begins with is
    replaced when ``head`` is given)."""
    start = src.read(ID3V2_HEADER)
    skip = id3v2_length(start) if head and start[:3] == b"ID3" else 0
    src.seek(skip)
    dst.write(head)
    shutil.copyfileobj(src, dst, COPY_BLOCK)
    dst.write(tail)


# --- the rewrite --------------------------------------------------------------------------------------------------

def retagged_path(tmp: Path) -> Path:
    """The second temporary file beside ``tmp`` (``.sagasr-HASH.partial-PID.EXT`` -> ``.tags-sagasr-...``), named
    so that :mod:`sagasr_stream.partials` removes it when a killed run left it behind."""
    return tmp.with_name(f".tags-{tmp.name.lstrip('.')}")


def rewrite(tmp: Path, destination: Path, copy: Copier) -> None:
    """Stream ``tmp`` through ``copy(src, dst)`` into :func:`retagged_path`, which then replaces it; an OSError
    raises :class:`AudioFileError` naming ``destination`` (the copy removed)."""
    retagged = retagged_path(tmp)
    try:
        if os.path.lexists(retagged):  # a killed run's, or a link planted there: never written through
            retagged.unlink()
        with open(tmp, "rb") as src, open(retagged, "xb") as dst:
            copy(src, dst)
        os.replace(retagged, tmp)
    except OSError as exc:
        raise AudioFileError(f"cannot write {destination}: {exc.strerror or exc}") from exc
    finally:
        if os.path.lexists(retagged):
            retagged.unlink()

