"""A minimal Standard MIDI File reader/writer: events, tempo map, notes per channel, program rewriting.

Events keep their raw bytes, so reading then writing a file reproduces its musical content exactly.
Times: ``tick`` (absolute, per track) and seconds from the file's tempo map (all tracks' tempo events).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

DRUM_CHANNEL = 9
DEFAULT_TEMPO_US = 500_000  # 120 BPM


class MidiError(ValueError):
    """A malformed or unsupported MIDI file."""


@dataclass
class Event:
    """One event: ``status`` (0x80-0xEF channel, 0xF0/0xF7 sysex, 0xFF meta), ``data`` (the bytes after the
    status; for meta: type byte + payload, without the length)."""

    tick: int
    status: int
    data: bytes

    @property
    def channel(self) -> int | None:
        return self.status & 0x0F if 0x80 <= self.status < 0xF0 else None

    @property
    def kind(self) -> int:
        return self.status & 0xF0 if self.status < 0xF0 else self.status


@dataclass
class MidiFile:
    division: int  # ticks per quarter note
    tracks: list[list[Event]] = field(default_factory=list)
    fmt: int = 1

    def tempo_map(self) -> list[tuple[int, int]]:
        """[(tick, microseconds per quarter)] sorted, starting at tick 0."""
        changes = {0: DEFAULT_TEMPO_US}
        for track in self.tracks:
            for e in track:
                if e.status == 0xFF and e.data[:1] == b"\x51" and len(e.data) >= 4:
                    changes[e.tick] = int.from_bytes(e.data[1:4], "big")
        return sorted(changes.items())

    def seconds(self, ticks: list[int]) -> list[float]:
        """Absolute ticks -> seconds through the tempo map."""
        tmap = self.tempo_map()
        out = []
        for t in ticks:
            sec, prev_tick, tempo = 0.0, 0, DEFAULT_TEMPO_US
            for tick, us in tmap:
                if tick > t:
                    break
                sec += (tick - prev_tick) * tempo / 1e6 / self.division
                prev_tick, tempo = tick, us
            out.append(sec + (t - prev_tick) * tempo / 1e6 / self.division)
        return out

    def bpm(self) -> float:
        """Tempo in BPM at tick 0 (or of the first tempo event; 120 when there is none)."""
        tmap = self.tempo_map()
        has_zero = any(e.tick == 0 and e.status == 0xFF and e.data[:1] == b"\x51" for t in self.tracks for e in t)
        us = tmap[0][1] if has_zero or len(tmap) == 1 else tmap[1][1]
        return 60e6 / us

    def notes(self) -> list[tuple[int, int, float, float, int]]:
        """(channel, pitch, start s, end s, velocity) of every note; unterminated notes end at the last event."""
        raw: list[tuple[int, int, int, int | None, int]] = []  # (channel, pitch, start tick, end tick, velocity)
        last_tick = 0
        for track in self.tracks:
            open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
            for e in track:
                last_tick = max(last_tick, e.tick)
                ch = e.channel
                if ch is None:  # meta and sysex events: no notes
                    continue
                if e.kind == 0x90 and len(e.data) >= 2 and e.data[1] > 0:
                    open_notes.setdefault((ch, e.data[0]), []).append((e.tick, e.data[1]))
                elif e.kind == 0x80 or (e.kind == 0x90 and len(e.data) >= 2 and e.data[1] == 0):
                    stack = open_notes.get((ch, e.data[0]))
                    if stack:
                        start, vel = stack.pop(0)
                        raw.append((ch, e.data[0], start, e.tick, vel))
            for (ch, pitch), stack in open_notes.items():
                raw += [(ch, pitch, start, None, vel) for start, vel in stack]
        ticks = sorted({r[2] for r in raw} | {r[3] for r in raw if r[3] is not None} | {last_tick})
        sec = dict(zip(ticks, self.seconds(ticks)))
        return sorted((ch, p, sec[s], sec[e if e is not None else last_tick], v) for ch, p, s, e, v in raw)

    def programs(self) -> dict[int, list[int]]:
        """{channel: programs set on it, in order}; channels with notes but no program change get [0]."""
        out: dict[int, list[int]] = {}
        for track in self.tracks:
            for e in track:
                if e.kind == 0xC0 and e.channel is not None:
                    out.setdefault(e.channel, []).append(e.data[0])
        for ch, *_ in self.notes():
            out.setdefault(ch, [0])
        return out

    def duration(self) -> float:
        """Seconds to the last event."""
        last = max((e.tick for t in self.tracks for e in t), default=0)
        return self.seconds([last])[0]


def _varlen(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if pos >= len(data):
            raise MidiError("truncated variable-length quantity")
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos
    raise MidiError("variable-length quantity longer than 4 bytes")


def _enc_varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


def _parse_track(data: bytes) -> list[Event]:
    events, pos, tick, running = [], 0, 0, 0
    while pos < len(data):
        delta, pos = _varlen(data, pos)
        tick += delta
        if pos >= len(data):
            raise MidiError("track ends inside an event")
        status = data[pos]
        if status & 0x80:
            pos += 1
        elif running:
            status = running
        else:
            raise MidiError(f"data byte {status:#x} without running status")
        if status == 0xFF:
            mtype = data[pos]
            length, pos = _varlen(data, pos + 1)
            events.append(Event(tick, status, bytes([mtype]) + data[pos : pos + length]))
            pos += length
            if mtype == 0x2F:
                break
        elif status in (0xF0, 0xF7):
            length, pos = _varlen(data, pos)
            events.append(Event(tick, status, data[pos : pos + length]))
            pos += length
        elif status >= 0xF0:
            raise MidiError(f"unexpected system message {status:#x} in a file")
        else:
            running = status
            n = _DATA_LEN[status & 0xF0]
            events.append(Event(tick, status, data[pos : pos + n]))
            pos += n
    return events


def read_midi(path: str | Path) -> MidiFile:
    """Parse a Standard MIDI File (format 0 or 1, ticks-per-quarter division)."""
    data = Path(path).read_bytes()
    if data[:4] != b"MThd" or len(data) < 14:
        raise MidiError(f"{path}: not a Standard MIDI File")
    hlen, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if division & 0x8000:
        raise MidiError(f"{path}: SMPTE time division is not supported")
    pos = 8 + hlen
    tracks: list[list[Event]] = []
    while pos + 8 <= len(data) and len(tracks) < ntracks:
        cid, size = struct.unpack(">4sI", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        pos += 8 + size
        if cid != b"MTrk":
            continue
        try:
            tracks.append(_parse_track(body))
        except (MidiError, IndexError, KeyError) as exc:
            raise MidiError(f"{path}: track {len(tracks)}: {exc}") from exc
    return MidiFile(division, tracks, fmt)


def write_midi(midi: MidiFile, path: str | Path) -> Path:
    """Write ``midi`` as a format-1 file (no running status)."""
    path = Path(path)
    chunks = [struct.pack(">4sIHHH", b"MThd", 6, 1 if len(midi.tracks) > 1 else midi.fmt, len(midi.tracks), midi.division)]
    for track in midi.tracks:
        out, prev = bytearray(), 0
        ended = False
        for e in sorted(track, key=lambda ev: ev.tick):
            out += _enc_varlen(e.tick - prev)
            prev = e.tick
            if e.status == 0xFF:
                out += bytes([0xFF, e.data[0]]) + _enc_varlen(len(e.data) - 1) + e.data[1:]
                ended = ended or e.data[0] == 0x2F
            elif e.status in (0xF0, 0xF7):
                out += bytes([e.status]) + _enc_varlen(len(e.data)) + e.data
            else:
                out += bytes([e.status]) + e.data
        if not ended:
            out += b"\x00\xff\x2f\x00"
        chunks.append(struct.pack(">4sI", b"MTrk", len(out)) + bytes(out))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(chunks))
    return path


def tick_at(midi: MidiFile, seconds: float) -> int:
    """The first tick at or after ``seconds`` through the tempo map."""
    tmap = midi.tempo_map()
    elapsed = 0.0
    for i, (tick, us) in enumerate(tmap):
        nxt = tmap[i + 1][0] if i + 1 < len(tmap) else None
        span = (nxt - tick) * us / 1e6 / midi.division if nxt is not None else float("inf")
        if elapsed + span >= seconds:
            return tick + int(np.ceil((seconds - elapsed) * 1e6 * midi.division / us))
        elapsed += span
    return 0


def truncate(midi: MidiFile, seconds: float) -> MidiFile:
    """A copy without events after ``seconds``; notes still sounding then are ended at ``seconds``."""
    limit = tick_at(midi, seconds)
    tracks = []
    for track in midi.tracks:
        keep = []
        for e in track:
            note_off = e.kind == 0x80 or (e.kind == 0x90 and len(e.data) >= 2 and e.data[1] == 0)
            if e.tick <= limit:
                keep.append(e)
            elif note_off:
                keep.append(Event(limit, e.status, e.data))
        tracks.append(keep)
    return MidiFile(midi.division, tracks, midi.fmt)


def set_programs(midi: MidiFile, choose: Callable[[int, int], int], drop_bank_select: bool = True) -> MidiFile:
    """A copy with every program replaced by ``choose(channel, old program)`` (0-127).

    Channels that play notes without a program change get one at tick 0 (old program 0). Bank-select
    controllers (0 and 32) are removed on melodic channels when ``drop_bank_select``, so only bank 0
    presets are used (the drum channel 9 keeps fluidsynth's drum bank).
    """
    tracks = []
    seen: set[int] = set()
    for track in midi.tracks:
        new = []
        for e in track:
            ch = e.channel
            if ch is not None:
                if e.kind == 0xC0:
                    program = choose(ch, e.data[0])
                    if not 0 <= program < 128:
                        raise MidiError(f"program {program} for channel {ch} is outside 0..127")
                    e = Event(e.tick, e.status, bytes([program]))
                    seen.add(ch)
                elif drop_bank_select and ch != DRUM_CHANNEL and e.kind == 0xB0 and e.data[0] in (0, 32):
                    continue
            new.append(e)
        tracks.append(new)
    missing = sorted({n[0] for n in midi.notes()} - seen)
    if missing:
        if not tracks:
            tracks.append([])
        tracks[0] = [Event(0, 0xC0 | ch, bytes([choose(ch, 0)])) for ch in missing] + tracks[0]
    return MidiFile(midi.division, tracks, midi.fmt)


def note_programs(midi: MidiFile) -> list[tuple[int, int, float, float]]:
    """(channel, program in effect at the note's start, start s, end s) for every note."""
    changes: dict[int, list[tuple[int, int]]] = {}
    for track in midi.tracks:
        for e in track:
            if e.kind == 0xC0 and e.channel is not None:
                changes.setdefault(e.channel, []).append((e.tick, e.data[0]))
    ticks = sorted({t for lst in changes.values() for t, _ in lst})
    sec = dict(zip(ticks, midi.seconds(ticks)))
    timeline = {ch: sorted((sec[t], p) for t, p in lst) for ch, lst in changes.items()}
    out = []
    for ch, _pitch, start, end, _vel in midi.notes():
        program = 0
        for t, p in timeline.get(ch, []):
            if t <= start + 1e-9:
                program = p
        out.append((ch, program, start, end))
    return out
