"""A FLAC file's speaker layout: the ``WAVEFORMATEXTENSIBLE_CHANNEL_MASK`` comment (libFLAC's ``flac`` writes it
for a WAV input whose layout is not FLAC's default for its channel count; FFmpeg and libFLAC read it back), so a
5.1 WAV with side surrounds keeps them through a FLAC output and back into a WAV one.

A FLAC without the comment has the default layout of its channel count (the FLAC format, "Channels"): 1 centre;
2 left, right; 3 left, right, centre; 4 front left/right, back left/right; 5 those with a centre; 6 those with an
LFE (5.1); 7 front left/right, centre, LFE, back centre, side left/right (6.1); 8 front left/right, centre, LFE,
back left/right, side left/right (7.1).
"""
from __future__ import annotations

import os
from typing import BinaryIO

from .flac import STREAMINFO, STREAMINFO_LENGTH, VORBIS_COMMENT, first_block, vendor_of
from .vorbis import TagProblem, comment_block, comment_fields

MASK_NAME = b"WAVEFORMATEXTENSIBLE_CHANNEL_MASK"
FLAC_LAYOUTS = {1: 0x4, 2: 0x3, 3: 0x7, 4: 0x33, 5: 0x37, 6: 0x3F, 7: 0x70F, 8: 0x63F}  # speaker masks, as a WAV's
MAX_MASK = 0x3FFFF  # the 18 speaker positions a WAVE_FORMAT_EXTENSIBLE mask names


def is_mask_comment(field: bytes) -> bool:
    """Whether a Vorbis comment (``NAME=value``) is the channel mask one (names are case-insensitive)."""
    return field.split(b"=", 1)[0].upper() == MASK_NAME


def mask_of(field: bytes) -> int | None:
    """The speaker mask a ``WAVEFORMATEXTENSIBLE_CHANNEL_MASK=0x060F`` comment gives (hex or decimal), or None when
    its value is none (not a number, 0, or a bit beyond the 18 speaker positions)."""
    value = field.split(b"=", 1)[1].strip() if b"=" in field else b""
    try:
        mask = int(value.decode("ascii"), 0)
    except (UnicodeDecodeError, ValueError):
        return None
    return mask if 0 < mask <= MAX_MASK else None


def mask_comment(mask: int) -> bytes:
    """The comment naming speaker mask ``mask``, as libFLAC writes it (``0x`` and four or more hex digits)."""
    return MASK_NAME + b"=0x%04X" % mask


def flac_channel_mask(path: str | os.PathLike[str]) -> int | None:
    """A FLAC file's speaker mask: its ``WAVEFORMATEXTENSIBLE_CHANNEL_MASK`` comment's, else the default layout of
    its channel count (its STREAMINFO's); None for a file whose metadata cannot be read."""
    try:
        with open(path, "rb") as f:
            info, body = first_block(f, STREAMINFO), first_block(f, VORBIS_COMMENT)
            fields = comment_fields(body) if body is not None else []
    except (OSError, TagProblem):
        return None
    masks = [mask for mask in map(mask_of, filter(is_mask_comment, fields)) if mask is not None]
    if masks:
        return masks[0]
    if info is None or len(info) != STREAMINFO_LENGTH:
        return None
    return FLAC_LAYOUTS[((info[12] >> 1) & 0x7) + 1]  # 3 bits: channels - 1


def layout_comments(f: BinaryIO, mask: int, channels: int) -> bytes | None:
    """The body of the VORBIS_COMMENT block an open FLAC file of ``channels`` channels needs for speaker mask
    ``mask``: its own comments with one mask comment where the mask is not FLAC's default, none where it is; None
    when its block already says so."""
    body = first_block(f, VORBIS_COMMENT)
    fields = comment_fields(body) if body is not None else []
    kept = [field for field in fields if not is_mask_comment(field)]
    wanted = kept + ([] if FLAC_LAYOUTS.get(channels) == mask else [mask_comment(mask)])
    if wanted == fields:
        return None
    return comment_block(vendor_of(body), wanted)  # the block already read, not walked again
