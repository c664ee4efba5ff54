"""An input's tags carried into its restored output (pedalboard writes none), between any two of FLAC, MP3, Ogg
Vorbis, WAV and AIFF: an input's tags read as Vorbis comments and pictures where the containers differ
(:mod:`.vorbis`).

- FLAC -> FLAC: the input's VORBIS_COMMENT block as it is (when it holds a comment: TITLE, ARTIST, ALBUM,
  TRACKNUMBER, ...; it replaces the one libFLAC wrote, which names only its encoder), its PICTURE blocks (cover
  art) and its first CUESHEET block, put right after the output's STREAMINFO. The CUESHEET's offsets count samples
  at the input's rate (its STREAMINFO's): each track's start, each index point and the lead-in are counted anew at
  the output's rate (round(samples * output rate / input rate); index offsets again from their track's start), the
  lead-out track put at the output's end, and a CD-DA cue sheet's CD flag cleared (its lead-in 0) when the output is
  no 44.1 kHz one or an offset is no multiple of 588 samples. The output's STREAMINFO (sample count, MD5), its
  other blocks (SEEKTABLE: offsets from the first frame) and its frames stay as written. Not carried: APPLICATION,
  SEEKTABLE and PADDING blocks of the input, and an ID3v2 tag before its ``fLaC`` marker (looked past, not kept)
  (:mod:`.flac`); a CUESHEET block into any other output.
- MP3 -> MP3: the input's ID3v2 tag (2.2, 2.3 or 2.4, with a footer if it has one) put first and its ID3v1 tag
  (the last 128 bytes, from ``TAG``) last, both verbatim; the output's frames between them as written, its LAME
  tag first, so it reads back at the exact length (:func:`~sagasr_stream.mp3.mp3_gapless` skips an ID3v2 tag). Not
  carried: APEv2, Lyrics3 and "TAG+" tags, an ID3v2 tag at the end of the file (:mod:`.mp3`).
- MP3 -> FLAC: the input's ID3v2 tag (or, without one, its ID3v1 tag) read by :mod:`sagasr_stream.id3` as Vorbis
  comments (TITLE, ARTIST, ALBUM, TRACKNUMBER and TRACKTOTAL, DATE, GENRE, COMMENT, TXXX frames by their
  description, ...: the mapping is there) in a VORBIS_COMMENT block under the vendor string libFLAC gave the output,
  and its APIC frames as PICTURE blocks, both put after the output's STREAMINFO as for FLAC -> FLAC.
- Ogg Vorbis -> FLAC: the comment header (the second packet) of the input's first logical stream, reassembled from
  its pages (:func:`~sagasr_stream.ogg.first_packets`: CRCs and page numbers checked, at most
  :data:`.ogg.MAX_OGG_COMMENT` bytes), as a VORBIS_COMMENT block under the vendor string libFLAC gave the output (the
  comments byte for byte, in their order; Vorbis' framing bit dropped), and each METADATA_BLOCK_PICTURE comment
  (the base64 of a PICTURE block's body) decoded into a PICTURE block instead of a comment, both put after the
  output's STREAMINFO as for FLAC -> FLAC. An old COVERART comment (a bare image in base64) stays a comment.
- FLAC, MP3 or Ogg Vorbis -> Ogg Vorbis: the output's comment header made anew of the input's comments under the
  vendor string libvorbis gave it, its header pages paged anew and the audio pages after them renumbered
  (:mod:`.ogg`: the decoded samples stay the same). From an Ogg Vorbis file its comments byte for byte, in their
  order (METADATA_BLOCK_PICTURE ones too); from a FLAC its VORBIS_COMMENT block's comments, then a
  METADATA_BLOCK_PICTURE comment of each PICTURE block; from an MP3 the comments and pictures read as for MP3 -> FLAC.
- FLAC or Ogg Vorbis -> MP3: an ID3v2.4 tag of the input's comments put before the output's frames (TITLE TIT2,
  ARTIST TPE1, ALBUM TALB, TRACKNUMBER and TRACKTOTAL TRCK, DATE TDRC, GENRE TCON, COMMENT COMM, any other name a
  TXXX by its name, ...: the mapping is in :mod:`.mp3`), and each picture (a PICTURE block, a METADATA_BLOCK_PICTURE
  comment) as an APIC frame; no ID3v1 tag. The output's frames as written, its LAME tag first, so it reads back at
  the exact length.
- WAV or AIFF -> any: an ``id3 `` or ``ID3 `` chunk's ID3v2 tag read as for MP3 -> FLAC; without one that gives a
  tag, a WAV's LIST/INFO chunks (INAM TITLE, IART ARTIST, IPRD ALBUM, ICRD DATE, IGNR GENRE, ICMT COMMENT, ITRK or
  IPRT TRACKNUMBER, ICOP COPYRIGHT, ISFT ENCODER, ...: the mapping is in :mod:`.riff`) or an AIFF's NAME (TITLE),
  AUTH (ARTIST), ``(c) `` (COPYRIGHT) and ANNO (COMMENT) chunks; the comments and pictures then go into a FLAC, MP3
  or Ogg Vorbis output as an MP3's do.
- Any -> WAV: a LIST/INFO chunk of the comments INFO has an id for (UTF-8; repeated values joined by "; "), and an
  ``id3 `` chunk of an ID3v2.4 tag of all the comments and pictures (made as for an MP3 output) when there are
  pictures, repeated values or names INFO has none for; both after the ``data`` chunk. WAV -> WAV: the input's
  ``bext`` chunk (Broadcast WAV) too, right before the ``data`` chunk, as it is but for its TimeReference, counted
  anew at the output's rate where that differs (a time in samples since midnight); into any other format the
  ``bext`` chunk is left out, with a warning (no other holds one). Any -> AIFF: an ``ID3 `` chunk of
  that ID3v2.4 tag after the ``SSND`` chunk. The output's own chunks and samples stay as written (a pad byte after
  an odd chunk), its RIFF (FORM) size is made anew; an output the chunks would grow past 4 GiB, and an RF64 output,
  are left as written (:mod:`.riff`).

- WAV or FLAC -> FLAC, the speaker layout (:func:`give_flac_layout`, called by the writer after the tags): a
  ``WAVEFORMATEXTENSIBLE_CHANNEL_MASK`` comment of the input's mask where it is not FLAC's default layout of the
  channel count (:mod:`.layout`), in place of any such comment the input's carried; none where it is.

Between the same containers (but WAV and AIFF, whose tags are read as comments) only block and tag headers are parsed
(and a comment's or a picture's lengths). An input block, chunk, tag, ID3 frame, comment or picture that does not
parse is skipped, one warning naming the input says which; the restore goes on. An output whose own metadata
cannot be walked is left as written (told in the same warning). The output is rewritten by streaming into a second
temporary file beside it (:func:`retagged_path`), which then replaces it; the same input and output give the same
bytes.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import BinaryIO, Callable

from ..errors import AudioFileError
from .flac import VORBIS_COMMENT, FlacBlock, blocks_of, flac_fields, flac_stream_info, flac_tag_blocks, write_flac
from .layout import flac_channel_mask, layout_comments
from .mp3 import id3_fields, id3_tags, id3v24_tag, write_mp3
from .ogg import ogg_fields, write_ogg
from .riff import BEXT_LEFT_OUT, RiffTags, bext_at_rate, output_chunks, output_form, riff_tags, wav_rate, write_riff
from .vorbis import TagProblem, picture_comment, split_pictures

__all__ = ["TagProblem", "carry_tags", "flac_channel_mask", "give_flac_layout", "retagged_path", "rewrite"]

log = logging.getLogger("sagasr_stream")

RIFF_KINDS = (".wav", ".aiff", ".aif")  # WAV and AIFF: tags in chunks
TAGGED = (".flac", ".mp3", ".ogg", *RIFF_KINDS)  # the containers whose tags are read and written
Copier = Callable[[BinaryIO, BinaryIO], None]  # streams one open file into another
Fields = tuple[list[bytes], list[bytes]]  # Vorbis comments (NAME=value) and PICTURE bodies


def carry_tags(source: str | os.PathLike[str], tmp: Path, destination: Path) -> None:
    """Give the output file ``tmp`` (being written for ``destination``) the tags of the input ``source``, both
    FLAC, MP3, Ogg Vorbis, WAV or AIFF (see the module docstring). An odd input tag is skipped with one warning naming
    ``source``; a failure to rewrite ``tmp`` raises :class:`AudioFileError` naming ``destination``."""
    source = Path(source)
    kind, out_kind = source.suffix.lower(), destination.suffix.lower()
    if kind not in TAGGED or out_kind not in TAGGED:
        log.debug("tags of %s are not carried into %s (only between FLAC, MP3, Ogg Vorbis, WAV and AIFF files)",
                  source, destination)
        return
    problems: list[str] = []
    into = {".flac": into_flac, ".mp3": into_mp3, ".ogg": into_ogg} | dict.fromkeys(RIFF_KINDS, into_riff)
    try:
        copy = into[out_kind](source, kind, tmp, problems)
        if copy is not None:
            rewrite(tmp, destination, copy)
    except TagProblem as exc:  # the output itself cannot be walked: left as written
        problems.append(f"the output's own metadata cannot be walked ({exc})")
    if problems:
        log.warning("tags of %s left out of %s: %s", source, destination, "; ".join(problems))


def give_flac_layout(tmp: Path, destination: Path, mask: int, channels: int) -> None:
    """Give the FLAC output ``tmp`` (being written for ``destination``, ``channels`` channels) the speaker mask
    ``mask`` of its input: a ``WAVEFORMATEXTENSIBLE_CHANNEL_MASK`` comment where it is not FLAC's default layout
    (:mod:`.layout`), any other such comment replaced. An output whose blocks cannot be walked is left as written,
    with a warning; a failure to rewrite it raises :class:`AudioFileError` naming ``destination``."""
    try:
        with open(tmp, "rb") as f:
            body = layout_comments(f, mask, channels)
    except TagProblem as exc:
        log.warning("the speaker layout 0x%04X was left out of %s: its metadata cannot be walked (%s)", mask,
                    destination, exc)
        return
    except OSError as exc:
        raise AudioFileError(f"cannot write {destination}: {exc.strerror or exc}") from exc
    if body is not None:
        rewrite(tmp, destination, lambda src, dst: write_flac(src, dst, [FlacBlock(VORBIS_COMMENT, body)]))


def input_fields(source: Path, kind: str, problems: list[str]) -> Fields:
    """(Vorbis comments, PICTURE bodies) of the FLAC, MP3, Ogg Vorbis, WAV or AIFF file ``source`` (a FLAC's or an
    Ogg Vorbis file's METADATA_BLOCK_PICTURE comments as bodies); what is left out is told in ``problems``."""
    if kind == ".mp3":
        return id3_fields(source, problems)
    if kind in RIFF_KINDS:
        found = riff_tags(source, problems)
        problems += [BEXT_LEFT_OUT] if found.bext else []  # read for a WAV output by into_riff, not through here
        return found.comments, found.bodies
    fields, bodies = flac_fields(source, problems) if kind == ".flac" else (ogg_fields(source, problems), [])
    comments, more_bodies = split_pictures(fields, problems)
    return comments, bodies + more_bodies


def into_flac(source: Path, kind: str, tmp: Path, problems: list[str]) -> Copier | None:
    """The copy of the FLAC output ``tmp`` that gives it the tags of ``source`` (None: none to give)."""
    blocks: list[FlacBlock] = (flac_tag_blocks(source, problems, flac_stream_info(tmp)) if kind == ".flac"
                               else blocks_of(*input_fields(source, kind, problems), tmp, problems))
    return (lambda src, dst: write_flac(src, dst, blocks)) if blocks else None


def into_mp3(source: Path, kind: str, tmp: Path, problems: list[str]) -> Copier | None:
    """The copy of the MP3 output ``tmp`` that gives it the ID3 tags of ``source`` (None: none to give)."""
    if kind == ".mp3":
        head, tail = id3_tags(source, problems)
    else:
        head, tail = id3v24_tag(*input_fields(source, kind, problems), problems), b""
    return (lambda src, dst: write_mp3(src, dst, head, tail)) if head or tail else None


def into_ogg(source: Path, kind: str, tmp: Path, problems: list[str]) -> Copier | None:
    """The copy of the Ogg Vorbis output ``tmp`` that gives it the comments of ``source`` (None: none to give)."""
    if kind == ".ogg":
        fields = ogg_fields(source, problems)
    else:
        comments, bodies = input_fields(source, kind, problems)
        fields = comments + [picture_comment(body) for body in bodies]
    return (lambda src, dst: write_ogg(src, dst, fields)) if fields else None


def into_riff(source: Path, kind: str, tmp: Path, problems: list[str]) -> Copier | None:
    """The copy of the WAV or AIFF output ``tmp`` that gives it chunks of the tags of ``source`` (a WAV's ``bext``
    chunk too; None: none to give, or too many bytes for the output)."""
    if kind in RIFF_KINDS:
        tags = riff_tags(source, problems)
    else:
        tags = RiffTags(*input_fields(source, kind, problems), b"")
    with open(tmp, "rb") as f:
        form = output_form(f)
        bext = bext_at_rate(tags.bext, tags.rate, wav_rate(f, form)) if tags.bext else b""
    before, after = output_chunks(form, tags._replace(bext=bext), problems)
    return (lambda src, dst: write_riff(src, dst, before, after)) if before or after else None


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

