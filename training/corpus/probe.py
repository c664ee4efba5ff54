"""Probe a bank's melodic presets: render a test phrase per program and keep those with a real top band.

Some presets have >= 44.1 kHz samples and still no top band (dull samples or the preset's own low-pass
filter); using them only wastes rendering time, since their clips fail the bandwidth check.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from .bandwidth import measure
from .midi import Event, MidiFile, write_midi
from .render import SAMPLE_RATE, render_midi

PHRASE_SECONDS = 2.0
GAP_SECONDS = 1.0
DIVISION = 480  # ticks per quarter at 120 BPM: 960 ticks per second
PITCHES = (48, 55, 60, 64, 67, 72, 76, 79, 84)


def probe_midi(programs: list[int]) -> MidiFile:
    """One channel-0 track: for each program, a program change and an arpeggio over 3 octaves lasting
    PHRASE_SECONDS, then GAP_SECONDS of silence."""
    per_sec = 2 * DIVISION
    events = []
    slot = int((PHRASE_SECONDS + GAP_SECONDS) * per_sec)
    note = int(PHRASE_SECONDS * per_sec / len(PITCHES))
    for i, program in enumerate(programs):
        t0 = i * slot
        events.append(Event(t0, 0xC0, bytes([program])))
        for j, pitch in enumerate(PITCHES):
            start = t0 + j * note
            events.append(Event(start, 0x90, bytes([pitch, 100])))
            events.append(Event(min(start + 2 * note, t0 + int(PHRASE_SECONDS * per_sec)), 0x80, bytes([pitch, 0])))
    events.sort(key=lambda e: (e.tick, e.status == 0x90))
    return MidiFile(DIVISION, [events])


def probe_programs(bank: Path, programs: list[int]) -> dict[int, dict]:
    """{program: bandwidth record (Bandwidth.as_dict())} of each program's test phrase (no reverb)."""
    with tempfile.TemporaryDirectory(prefix="corpus_probe_") as tmp:
        path = write_midi(probe_midi(programs), Path(tmp) / "probe.mid")
        audio = render_midi(path, bank, Path(tmp) / "probe.wav", reverb=False)
    slot = int((PHRASE_SECONDS + GAP_SECONDS) * SAMPLE_RATE)
    out = {}
    for i, program in enumerate(programs):
        seg = audio[i * slot : i * slot + int(PHRASE_SECONDS * SAMPLE_RATE)]
        out[program] = measure(seg, SAMPLE_RATE).as_dict() if seg.size and abs(seg).max() > 0 else {"ok": False, "silent": True}
    return out
