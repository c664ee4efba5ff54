"""An MP3's ID3 tag read as Vorbis comments and pictures, for a FLAC or Ogg Vorbis file restored from it
(:mod:`sagasr_stream.tags`; the way back, Vorbis comments into an ID3v2.4 tag: :mod:`sagasr_stream.tags.mp3`).

Our own small reader (the runtime takes no tagging library). Read from an ID3v2 tag (2.2, 2.3, 2.4):

- text frames under the names common taggers give them in a Vorbis comment: TIT2 TITLE, TPE1 ARTIST, TPE2
  ALBUMARTIST, TALB ALBUM, TRCK TRACKNUMBER and TRACKTOTAL ("3/12"), TPOS DISCNUMBER and DISCTOTAL, TDRC or TYER
  DATE (with a 2.3 TDAT's day: "1974-05-06"), TCON GENRE (ID3v1 genre numbers, "17" or "(17)", by name), TCOM
  COMPOSER, TCOP COPYRIGHT, TSRC ISRC, TBPM BPM; the first COMM without a description COMMENT (its language
  ignored); TXXX the upper-cased description (``replaygain_track_gain`` -> REPLAYGAIN_TRACK_GAIN). Values
  NUL-separated are repeated comments; a 2.3 tag's "/" between artists is kept as written (AC/DC);
- APIC (2.2: PIC) frames as pictures: type, MIME type, description, data (no size or depth: FLAC allows 0).

Text in latin-1, UTF-16 with a BOM, UTF-16BE or UTF-8. The unsynchronisation of a whole tag (2.2, 2.3) or of a
frame (2.4), an extended header, grouping bytes and a data length are undone or skipped. Not read: compressed or
encrypted frames, a compressed 2.2 tag, a picture given as a link ("-->"), a TXXX whose description is no Vorbis
name (ASCII, no "="), and all other frames (lyrics, URLs, play counts, private frames, ...). An ID3v1 tag (read only
where there is no ID3v2 tag) gives TITLE, ARTIST, ALBUM, DATE, COMMENT, TRACKNUMBER (1.1) and GENRE.

A frame that cannot be read is left out and named in the caller's ``problems``; a frame header that does not parse
ends the reading (the frames before it are kept).
"""
from __future__ import annotations

import re
from typing import Callable, NamedTuple

#: ID3v1 genres 0-79, Winamp's 80-191, by number
GENRES = (
    "Blues", "Classic Rock", "Country", "Dance", "Disco", "Funk", "Grunge", "Hip-Hop", "Jazz", "Metal", "New Age",
    "Oldies", "Other", "Pop", "R&B", "Rap", "Reggae", "Rock", "Techno", "Industrial", "Alternative", "Ska",
    "Death Metal", "Pranks", "Soundtrack", "Euro-Techno", "Ambient", "Trip-Hop", "Vocal", "Jazz+Funk", "Fusion",
    "Trance", "Classical", "Instrumental", "Acid", "House", "Game", "Sound Clip", "Gospel", "Noise", "Alt. Rock",
    "Bass", "Soul", "Punk", "Space", "Meditative", "Instrumental Pop", "Instrumental Rock", "Ethnic", "Gothic",
    "Darkwave", "Techno-Industrial", "Electronic", "Pop-Folk", "Eurodance", "Dream", "Southern Rock", "Comedy",
    "Cult", "Gangsta Rap", "Top 40", "Christian Rap", "Pop/Funk", "Jungle", "Native American", "Cabaret",
    "New Wave", "Psychedelic", "Rave", "Showtunes", "Trailer", "Lo-Fi", "Tribal", "Acid Punk", "Acid Jazz", "Polka",
    "Retro", "Musical", "Rock & Roll", "Hard Rock", "Folk", "Folk-Rock", "National Folk", "Swing", "Fast-Fusion",
    "Bebop", "Latin", "Revival", "Celtic", "Bluegrass", "Avantgarde", "Gothic Rock", "Progressive Rock",
    "Psychedelic Rock", "Symphonic Rock", "Slow Rock", "Big Band", "Chorus", "Easy Listening", "Acoustic", "Humour",
    "Speech", "Chanson", "Opera", "Chamber Music", "Sonata", "Symphony", "Booty Bass", "Primus", "Porn Groove",
    "Satire", "Slow Jam", "Club", "Tango", "Samba", "Folklore", "Ballad", "Power Ballad", "Rhythmic Soul",
    "Freestyle", "Duet", "Punk Rock", "Drum Solo", "A Cappella", "Euro-House", "Dance Hall", "Goa", "Drum & Bass",
    "Club-House", "Hardcore", "Terror", "Indie", "BritPop", "Afro-Punk", "Polsk Punk", "Beat", "Christian Gangsta Rap",
    "Heavy Metal", "Black Metal", "Crossover", "Contemporary Christian", "Christian Rock", "Merengue", "Salsa",
    "Thrash Metal", "Anime", "JPop", "Synthpop", "Abstract", "Art Rock", "Baroque", "Bhangra", "Big Beat",
    "Breakbeat", "Chillout", "Downtempo", "Dub", "EBM", "Eclectic", "Electro", "Electroclash", "Emo", "Experimental",
    "Garage", "Global", "IDM", "Illbient", "Industro-Goth", "Jam Band", "Krautrock", "Leftfield", "Lounge",
    "Math Rock", "New Romantic", "Nu-Breakz", "Post-Punk", "Post-Rock", "Psytrance", "Shoegaze", "Space Rock",
    "Trop Rock", "World Music", "Neoclassical", "Audiobook", "Audio Theatre", "Neue Deutsche Welle", "Podcast",
    "Indie Rock", "G-Funk", "Dubstep", "Garage Rock", "Psybient",
)
TEXT_NAMES = {"TIT2": "TITLE", "TPE1": "ARTIST", "TPE2": "ALBUMARTIST", "TALB": "ALBUM", "TDRC": "DATE",
              "TYER": "DATE", "TCOM": "COMPOSER", "TCOP": "COPYRIGHT", "TSRC": "ISRC", "TBPM": "BPM"}
NUMBERED = {"TRCK": ("TRACKNUMBER", "TRACKTOTAL"), "TPOS": ("DISCNUMBER", "DISCTOTAL")}
V22_IDS = {"TT2": "TIT2", "TP1": "TPE1", "TP2": "TPE2", "TAL": "TALB", "TRK": "TRCK", "TPA": "TPOS", "TYE": "TYER",
           "TDA": "TDAT", "TCO": "TCON", "TCM": "TCOM", "TCR": "TCOP", "TRC": "TSRC", "TBP": "TBPM", "COM": "COMM",
           "TXX": "TXXX", "PIC": "APIC"}
V22_IMAGES = {"PNG": "image/png", "JPG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp"}
MAPPED = {*TEXT_NAMES, *NUMBERED, "TCON", "TDAT", "COMM", "TXXX", "APIC"}
GENRE_NUMBER = re.compile(r"[0-9]{1,3}")  # ASCII digits only ("²".isdigit())
GENRE_REFERENCE = re.compile(r"\(([0-9]{1,3}|RX|CR)\)")
FRAME_ID = {2: re.compile(rb"[A-Z0-9]{3}"), 3: re.compile(rb"[A-Z0-9]{4}"), 4: re.compile(rb"[A-Z0-9]{4}")}
CODECS = {0: "latin-1", 2: "utf-16-be", 3: "utf-8"}  # 1: UTF-16 with a BOM
BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
Comments = list[tuple[str, str]]
ID3V2_HEADER = 10  # "ID3", version (2), flags, syncsafe size (4); a footer as long


class FrameProblem(Exception):
    """A frame that cannot be read as ID3 says (left out, named in ``problems``)."""


class Picture(NamedTuple):
    """A picture of an ID3 tag: its type (3: front cover), MIME type, description and data."""

    kind: int
    mime: str
    description: str
    data: bytes


def syncsafe(data: bytes) -> int:
    """The number whose 7-bit bytes are ``data`` (high bits ignored)."""
    value = 0
    for byte in data:
        value = value << 7 | byte & 0x7F
    return value


def tag_length(head: bytes) -> int:
    """Bytes of the ID3v2 tag whose 10-byte header is ``head``: the header, the syncsafe size it gives and a footer
    as long as the header when its flag is set (not checked: see :func:`sagasr_stream.tags.mp3.id3v2_length`)."""
    return ID3V2_HEADER + syncsafe(head[6:10]) + (ID3V2_HEADER if head[5] & 0x10 else 0)


def undo_unsync(data: bytes) -> bytes:
    """``data`` with the zero byte unsynchronisation put after each 0xFF removed."""
    return data.replace(b"\xff\x00", b"\xff")


# --- text ---------------------------------------------------------------------------------------------------------

def split_once(encoding: int, raw: bytes) -> tuple[bytes, bytes]:
    """(``raw`` up to its first NUL terminator in ``encoding``, the bytes after it); (``raw``, b"") without one."""
    width, pos = (2 if encoding in (1, 2) else 1), 0  # UTF-16: a NUL pair at an even offset
    while True:
        pos = raw.find(b"\0" * width, pos)
        if pos < 0:
            return raw, b""
        if pos % width == 0:
            return raw[:pos], raw[pos + width :]
        pos += 1


def decode(encoding: int, parts: list[bytes]) -> list[str]:
    """The strings of ``parts`` in the ID3 text ``encoding`` (0-3; UTF-16 strings after the first may lack a BOM)."""
    if encoding not in (0, 1, 2, 3):
        raise FrameProblem(f"unknown text encoding {encoding}")
    codec, texts = "utf-16-le", []
    for part in parts:
        if encoding == 1 and part[:2] in BOMS:
            codec, part = BOMS[part[:2]], part[2:]
        try:
            texts.append(part.decode(codec if encoding == 1 else CODECS[encoding]))
        except UnicodeDecodeError as exc:
            name = {1: "UTF-16", 2: "UTF-16BE", 3: "UTF-8"}[encoding]
            raise FrameProblem(f"its text is not valid {name} ({exc.reason})") from None
    return texts


def values(encoding: int, raw: bytes) -> list[str]:
    """The non-empty NUL-separated strings of ``raw``."""
    parts = []
    while raw:
        part, raw = split_once(encoding, raw)
        parts.append(part)
    return [text for text in decode(encoding, parts) if text]


def described(data: bytes, skip: int = 0) -> tuple[int, str, bytes]:
    """(encoding, description, the rest) of a frame body that is an encoding byte, ``skip`` bytes (a language) and
    a terminated description."""
    if len(data) < 1 + skip:
        raise FrameProblem("it is shorter than its fields")
    encoding = data[0]
    description, rest = split_once(encoding, data[1 + skip :])
    return encoding, decode(encoding, [description])[0], rest


# --- frames -------------------------------------------------------------------------------------------------------

def genre_names(value: str) -> list[str]:
    """The genres of a TCON value: "17" or "(17)" by their ID3v1 name, "(RX)" Remix, "(CR)" Cover, text as it is."""
    if GENRE_NUMBER.fullmatch(value):
        return [genre_name(value)]
    names: list[str] = []
    rest = value
    while match := GENRE_REFERENCE.match(rest):
        name = {"RX": "Remix", "CR": "Cover"}.get(match[1]) or genre_name(match[1])
        names += [name] if name not in names else []
        rest = rest[match.end() :]
    rest = rest[1:] if rest.startswith("((") else rest
    return names + ([rest] if rest and rest not in names else [])


def genre_name(number: str) -> str:
    return GENRES[int(number)] if int(number) < len(GENRES) else number


def vorbis_name(description: str) -> str:
    """A TXXX description as a Vorbis comment name (upper-cased): :class:`FrameProblem` when it cannot be one."""
    name = description.upper()
    if not name or any(not 0x20 <= ord(char) <= 0x7D or char == "=" for char in name):
        raise FrameProblem(f"its description {description!r} is no Vorbis comment name")
    return name


def picture(data: bytes, version: int) -> Picture:
    """The picture of an APIC frame's body (2.2: PIC, an image format instead of a MIME type)."""
    if version == 2:
        if len(data) < 5:
            raise FrameProblem("it is shorter than its fields")
        image_format = data[1:4].decode("latin-1")
        mime, data = V22_IMAGES.get(image_format.upper(), image_format), data[:1] + data[4:]
    else:
        mime_bytes, rest = split_once(0, data[1:])
        mime, data = mime_bytes.decode("latin-1"), data[:1] + rest
    if mime == "-->":
        raise FrameProblem("its picture is a link")
    if not mime.isascii() or not mime.isprintable():
        raise FrameProblem(f"its MIME type {mime!r} is not printable ASCII")
    if "/" not in mime:  # "jpg", "PNG": some taggers write the image format
        mime = "image/" + {"jpg": "jpeg"}.get(mime.lower(), mime.lower())
    if len(data) < 2:
        raise FrameProblem("it is shorter than its fields")
    kind, data = data[1], data[:1] + data[2:]
    _, description, image = described(data)
    return Picture(kind if kind <= 20 else 0, mime, description, image)


class Reader:
    """Vorbis comments and pictures gathered frame by frame."""

    def __init__(self) -> None:
        self.comments: Comments = []
        self.pictures: list[Picture] = []
        self.day = ""  # a 2.3 TDAT (DDMM)
        self.commented = False

    def add(self, fid: str, data: bytes, version: int) -> None:
        """Read the body ``data`` of the frame ``fid`` (a 2.3/2.4 id, one of :data:`MAPPED`)."""
        handlers: dict[str, Callable[[bytes], None]] = {
            "TCON": self.genre, "TDAT": self.tdat, "COMM": self.comment, "TXXX": self.user_text}
        if not data:
            raise FrameProblem("it is empty")
        if fid in TEXT_NAMES:
            self.comments += [(TEXT_NAMES[fid], text) for text in values(data[0], data[1:])]
        elif fid in NUMBERED:
            for text in values(data[0], data[1:]):
                number, _, total = text.partition("/")
                self.comments += [(name, part.strip()) for name, part in zip(NUMBERED[fid], (number, total))
                                  if part.strip()]
        elif fid == "APIC":
            self.pictures.append(picture(data, version))
        elif fid in handlers:
            handlers[fid](data)

    def genre(self, data: bytes) -> None:
        self.comments += [("GENRE", name) for text in values(data[0], data[1:]) for name in genre_names(text)]

    def tdat(self, data: bytes) -> None:
        self.day = next(iter(values(data[0], data[1:])), "")

    def comment(self, data: bytes) -> None:
        encoding, description, text = described(data, skip=3)
        if not description and not self.commented:
            self.commented = True
            self.comments += [("COMMENT", value) for value in values(encoding, text)[:1]]

    def user_text(self, data: bytes) -> None:
        encoding, description, text = described(data)
        name = vorbis_name(description)
        self.comments += [(name, value) for value in values(encoding, text)]

    def result(self) -> tuple[Comments, list[Picture]]:
        """(the comments, a year given a TDAT's day, the pictures)."""
        if re.fullmatch(r"\d{4}", self.day):
            for index, (name, value) in enumerate(self.comments):
                if name == "DATE" and re.fullmatch(r"\d{4}", value):
                    self.comments[index] = (name, f"{value}-{self.day[2:]}-{self.day[:2]}")
                    break
        return self.comments, self.pictures


# --- tags ---------------------------------------------------------------------------------------------------------

def frame_body(data: bytes, version: int, flags: int, tag_unsync: bool) -> bytes:
    """A frame's body as its format flags (the second byte; 2.3 and 2.4) say: grouping byte and data length
    skipped, unsynchronisation undone; :class:`FrameProblem` for a compressed or encrypted frame."""
    if version == 3:
        if flags & 0xC0:
            raise FrameProblem("it is " + ("compressed" if flags & 0x80 else "encrypted"))
        return data[1:] if flags & 0x20 else data
    if version == 4:
        if flags & 0x0C:
            raise FrameProblem("it is " + ("compressed" if flags & 0x08 else "encrypted"))
        skip = (1 if flags & 0x40 else 0) + (4 if flags & 0x01 else 0)
        data = data[skip:]
        return undo_unsync(data) if flags & 0x02 or tag_unsync else data
    return data


def extended_header(body: bytes, version: int) -> int:
    """Bytes of the extended header ``body`` begins with (2.3: its size after 4 bytes; 2.4: syncsafe, whole)."""
    if len(body) < 4:
        raise FrameProblem("its extended header runs past the tag")
    return int.from_bytes(body[:4], "big") + 4 if version == 3 else syncsafe(body[:4])


def id3v2_fields(tag: bytes, problems: list[str]) -> tuple[Comments, list[Picture]]:
    """The Vorbis comments and pictures of a whole ID3v2 tag (its header checked by the caller); each frame left
    out is named in ``problems``."""
    version, flags = tag[3], tag[5]
    body = tag[10 : 10 + syncsafe(tag[6:10])]
    reader = Reader()
    if version == 2 and flags & 0x40:
        problems.append("its ID3v2.2 tag is compressed")
        return reader.result()
    if flags & 0x80 and version < 4:
        body = undo_unsync(body)
    try:
        pos = extended_header(body, version) if flags & 0x40 else 0
    except FrameProblem as exc:
        problems.append(str(exc))
        return reader.result()
    header = 6 if version == 2 else 10
    while pos + header <= len(body) and body[pos] != 0:
        width = 3 if version == 2 else 4  # of the id and of the size
        raw_id, size_bytes = body[pos : pos + width], body[pos + width : pos + 2 * width]
        fid = raw_id.decode("latin-1")
        size = syncsafe(size_bytes) if version == 4 else int.from_bytes(size_bytes, "big")
        start = pos + header
        if not FRAME_ID[version].fullmatch(raw_id) or start + size > len(body) or (
                version == 4 and any(byte & 0x80 for byte in size_bytes)):
            problems.append(f"its ID3v2 frame {fid!r} does not parse: it and the frames after it are left out")
            break
        mapped = V22_IDS.get(fid, "") if version == 2 else fid
        try:
            if mapped in MAPPED:
                frame_flags = 0 if version == 2 else body[pos + 9]
                reader.add(mapped, frame_body(body[start : start + size], version, frame_flags, bool(flags & 0x80)),
                           version)
        except FrameProblem as exc:
            problems.append(f"its ID3v2 frame {fid} is left out ({exc})")
        pos = start + size
    return reader.result()


def id3v1_fields(tag: bytes) -> Comments:
    """The Vorbis comments of a 128-byte ID3v1 (1.1) tag: latin-1 fields cut at a NUL, trailing spaces stripped."""
    def field(start: int, end: int) -> str:
        return tag[start:end].split(b"\0", 1)[0].decode("latin-1").rstrip(" ")

    track = tag[126] if tag[125] == 0 and tag[126] else 0  # 1.1: the comment's last byte
    fields = [("TITLE", field(3, 33)), ("ARTIST", field(33, 63)), ("ALBUM", field(63, 93)), ("DATE", field(93, 97)),
              ("COMMENT", field(97, 125 if track else 127)), ("TRACKNUMBER", str(track) if track else ""),
              ("GENRE", GENRES[tag[127]] if tag[127] < len(GENRES) else "")]
    return [(name, value) for name, value in fields if value]
