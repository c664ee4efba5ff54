"""WAV (RIFF) and AIFF chunks: an input's tags read as Vorbis comments and pictures, an output given chunks of them
(:mod:`sagasr_stream.tags`).

Read: an ``id3 `` or ``ID3 `` chunk's ID3v2 tag (:mod:`sagasr_stream.id3`); without one that gives a tag, a WAV's
LIST/INFO chunks (INAM TITLE, IART ARTIST, IPRD ALBUM, ICRD DATE, IGNR GENRE, ICMT COMMENT, ITRK or IPRT TRACKNUMBER,
ICOP COPYRIGHT, ISFT ENCODER, IENG ENGINEER, ISBJ SUBJECT, IKEY KEYWORDS, ILNG LANGUAGE, and the RIFF standard's other
ids by their meaning: ITCH TECHNICIAN, ISRC SOURCE (a person or body, not a recording code), ISRF SOURCE_FORM, IMED
MEDIUM, IARL ARCHIVAL_LOCATION, ICMS COMMISSIONED, ICRP CROPPED, IDIM DIMENSIONS, IDPI DOTS_PER_INCH, ILGT LIGHTNESS,
IPLT PALETTE_SETTING, ISHP SHARPNESS; an id outside these is told as left out) or an AIFF's text chunks (NAME TITLE,
AUTH ARTIST, ``(c) `` COPYRIGHT, each ANNO a COMMENT). Text up to its first NUL, UTF-8 or else latin-1. A WAV's ``bext``
chunk (Broadcast WAV) is kept for a WAV output, as it is but for its TimeReference (the first sample's time since
midnight, counted in samples): at another output rate it is counted anew at that rate (:func:`bext_at_rate`).

Written: a WAV output gets a LIST/INFO chunk of the comments INFO has an id for (UTF-8, NUL-ended; repeated values
joined by "; "), and an ``id3 `` chunk holding an ID3v2.4 tag of all the comments and pictures
(:func:`~sagasr_stream.tags.mp3.id3v24_tag`) when there are pictures, repeated values or names INFO has no id for;
an AIFF output an ``ID3 `` chunk of them. They go after the output's last chunk (its sample data), a ``bext`` chunk
right before its ``data`` chunk; each chunk of an odd size is followed by a pad byte, and the RIFF (FORM) size is
made anew. An output they would grow past :data:`MAX_RIFF` bytes is left as written.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple

from ..id3 import ID3V2_HEADER, id3v2_fields
from .mp3 import grouped, id3v2_length, id3v24_tag
from .vorbis import TagProblem, encoded, picture_block

MAX_RIFF = 0xFFFFFFFF  # a RIFF or FORM size: 32 bits (a WAV of 4 GiB)
MAX_TAG_CHUNK = 64 << 20  # bytes of an input's tag chunk read at most (a larger one: skipped)
MAX_CHUNKS = 4096  # chunks walked at most
COPY_BLOCK = 1 << 20
ID3_CHUNKS = (b"id3 ", b"ID3 ")
INFO_NAMES = {b"INAM": "TITLE", b"IART": "ARTIST", b"IPRD": "ALBUM", b"ICRD": "DATE", b"IGNR": "GENRE",
              b"ICMT": "COMMENT", b"ITRK": "TRACKNUMBER", b"IPRT": "TRACKNUMBER", b"ICOP": "COPYRIGHT",
              b"ISFT": "ENCODER", b"IENG": "ENGINEER", b"ISBJ": "SUBJECT", b"IKEY": "KEYWORDS", b"ILNG": "LANGUAGE",
              b"ITCH": "TECHNICIAN", b"ISRC": "SOURCE", b"ISRF": "SOURCE_FORM", b"IMED": "MEDIUM",
              b"IARL": "ARCHIVAL_LOCATION", b"ICMS": "COMMISSIONED", b"ICRP": "CROPPED", b"IDIM": "DIMENSIONS",
              b"IDPI": "DOTS_PER_INCH", b"ILGT": "LIGHTNESS", b"IPLT": "PALETTE_SETTING", b"ISHP": "SHARPNESS"}
INFO_IDS = {name: cid for cid, name in INFO_NAMES.items() if cid != b"IPRT"}  # ITRK written
AIFF_NAMES = {b"NAME": "TITLE", b"AUTH": "ARTIST", b"(c) ": "COPYRIGHT", b"ANNO": "COMMENT"}
TAG_CHUNKS = {False: {*ID3_CHUNKS, b"LIST", b"bext"}, True: {*ID3_CHUNKS, *AIFF_NAMES}}  # a WAV's, an AIFF's
BEXT_LEFT_OUT = "its Broadcast WAV bext chunk (description, originator, time reference): only a WAV output holds one"
TIME_REFERENCE = slice(338, 346)  # a bext body's TimeReference: uint64 little-endian, after its text fields (EBU 3285)


class Form(NamedTuple):
    """A WAV's (an RF64 one's) or an AIFF's chunks: (id, body offset, body length) each, and where the last one
    ends (its pad byte counted)."""

    aiff: bool
    rf64: bool
    chunks: list[tuple[bytes, int, int]]
    end: int

    @property
    def order(self) -> Literal["little", "big"]:
        return "big" if self.aiff else "little"


class RiffTags(NamedTuple):
    """The tags of a WAV or an AIFF: Vorbis comments, PICTURE bodies, a WAV's ``bext`` chunk's body and its sample
    rate (Hz; 0 when it has no bext chunk)."""

    comments: list[bytes]
    bodies: list[bytes]
    bext: bytes
    rate: int = 0


def walk(f: BinaryIO) -> tuple[Form, str | None]:
    """The chunks of an open WAV (RF64 too: a ``data`` chunk's size from its ``ds64`` chunk) or AIFF file, and what
    stopped the walk early (a chunk other than the sample data running past the end of the file, too many chunks;
    None: nothing did, or the sample data ran past it: a cut file, a streaming writer's placeholder size);
    :class:`TagProblem` for a file that is none."""
    head, size = f.read(12), os.fstat(f.fileno()).st_size
    if not (head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE"
            or head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC")):
        raise TagProblem("no RIFF WAVE or FORM AIFF header")
    form, data_size = Form(head[:4] == b"FORM", head[:4] == b"RF64", [], 12), None
    while form.end + 8 <= size:
        if len(form.chunks) == MAX_CHUNKS:
            return form, f"more than {MAX_CHUNKS} chunks"
        f.seek(form.end)
        header = f.read(8)
        cid, length = header[:4], int.from_bytes(header[4:], form.order)
        if cid == b"ds64" and form.rf64 and length >= 16:
            data_size = int.from_bytes(f.read(16)[8:], "little")  # after the RIFF size
        if cid == b"data" and length == 0xFFFFFFFF and data_size is not None:
            length = data_size
        if form.end + 8 + length > size:
            ran_past = cid == (b"SSND" if form.aiff else b"data")
            return form, None if ran_past else f"its chunk {cid.decode('latin-1')!r} runs past the end of the file"
        form.chunks.append((cid, form.end + 8, length))
        form = form._replace(end=form.end + 8 + length + (length & 1))
    return form, None


def text(body: bytes) -> str:
    """The text of an INFO or AIFF text chunk: up to its first NUL, UTF-8 or else latin-1."""
    raw = body.split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def info_comments(body: bytes, problems: list[str]) -> list[tuple[str, str]]:
    """The comments of a LIST chunk's body of type INFO (an id without a name told in ``problems``);
    :class:`TagProblem` when a sub-chunk runs past it."""
    found, pos = [], 4
    while pos + 8 <= len(body):
        cid, length = body[pos : pos + 4], int.from_bytes(body[pos + 4 : pos + 8], "little")
        if pos + 8 + length > len(body):
            raise TagProblem(f"its {cid.decode('latin-1')!r} runs past it")
        value = text(body[pos + 8 : pos + 8 + length])
        if value and cid not in INFO_NAMES:
            problems.append(f"its INFO field {cid.decode('latin-1')!r} is not a RIFF standard one")
        found += [(INFO_NAMES[cid], value)] if cid in INFO_NAMES and value else []
        pos += 8 + length + (length & 1)
    return found


def id3_chunk_fields(body: bytes, problems: list[str]) -> tuple[list[bytes], list[bytes]]:
    """(Vorbis comments, PICTURE bodies) of an ID3 chunk's body; :class:`TagProblem` when its tag does not parse."""
    length = id3v2_length(body[:ID3V2_HEADER])
    if length > len(body):
        raise TagProblem(f"{length} bytes said, the chunk is shorter")
    comments, pictures = id3v2_fields(body[:length], problems)
    return encoded(comments), [picture_block(picture) for picture in pictures]


def chunk_tags(f: BinaryIO, form: Form, problems: list[str]) -> RiffTags:
    """The tags of the chunks ``form`` of the open file ``f`` (see the module docstring)."""
    texts: list[tuple[str, str]] = []
    info_problems: list[str] = []  # told only when the INFO chunk is what is read (no ID3 tag)
    found: tuple[list[bytes], list[bytes]] = ([], [])
    bext = b""
    for cid, offset, length in form.chunks:
        f.seek(offset)
        if (cid not in TAG_CHUNKS[form.aiff] or cid in ID3_CHUNKS and any(found) or cid == b"bext" and bext
                or cid == b"LIST" and f.read(4) != b"INFO"):  # the first ID3 tag and bext chunk that parse
            continue
        name = "ID3" if cid in ID3_CHUNKS else "LIST/INFO" if cid == b"LIST" else cid.decode("latin-1").strip()
        if length > MAX_TAG_CHUNK:
            problems.append(f"its {name} chunk of {length} bytes is over {MAX_TAG_CHUNK >> 20} MiB")
            continue
        f.seek(offset)
        body = f.read(length)
        try:
            if cid in ID3_CHUNKS:
                found = id3_chunk_fields(body, problems)
            elif cid == b"bext":
                bext = body
            elif form.aiff:
                texts += [(AIFF_NAMES[cid], value) for value in [text(body)] if value]
            else:
                texts += info_comments(body, info_problems)
        except TagProblem as exc:
            problems.append(f"its {name} chunk does not parse ({exc})")
    comments, bodies = found if any(found) else (encoded(texts), [])
    problems += [] if any(found) else info_problems
    return RiffTags(comments, bodies, bext, wav_rate(f, form) if bext else 0)


def wav_rate(f: BinaryIO, form: Form) -> int:
    """The sample rate (Hz) in the ``fmt `` chunk of the open WAV ``f`` of chunks ``form``; 0 without one."""
    for cid, offset, length in form.chunks:
        if cid == b"fmt " and length >= 8:
            f.seek(offset + 4)
            return int.from_bytes(f.read(4), "little")
    return 0


def bext_at_rate(bext: bytes, rate: int, output_rate: int) -> bytes:
    """The ``bext`` body of a WAV at ``rate`` Hz for one at ``output_rate`` Hz: its TimeReference (samples since
    midnight) counted at the output's rate, rounded; as it is when either rate is unknown (0) or the body too short
    to hold one."""
    if not rate or not output_rate or rate == output_rate or len(bext) < TIME_REFERENCE.stop:
        return bext
    samples = int.from_bytes(bext[TIME_REFERENCE], "little")
    moved = min(round(samples * output_rate / rate), (1 << 64) - 1)
    return bext[: TIME_REFERENCE.start] + moved.to_bytes(8, "little") + bext[TIME_REFERENCE.stop :]


def riff_tags(source: Path, problems: list[str]) -> RiffTags:
    """The tags of the WAV or AIFF file ``source`` (see the module docstring); what is left out is told in
    ``problems``."""
    try:
        with open(source, "rb") as f:
            form, stopped = walk(f)
            if stopped:
                problems.append(f"its chunks cannot all be walked ({stopped})")
            return chunk_tags(f, form, problems)
    except (TagProblem, OSError) as exc:
        reason = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
        problems.append(f"its chunks cannot be walked ({reason})")
        return RiffTags([], [], b"", 0)


# --- an output's chunks ---------------------------------------------------------------------------------------------

def chunk(cid: bytes, body: bytes, order: Literal["little", "big"]) -> bytes:
    """A chunk: id, length, ``body`` and a pad byte after an odd one."""
    return cid + len(body).to_bytes(4, order) + body + b"\0" * (len(body) & 1)


def info_chunk(fields: list[bytes]) -> tuple[bytes, bool]:
    """(a LIST/INFO chunk of the comments ``fields`` INFO has an id for (b"": none), whether it holds them all:
    every name has an id and one value)."""
    problems: list[str] = []  # an odd comment: told by the ID3 tag it makes wanted
    groups = grouped(fields, problems)
    items = [chunk(INFO_IDS[upper], "; ".join(texts).encode() + b"\0", "little")
             for upper, (_, texts) in groups.items() if upper in INFO_IDS and texts and "\0" not in "".join(texts)]
    whole = not problems and len(items) == sum(1 for _, texts in groups.values() if texts) and all(
        len(texts) <= 1 for _, texts in groups.values())
    return (chunk(b"LIST", b"INFO" + b"".join(items), "little") if items else b""), whole


def output_chunks(form: Form, tags: RiffTags, problems: list[str]) -> tuple[bytes, bytes]:
    """(the chunks to put before an output's sample data, those to put after it) of ``tags`` for the output of
    chunks ``form``; none when they would grow it past :data:`MAX_RIFF` bytes (told in ``problems``)."""
    if form.aiff:
        tag = id3v24_tag(tags.comments, tags.bodies, problems)
        before, after = b"", chunk(b"ID3 ", tag, "big") if tag else b""
        problems += [BEXT_LEFT_OUT] if tags.bext else []
    else:
        info, whole = info_chunk(tags.comments)
        tag = b"" if whole and not tags.bodies else id3v24_tag(tags.comments, tags.bodies, problems)
        before = chunk(b"bext", tags.bext, "little") if tags.bext else b""  # at the output's rate (into_riff)
        after = info + (chunk(b"id3 ", tag, "little") if tag else b"")
    if form.end + len(before) + len(after) - 8 > MAX_RIFF:
        problems.append(f"{len(before) + len(after)} bytes of chunks would grow the output past the 4 GiB a RIFF "
                        "or AIFF file can hold")
        return b"", b""
    return before, after


def copy_range(src: BinaryIO, dst: BinaryIO, start: int, end: int) -> None:
    src.seek(start)
    while start < end:
        block = src.read(min(COPY_BLOCK, end - start))
        if not block:
            raise TagProblem("the file ends early")
        dst.write(block)
        start += len(block)


def output_form(f: BinaryIO) -> Form:
    """The chunks of an open WAV or AIFF output, which must end with its last chunk (a missing pad byte allowed)
    and hold its sample data; :class:`TagProblem` otherwise."""
    form, stopped = walk(f)
    size = os.fstat(f.fileno()).st_size
    if form.rf64:
        raise TagProblem("it is an RF64 file (over 4 GiB): no chunk is added to it")
    if stopped or form.end not in (size, size + 1):
        raise TagProblem(stopped or f"{size - form.end} bytes after its last chunk")
    if not any(cid == (b"SSND" if form.aiff else b"data") for cid, _, _ in form.chunks):
        raise TagProblem("it has no sample data chunk")
    return form


def write_riff(src: BinaryIO, dst: BinaryIO, before: bytes, after: bytes) -> None:
    """Copy the WAV or AIFF file ``src`` to ``dst`` with the chunks ``before`` put before its sample data and
    ``after`` after its last chunk, its RIFF (FORM) size made anew."""
    form = output_form(src)
    size = os.fstat(src.fileno()).st_size
    data = next(offset - 8 for cid, offset, _ in form.chunks if cid == (b"SSND" if form.aiff else b"data"))
    src.seek(0)
    head = src.read(12)
    dst.write(head[:4] + (form.end + len(before) + len(after) - 8).to_bytes(4, form.order) + head[8:])
    copy_range(src, dst, 12, data)
    dst.write(before)
    copy_range(src, dst, data, size)
    dst.write(b"\0" * (form.end - size) + after)
