"""The minimal MIDI reader/writer, tempo map, program rewriting and truncation."""
from __future__ import annotations

import pytest

from sagasr_training.corpus.midi import Event, MidiError, MidiFile, note_programs, read_midi, set_programs, truncate, write_midi


def song() -> MidiFile:
    tempo = Event(0, 0xFF, b"\x51" + (1_000_000).to_bytes(3, "big"))  # 60 BPM: 1 quarter = 1 s
    tempo2 = Event(960, 0xFF, b"\x51" + (500_000).to_bytes(3, "big"))  # 120 BPM from 2 s on
    melody = [Event(0, 0xC0, bytes([0])), Event(0, 0xB0, bytes([0, 1])), Event(0, 0x90, bytes([60, 100])),
              Event(480, 0x80, bytes([60, 0])), Event(960, 0x90, bytes([64, 90])), Event(1440, 0x90, bytes([64, 0])),
              Event(1440, 0xC1, bytes([5])), Event(1440, 0x91, bytes([67, 80])), Event(1920, 0x81, bytes([67, 0]))]
    drums = [Event(0, 0x99, bytes([36, 100])), Event(100, 0x89, bytes([36, 0]))]
    return MidiFile(480, [[tempo, tempo2], melody, drums])


def test_round_trip_and_tempo_map(tmp_path):
    midi = read_midi(write_midi(song(), tmp_path / "s.mid"))
    assert midi.division == 480 and len(midi.tracks) == 3
    assert midi.bpm() == pytest.approx(60.0)
    notes = midi.notes()
    assert [(ch, p) for ch, p, *_ in notes] == [(0, 60), (0, 64), (1, 67), (9, 36)]
    starts = {p: (s, e) for ch, p, s, e, v in notes}
    assert starts[60] == pytest.approx((0.0, 1.0))
    assert starts[64] == pytest.approx((2.0, 2.5))  # 120 BPM after tick 960
    assert starts[67] == pytest.approx((2.5, 3.0))
    assert midi.duration() == pytest.approx(3.0)


def test_set_programs_rewrites_and_adds_program_changes(tmp_path):
    out = set_programs(song(), lambda ch, old: {0: 40, 1: 41, 9: 0}[ch])
    midi = read_midi(write_midi(out, tmp_path / "p.mid"))
    assert midi.programs() == {0: [40], 1: [41], 9: [0]}
    assert not any(e.kind == 0xB0 and e.data[0] == 0 for t in midi.tracks for e in t)  # bank select dropped
    progs = {(ch, p) for ch, p, s, e in note_programs(midi)}
    assert progs == {(0, 40), (1, 41), (9, 0)}


def test_truncate_drops_later_notes_but_keeps_note_offs():
    cut = truncate(song(), 1.5)
    notes = cut.notes()
    assert [p for _, p, *_ in notes] == [60, 36]
    cut = truncate(song(), 2.2)  # the note 64 (2.0-2.5 s) is cut at 2.2 s; nothing lasts longer
    ends = {p: e for _, p, s, e, v in cut.notes()}
    assert ends[64] == pytest.approx(2.2, abs=0.01) and cut.duration() == pytest.approx(2.2, abs=0.01)


def test_bad_file_is_named(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x02\x00\x45")
    with pytest.raises(MidiError, match="bad.mid"):
        read_midi(bad)
