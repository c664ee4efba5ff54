"""Ogg Vorbis outputs made reproducible: libvorbis (through pedalboard) names each stream by a random serial
number, kept in every page's header (and so in its CRC), so the same samples gave other bytes on each write.
:func:`number_stream` gives the stream a serial number taken from its content instead, page by page (memory does
not grow with the file)."""
from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import AudioFileError

HEADER = 27  # bytes of a page header, up to its segment table
SERIAL = slice(14, 18)  # the stream's serial number in a page header
CRC = slice(22, 26)  # the page's CRC
BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(data: bytes) -> int:
    """An Ogg page's CRC (polynomial 0x04C11DB7, most significant bit first, no initial or final XOR) from
    zlib's CRC-32 (the same polynomial, least significant bit first, with both): bytes and result bit-reversed,
    its initial and final XOR taken out."""
    linear = zlib.crc32(data.translate(BIT_REVERSED)) ^ zlib.crc32(bytes(len(data)))
    return int(f"{linear:032b}"[::-1], 2)


def pages(f: BinaryIO) -> Iterator[tuple[int, bytearray]]:
    """(file offset, bytes) of each page of the open Ogg file ``f``, from its start; :class:`AudioFileError` where
    a page is not whole."""
    f.seek(0)
    while True:
        position = f.tell()
        head = f.read(HEADER)
        if not head:
            return
        if len(head) < HEADER or head[:4] != b"OggS":
            raise AudioFileError(f"no whole Ogg page at byte {position}")
        table = f.read(head[26])
        body = f.read(sum(table))
        if len(table) < head[26] or len(body) < sum(table):
            raise AudioFileError(f"the Ogg page at byte {position} is cut short")
        yield position, bytearray(head + table + body)


def content_serial(f: BinaryIO) -> bytes:
    """A serial number (4 bytes) of the open Ogg file ``f``'s content: its pages' SHA-256, their serial numbers and
    CRCs left out."""
    digest = hashlib.sha256()
    for _, page in pages(f):
        page[SERIAL] = page[CRC] = bytes(4)
        digest.update(page)
    return digest.digest()[:4]


def number_stream(path: str | Path) -> None:
    """Give the one logical stream of the Ogg file ``path`` the serial number of its content (:func:`content_serial`)
    and each page its CRC anew: the same samples encoded alike give the same bytes. OSError, or
    :class:`AudioFileError` for a page not whole, as raised."""
    with open(path, "r+b") as f:
        serial = content_serial(f)
        for position, page in pages(f):
            page[SERIAL], page[CRC] = serial, bytes(4)
            page[CRC] = ogg_crc(bytes(page)).to_bytes(4, "little")
            end = f.tell()
            f.seek(position)
            f.write(page)
            f.seek(end)
