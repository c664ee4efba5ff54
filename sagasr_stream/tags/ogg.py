"""Ogg Vorbis comment headers: an input's read, an output's replaced (:mod:`sagasr_stream.tags`).

An output's comment header (its second packet: ``\\x03vorbis``, the vendor string, the comments, the framing bit) is
made anew of the carried comments under the output's own vendor string (libvorbis'). Its pages and the setup
header's (the third packet) are paged anew: the identification header's page first as it was, then the comment and
setup packets laced into pages of up to 255 segments (granule position 0 where a packet ends, -1 where none does),
the setup packet ending the last (the audio begins on a fresh page, as the Vorbis specification asks). The audio pages
follow as written; when the header pages are more or fewer than before, each is numbered anew and its CRC made anew.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

from ..errors import AudioFileError
from ..ogg import CONTINUED, HEADER, SEQUENCE, SERIAL, first_packets, head_packets, pages, seal
from .vorbis import TagProblem, comment_block, comment_fields, comment_vendor

MAX_OGG_COMMENT = 16 << 20  # bytes of an Ogg Vorbis comment packet read at most (a larger one: skipped)
VORBIS_HEADERS = (b"\x01vorbis", b"\x03vorbis", b"\x05vorbis")  # identification, comment and setup packets
NO_GRANULE = (-1).to_bytes(8, "little", signed=True)  # a page on which no packet ends
MAX_SEGMENTS = 255
COPY_BLOCK = 1 << 20


def check_vorbis(packets: list[bytes], whose: str) -> list[bytes]:
    """``packets``, each checked to be the Vorbis header it should be (:class:`TagProblem` otherwise: ``whose``
    first stream has none)."""
    for packet, prefix, what in zip(packets, VORBIS_HEADERS, ["identification", "comment", "setup"]):
        if not packet.startswith(prefix):
            raise TagProblem(f"{whose} first stream has no Vorbis {what} header")
    return packets


def ogg_comment_fields(source: Path) -> list[bytes]:
    """The comments of the comment header (the second packet) of the first logical stream of the Ogg Vorbis file
    ``source``; :class:`TagProblem` for a stream that is no Vorbis stream or a header that does not parse,
    :class:`AudioFileError` for pages that cannot be walked (:func:`~sagasr_stream.ogg.first_packets`)."""
    with open(source, "rb") as f:
        packets = check_vorbis(first_packets(f, 2, MAX_OGG_COMMENT), "its")
    return comment_fields(packets[1][len(VORBIS_HEADERS[1]) :])


def ogg_fields(source: Path, problems: list[str]) -> list[bytes]:
    """The comments of the Ogg Vorbis file ``source`` as they are, in their order (METADATA_BLOCK_PICTURE ones
    too); none when its comment header cannot be read (told in ``problems``)."""
    try:
        return ogg_comment_fields(source)
    except (TagProblem, AudioFileError, OSError) as exc:
        reason = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
        problems.append(f"its Vorbis comment header cannot be read ({reason})")
        return []


def laced_pages(packets: list[bytes], serial: bytes, sequence: int) -> list[bytes]:
    """Whole pages (CRCs made) of the header ``packets`` of the stream ``serial``, numbered from ``sequence``:
    up to 255 segments each, the last packet ending the last page."""
    lacing = b"".join(b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255]) for packet in packets)
    data = b"".join(packets)
    found: list[bytes] = []
    pos, continued = 0, False
    for start in range(0, len(lacing), MAX_SEGMENTS):
        table = lacing[start : start + MAX_SEGMENTS]
        size = sum(table)
        granule = bytes(8) if any(value < 255 for value in table) else NO_GRANULE
        page = bytearray(b"OggS\0" + bytes([CONTINUED if continued else 0]) + granule + serial
                         + (sequence + len(found)).to_bytes(4, "little") + bytes(4) + bytes([len(table)]) + table
                         + data[pos : pos + size])
        seal(page)
        found.append(bytes(page))
        pos, continued = pos + size, table[-1] == 255
    return found


def write_ogg(src: BinaryIO, dst: BinaryIO, fields: list[bytes]) -> None:
    """Copy the Ogg Vorbis file ``src`` to ``dst`` with a comment header of ``fields`` under its own vendor string
    (see the module docstring); :class:`TagProblem` when its pages cannot be walked or its headers paged anew."""
    try:
        head = head_packets(src, 3, MAX_OGG_COMMENT)
        identification, comment, setup = check_vorbis(head.packets, "the output's")
        if head.other_pages or not head.ends_page:
            raise TagProblem("its header pages hold more than the Vorbis headers")
        first_page = next(pages(src))[1]
        if first_page[HEADER - 1] != 1 or len(first_page) != HEADER + 1 + len(identification):
            raise TagProblem("its identification header is not alone on its first page")
        packet = VORBIS_HEADERS[1] + comment_block(comment_vendor(comment[len(VORBIS_HEADERS[1]) :]), fields)
        serial = bytes(first_page[SERIAL])
        header = laced_pages([packet + b"\x01", setup], serial, 1)  # the comment header's framing bit
        dst.write(first_page + b"".join(header))
        shift = 1 + len(header) - head.pages
        if not shift:
            src.seek(head.end)
            shutil.copyfileobj(src, dst, COPY_BLOCK)
            return
        for _, page in pages(src, head.end):
            if page[SERIAL] == serial:
                page[SEQUENCE] = (int.from_bytes(page[SEQUENCE], "little") + shift).to_bytes(4, "little")
                seal(page)
            dst.write(page)
    except AudioFileError as exc:  # an OSError: it would fail the write, where an odd output only keeps no tags
        raise TagProblem(str(exc)) from None
