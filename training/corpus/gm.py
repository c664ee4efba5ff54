"""General MIDI program names and the remapping of programs to the presets a bank can play cleanly."""
from __future__ import annotations

from collections.abc import Iterable

GM_PROGRAMS = (
    "acoustic grand piano", "bright acoustic piano", "electric grand piano", "honky-tonk piano",
    "electric piano 1", "electric piano 2", "harpsichord", "clavinet",
    "celesta", "glockenspiel", "music box", "vibraphone", "marimba", "xylophone", "tubular bells", "dulcimer",
    "drawbar organ", "percussive organ", "rock organ", "church organ", "reed organ", "accordion", "harmonica",
    "tango accordion",
    "nylon-string guitar", "steel-string guitar", "jazz guitar", "clean electric guitar", "muted electric guitar",
    "overdriven guitar", "distortion guitar", "guitar harmonics",
    "acoustic bass", "fingered bass", "picked bass", "fretless bass", "slap bass 1", "slap bass 2",
    "synth bass 1", "synth bass 2",
    "violin", "viola", "cello", "contrabass", "tremolo strings", "pizzicato strings", "orchestral harp", "timpani",
    "string ensemble 1", "string ensemble 2", "synth strings 1", "synth strings 2", "choir aahs", "voice oohs",
    "synth voice", "orchestra hit",
    "trumpet", "trombone", "tuba", "muted trumpet", "french horn", "brass section", "synth brass 1", "synth brass 2",
    "soprano sax", "alto sax", "tenor sax", "baritone sax", "oboe", "english horn", "bassoon", "clarinet",
    "piccolo", "flute", "recorder", "pan flute", "blown bottle", "shakuhachi", "whistle", "ocarina",
    "square lead", "sawtooth lead", "calliope lead", "chiff lead", "charang lead", "voice lead", "fifths lead",
    "bass and lead",
    "new age pad", "warm pad", "polysynth pad", "choir pad", "bowed pad", "metallic pad", "halo pad", "sweep pad",
    "rain effect", "soundtrack effect", "crystal effect", "atmosphere effect", "brightness effect",
    "goblins effect", "echoes effect", "sci-fi effect",
    "sitar", "banjo", "shamisen", "koto", "kalimba", "bagpipe", "fiddle", "shanai",
    "tinkle bell", "agogo", "steel drums", "woodblock", "taiko drum", "melodic tom", "synth drum", "reverse cymbal",
    "guitar fret noise", "breath noise", "seashore", "bird tweet", "telephone ring", "helicopter", "applause",
    "gunshot",
)
assert len(GM_PROGRAMS) == 128

GM_FAMILIES = ("piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed",
               "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects")
MELODIC_FOR_RANDOM = tuple(p for p in range(120))  # programs drawn for un-orchestrated pieces (no sound effects)


def program_name(program: int) -> str:
    """GM name of a program 0-127; raises ValueError otherwise."""
    if not 0 <= program < 128:
        raise ValueError(f"GM program must be in 0..127, got {program}")
    return GM_PROGRAMS[program]


def program_map(available: Iterable[int]) -> dict[int, int]:
    """{program: playable program} for all 128 programs: itself when available, else the nearest available
    program of the same GM family (8 programs), else the nearest available program overall (ties: lower)."""
    avail = sorted(set(available))
    if not avail:
        raise ValueError("no playable melodic program in the bank")
    out = {}
    for p in range(128):
        family = [q for q in avail if q // 8 == p // 8]
        pool = family or avail
        out[p] = min(pool, key=lambda q: (abs(q - p), q))
    return out
