"""Captions from metadata: instruments, drum kit, tempo, source."""
from __future__ import annotations

import re
from collections.abc import Sequence

from .gm import program_name


def _join(items: Sequence[str]) -> str:
    items = list(dict.fromkeys(i for i in items if i))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def midi_caption(programs: Sequence[int], drums: bool, bpm: float, style: str = "") -> str:
    """E.g. 'violin, cello and drums, 96 BPM, bossa nova groove'. ``programs``: GM programs heard, in
    order of prominence; ``style``: free text such as a groove or composer."""
    parts = [program_name(p) for p in programs] + (["drums"] if drums else [])
    text = _join(parts) or "silence"
    text = text[0].upper() + text[1:] + f", {round(bpm)} BPM"
    return text + (f", {style}" if style else "")


def clean_instrument_name(name: str) -> str:
    """Readable instrument name: strum names like 'Bbmajor / F4-B1' -> 'Bb major'; junk characters removed."""
    name = re.split(r"\s[/\\]|[/\\]\s|\s{2,}", name.strip(" *\\/"))[0]
    words = [w for w in re.split(r"\s+", name.replace("*", "")) if w and not re.fullmatch(r"[A-Ga-g]#?\d(-[A-Ga-g]#?\d)*", w)]
    text = " ".join(words)
    text = re.sub(r"^([A-Ga-g][#b]?)(major|minor|min|maj|m)(?=\b|\d)", lambda m: f"{m.group(1)[0].upper()}{m.group(1)[1:]} {m.group(2)}", text)
    return text.strip()


def drum_caption(kit: str, instruments: Sequence[str], bpm: float, style: str) -> str:
    """E.g. 'Drum groove on the BJA_Pacific kit: bassdrum, snare and hi hat closed, 120 BPM'; for strums the
    instruments are chord names ('Acoustic guitar strums on the ... kit: Bb major, G# min7b5, 96 BPM')."""
    what = {"groove": "Drum groove", "percussion": "Percussion pattern", "strums": "Acoustic guitar strums"}.get(style, style)
    inst = _join([clean_instrument_name(i) if style == "strums" else clean_instrument_name(i).lower() for i in instruments][:6])
    return f"{what} on the {kit} kit" + (f": {inst}" if inst else "") + f", {round(bpm)} BPM"
