"""Vorbis comments and FLAC PICTURE bodies, the form every carried tag takes on its way (:mod:`sagasr_stream.tags`):
a VORBIS_COMMENT block's body (a Vorbis comment header less its ``\\x03vorbis`` and framing bit), a PICTURE block's
body, and the METADATA_BLOCK_PICTURE comment (the base64 of a PICTURE body) an Ogg Vorbis file holds a picture in.
"""
from __future__ import annotations

import base64
import binascii
from typing import Literal

from ..id3 import Comments, Picture

PICTURE_COMMENT = b"METADATA_BLOCK_PICTURE"  # a Vorbis comment of a FLAC PICTURE block's body in base64


class TagProblem(Exception):
    """An input's tags cannot be read as their format says (skipped with a warning)."""


def _field(body: bytes, pos: int, order: Literal["little", "big"], what: str) -> tuple[int, int]:
    """(the 32-bit length or number at ``pos`` of ``body``, the position after it)."""
    if pos + 4 > len(body):
        raise TagProblem(f"{what} runs past the block")
    return int.from_bytes(body[pos : pos + 4], order), pos + 4


def comment_vendor(body: bytes) -> str:
    """The vendor string of a VORBIS_COMMENT block's body (an encoder's name)."""
    vendor, pos = _field(body, 0, "little", "the vendor length")
    return body[pos : pos + vendor].decode("utf-8", "replace")


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
    read_picture(body, decode=False)
    return 1


def read_picture(body: bytes, decode: bool = True) -> Picture:
    """The picture of a PICTURE block's body (its size and depth dropped); :class:`TagProblem` when a length runs
    past it or (``decode``) its MIME type is no ASCII or its description no UTF-8."""
    mime, pos = _field(body, 4, "big", "the MIME type length")
    description, start = _field(body, pos + mime, "big", "the description length")
    data, pos = _field(body, start + description + 16, "big", "the picture data length")
    if pos + data > len(body):
        raise TagProblem(f"{data} bytes of picture data run past the block")
    if not decode:
        return Picture(0, "", "", b"")
    try:
        return Picture(int.from_bytes(body[:4], "big"), body[8 : 8 + mime].decode("ascii"),
                       body[start : start + description].decode("utf-8"), body[pos : pos + data])
    except UnicodeDecodeError as exc:
        raise TagProblem(f"its {'MIME type' if exc.encoding == 'ascii' else 'description'} does not decode") from None


def _lengthed(data: bytes, order: Literal["little", "big"]) -> bytes:
    return len(data).to_bytes(4, order) + data


def encoded(comments: Comments) -> list[bytes]:
    """``NAME=value`` (UTF-8) of each comment."""
    return [f"{name}={value}".encode() for name, value in comments]


def vorbis_comment(vendor: str, comments: Comments) -> bytes:
    """A VORBIS_COMMENT block's body: the vendor string, the number of comments, each ``NAME=value`` (UTF-8)."""
    return comment_block(vendor, encoded(comments))


def comment_block(vendor: str, fields: list[bytes]) -> bytes:
    """A VORBIS_COMMENT block's body of comments already encoded (``NAME=value``)."""
    lengthed = [_lengthed(field, "little") for field in fields]
    return _lengthed(vendor.encode(), "little") + len(lengthed).to_bytes(4, "little") + b"".join(lengthed)


def picture_block(picture: Picture) -> bytes:
    """A PICTURE block's body: type, MIME type, description (UTF-8), width, height, depth and colours (0: not
    known), data."""
    return (picture.kind.to_bytes(4, "big") + _lengthed(picture.mime.encode("ascii"), "big")
            + _lengthed(picture.description.encode(), "big") + bytes(16) + _lengthed(picture.data, "big"))


def picture_comment(body: bytes) -> bytes:
    """The METADATA_BLOCK_PICTURE comment of a PICTURE block's body."""
    return PICTURE_COMMENT + b"=" + base64.b64encode(body)


def split_pictures(fields: list[bytes], problems: list[str]) -> tuple[list[bytes], list[bytes]]:
    """(the comments of ``fields`` that are no METADATA_BLOCK_PICTURE comment, the PICTURE bodies those hold); one
    that does not decode is left out and told in ``problems``. An old COVERART comment (a bare image) stays."""
    comments: list[bytes] = []
    bodies: list[bytes] = []
    for index, field in enumerate(fields, 1):
        name, _, value = field.partition(b"=")
        if name.upper() != PICTURE_COMMENT:
            comments.append(field)
            continue
        try:
            body = base64.b64decode(b"".join(value.split()), validate=True)
            check_picture(body)
        except (binascii.Error, TagProblem) as exc:
            problems.append(f"its METADATA_BLOCK_PICTURE comment (comment {index}) does not parse ({exc})")
            continue
        bodies.append(body)
    return comments, bodies
