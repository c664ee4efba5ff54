"""Ogg pages walked, one at a time (memory does not grow with the file).

Ogg Vorbis outputs made reproducible: libvorbis (through pedalboard) names each stream by a random serial number,
kept in every page's header (and so in its CRC), so the same samples gave other bytes on each write.
:func:`number_stream` gives the stream a serial number taken from its content instead. :func:`first_packets`
reassembles an input's header packets (its Vorbis comments, for :mod:`sagasr_stream.tags`), :func:`head_packets`
an output's too, with the pages they take (its comment header replaced: :mod:`sagasr_stream.tags.ogg`)."""
from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator, NamedTuple

from .errors import AudioFileError

HEADER = 27  # bytes of a page header, up to its segment table
CONTINUED, FIRST = 1, 2  # header type flags: the page goes on with a packet begun before it; it begins a stream
SERIAL = slice(14, 18)  # the stream's serial number in a page header
SEQUENCE = slice(18, 22)  # the page's number in its stream
CRC = slice(22, 26)  # the page's CRC
BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(data: bytes) -> int:
    """An Ogg page's CRC (polynomial 0x04C11DB7, most significant bit first, no initial or final XOR) from
    zlib's CRC-32 (the same polynomial, least significant bit first, with both): bytes and result bit-reversed,
    its initial and final XOR taken out."""
    linear = zlib.crc32(data.translate(BIT_REVERSED)) ^ zlib.crc32(bytes(len(data)))
    return int(f"{linear:032b}"[::-1], 2)


class OggPageError(AudioFileError):
    """A page that is not whole; ``problem`` says so of the file ("is cut inside the page at byte 58")."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"the Ogg file {problem}")
        self.problem = problem


class HeadPackets(NamedTuple):
    """The first packets of an Ogg file's first logical stream, and the pages that hold them."""

    packets: list[bytes]
    pages: int  # pages of the stream read, up to the one the last packet ends on
    end: int  # the file offset after that page
    ends_page: bool  # whether the last packet ends its page (no other packet begins on it)
    other_pages: int  # pages of other streams passed over before ``end``


def pages(f: BinaryIO, start: int = 0) -> Iterator[tuple[int, bytearray]]:
    """(file offset, bytes) of each page of the open Ogg file ``f``, from its start (or the page at ``start``);
    :class:`OggPageError` where a page is not whole (its CRC is not checked: :func:`page_crc_matches`)."""
    f.seek(start)
    while True:
        position = f.tell()
        head = f.read(HEADER)
        if not head:
            return
        if len(head) < HEADER:
            raise OggPageError(f"is cut inside a page header at byte {position}")
        if head[:4] != b"OggS":
            raise OggPageError(f"has no page where one should begin at byte {position}")
        table = f.read(head[26])
        body = f.read(sum(table))
        if len(table) < head[26] or len(body) < sum(table):
            raise OggPageError(f"is cut inside the page at byte {position}")
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
            page[SERIAL] = serial
            seal(page)
            end = f.tell()
            f.seek(position)
            f.write(page)
            f.seek(end)


def seal(page: bytearray) -> None:
    """Give a whole page, changed, its CRC anew (in place)."""
    page[CRC] = bytes(4)
    page[CRC] = ogg_crc(bytes(page)).to_bytes(4, "little")


def page_crc_matches(page: bytes | bytearray) -> bool:
    """Whether a whole page's CRC is the one its header holds."""
    return ogg_crc(bytes(page[: CRC.start] + bytes(4) + page[CRC.stop :])) == int.from_bytes(page[CRC], "little")


def first_packets(f: BinaryIO, count: int, limit: int) -> list[bytes]:
    """The first ``count`` packets of the first logical stream of the open Ogg file ``f`` (pages of other streams
    passed over), reassembled from the pages' lacing values. :class:`AudioFileError` for a page not whole or whose
    CRC does not match, a page of the stream missing, a packet that does not go on where the stream says, one over
    ``limit`` bytes, or a stream that ends before its ``count``-th packet."""
    return head_packets(f, count, limit).packets


def head_packets(f: BinaryIO, count: int, limit: int) -> HeadPackets:
    """The first ``count`` packets of the first logical stream of the open Ogg file ``f`` and where they end, as
    :func:`first_packets` reads them."""
    packets: list[bytes] = []
    packet, serial, sequence, continuing, others = bytearray(), b"", 0, False, 0
    for position, page in pages(f):
        if not serial:
            if not page[5] & FIRST:
                raise AudioFileError(f"the Ogg page at byte {position} begins no stream")
            serial = bytes(page[SERIAL])
        elif page[SERIAL] != serial:
            others += 1
            continue
        if not page_crc_matches(page):
            raise AudioFileError(f"the CRC of the Ogg page at byte {position} does not match")
        if int.from_bytes(page[SEQUENCE], "little") != sequence:
            raise AudioFileError(f"a page of the stream is missing before byte {position}")
        if bool(page[5] & CONTINUED) != continuing:
            raise AudioFileError(f"the Ogg page at byte {position} does not go on with the packet before it"
                                 if continuing else f"the Ogg page at byte {position} goes on with no packet")
        sequence += 1
        table, pos = page[HEADER : HEADER + page[26]], HEADER + page[26]
        for index, lacing in enumerate(table):
            packet += page[pos : pos + lacing]
            pos += lacing
            if len(packet) > limit:
                raise AudioFileError(f"packet {len(packets) + 1} of its first stream is over {limit} bytes")
            if lacing < 255:
                packets.append(bytes(packet))
                packet.clear()
                if len(packets) == count:
                    return HeadPackets(packets, sequence, position + len(page), index == len(table) - 1, others)
        continuing = continuing if not table else table[-1] == 255
    raise AudioFileError(f"its first stream ends before packet {count}")
