"""ID3 tags: an MP3 input's read (verbatim, or as Vorbis comments through :mod:`sagasr_stream.id3`), an ID3v2.4 tag
written of Vorbis comments and pictures, either put before an MP3 output's frames (:mod:`sagasr_stream.tags`).

Vorbis comments into ID3v2.4 frames (UTF-8 text, repeated values NUL-separated in one frame), the reverse of
:mod:`sagasr_stream.id3`'s reading: TITLE TIT2, ARTIST TPE1, ALBUMARTIST TPE2, ALBUM TALB, TRACKNUMBER and
TRACKTOTAL TRCK ("3/12"), DISCNUMBER and DISCTOTAL TPOS, DATE TDRC (a value that is no ID3 timestamp, "May 1974": a
TXXX), GENRE TCON, COMPOSER TCOM, COPYRIGHT TCOP, ISRC TSRC, BPM TBPM, COMMENT a COMM without a description
(language "und"), any other name (a total without its number too) a TXXX described by the name as written; each
picture an APIC frame. Frames in the order their names first come; names compared case-blind.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO

from ..id3 import ID3V2_HEADER, NUMBERED, TEXT_NAMES, Picture, id3v1_fields, id3v2_fields, tag_length
from .vorbis import TagProblem, encoded, picture_block, read_picture

ID3V1_BYTES = 128
COPY_BLOCK = 1 << 20
MAX_SYNCSAFE = (1 << 28) - 1  # an ID3v2.4 tag's or frame's size: 28 bits
FRAME_IDS = {name: fid for fid, name in TEXT_NAMES.items() if fid != "TYER"} | {"GENRE": "TCON"}
NUMBER_FRAMES = {number: (fid, total) for fid, (number, total) in NUMBERED.items()}  # TRACKNUMBER: TRCK, TRACKTOTAL
NUMBER_OF_TOTAL = {total: number for number, (_, total) in NUMBER_FRAMES.items()}  # TRACKTOTAL: TRACKNUMBER
TIMESTAMP = re.compile(r"\d{4}(-\d\d(-\d\d(T\d\d(:\d\d(:\d\d)?)?)?)?)?")  # an ID3v2.4 time (TDRC)
UTF_8 = b"\x03"  # an ID3v2.4 text encoding byte


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


def id3_fields(source: Path, problems: list[str]) -> tuple[list[bytes], list[bytes]]:
    """(Vorbis comments, PICTURE bodies) of the ID3v2 tag of the MP3 file ``source``, or of its ID3v1 tag where it
    has no ID3v2 tag that parses (:mod:`sagasr_stream.id3`); what is left out is told in ``problems``."""
    head, tail = id3_tags(source, problems)
    comments, pictures = id3v2_fields(head, problems) if head else (id3v1_fields(tail) if tail else [], [])
    return encoded(comments), [picture_block(picture) for picture in pictures]


def write_mp3(src: BinaryIO, dst: BinaryIO, head: bytes, tail: bytes) -> None:
    """Copy the MP3 file ``src`` to ``dst`` between ``head`` and ``tail`` (an ID3v2 tag ``src`` begins with is
    replaced when ``head`` is given)."""
    start = src.read(ID3V2_HEADER)
    skip = id3v2_length(start) if head and start[:3] == b"ID3" else 0
    src.seek(skip)
    dst.write(head)
    shutil.copyfileobj(src, dst, COPY_BLOCK)
    dst.write(tail)


# --- an ID3v2.4 tag written -----------------------------------------------------------------------------------------

def syncsafe_bytes(value: int) -> bytes:
    """``value`` (< 2**28) in four 7-bit bytes."""
    return bytes(value >> shift & 0x7F for shift in (21, 14, 7, 0))


def frame(fid: str, body: bytes) -> bytes:
    """An ID3v2.4 frame: id, syncsafe size, no flags, ``body``."""
    return fid.encode("ascii") + syncsafe_bytes(len(body)) + b"\0\0" + body


def text_frame(fid: str, texts: list[str], description: str | None = None) -> bytes:
    """A text frame (a TXXX with its ``description``) of ``texts``, UTF-8, NUL-separated."""
    described = b"" if description is None else description.encode() + b"\0"
    return frame(fid, UTF_8 + described + "\0".join(texts).encode())


def apic_frame(picture: Picture) -> bytes:
    """An APIC frame: UTF-8, MIME type, picture type (over 255: 0, other), description, data; :class:`TagProblem`
    for a MIME type or description with a NUL in it (it would end them early)."""
    if "\0" in picture.mime + picture.description:
        raise TagProblem("a NUL in its MIME type or description")
    kind = picture.kind if picture.kind <= 255 else 0
    return frame("APIC", UTF_8 + picture.mime.encode("ascii") + b"\0" + bytes([kind])
                 + picture.description.encode() + b"\0" + picture.data)


def grouped(fields: list[bytes], problems: list[str]) -> dict[str, tuple[str, list[str]]]:
    """{upper-cased name: (the name as first written, its non-empty values)} of ``NAME=value`` comments, in the
    order the names first come; a comment that is none (no "=", no UTF-8) is told in ``problems``."""
    groups: dict[str, tuple[str, list[str]]] = {}
    for index, field in enumerate(fields, 1):
        name, equals, value = field.partition(b"=")
        try:
            text_name, text = name.decode("ascii"), value.decode("utf-8")
        except UnicodeDecodeError:
            text_name = text = ""
        if not equals or not text_name:
            problems.append(f"its comment {index} is no NAME=value in UTF-8")
            continue
        groups.setdefault(text_name.upper(), (text_name, []))[1].extend([text] if text else [])
    return groups


def numbered(numbers: list[str], totals: list[str]) -> list[str]:
    """TRCK (TPOS) values: each number with the total after a "/" (one it has already kept)."""
    return [number if "/" in number or not totals else f"{number}/{totals[0]}" for number in numbers]


def comment_frames(fields: list[bytes], problems: list[str]) -> list[bytes]:
    """The ID3v2.4 frames of the Vorbis comments ``fields`` (see the module docstring)."""
    groups = grouped(fields, problems)
    frames = []
    for upper, (name, texts) in groups.items():
        if not texts or upper in NUMBER_OF_TOTAL and groups.get(NUMBER_OF_TOTAL[upper], ("", []))[1]:
            continue  # a total goes into its number's frame
        if upper in NUMBER_FRAMES:
            fid, total = NUMBER_FRAMES[upper]
            frames.append(text_frame(fid, numbered(texts, groups.get(total, ("", []))[1])))
        elif upper in FRAME_IDS and (upper != "DATE" or all(TIMESTAMP.fullmatch(text) for text in texts)):
            frames.append(text_frame(FRAME_IDS[upper], texts))
        elif upper == "COMMENT":
            frames.append(frame("COMM", UTF_8 + b"und" + b"\0" + "\0".join(texts).encode()))
        else:
            frames.append(text_frame("TXXX", texts, name))
    return frames


def id3v24_tag(fields: list[bytes], bodies: list[bytes], problems: list[str]) -> bytes:
    """An ID3v2.4 tag of the Vorbis comments ``fields`` and the PICTURE ``bodies`` (b"" when it holds no frame);
    a picture that does not parse, or a frame too large for a tag, is left out and told in ``problems``."""
    frames = comment_frames(fields, problems)
    for index, body in enumerate(bodies, 1):
        try:
            frames.append(apic_frame(read_picture(body)))
        except TagProblem as exc:
            problems.append(f"its picture {index} does not parse ({exc})")
    size = 0
    for item in list(frames):
        if size + len(item) > MAX_SYNCSAFE:
            problems.append(f"its frame {item[:4].decode()} of {len(item)} bytes does not fit in an ID3v2 tag")
            frames.remove(item)
        else:
            size += len(item)
    return b"ID3\x04\x00\x00" + syncsafe_bytes(size) + b"".join(frames) if frames else b""
